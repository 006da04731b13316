"""Credentials: bearer tokens verified once and remembered until they expire, the partner claim, API keys."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from pathlib import Path

import pytest

from tests.security.support import AUDIENCE, ISSUER, Keys, make_keys
from tmfgate.errors import ConfigurationError
from tmfgate.security.credentials import LEEWAY, ApiKeys, InvalidCredentials, KeySet, Tokens


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


def test_a_remembered_token_is_refused_once_it_expires(keys: Keys) -> None:
    tokens = Tokens(KeySet(str(keys.jwks)), issuer=ISSUER, audience=AUDIENCE, partner_claim="")
    token = keys.token("partner-a", exp=int(time.time()) - LEEWAY + 2)  # valid for 1 to 2 more seconds

    async def twice() -> None:
        assert (await tokens.principal(token)).partner == "partner-a"
        assert (await tokens.principal(token)).partner == "partner-a"  # remembered
        await asyncio.sleep(2.5)
        with pytest.raises(InvalidCredentials, match="expired"):
            await tokens.principal(token)

    asyncio.run(twice())


def test_the_partner_claim_can_be_chosen(keys: Keys) -> None:
    tokens = Tokens(KeySet(str(keys.jwks)), issuer=ISSUER, audience=AUDIENCE, partner_claim="client_id")
    chosen = asyncio.run(tokens.principal(keys.token("by-azp", client_id="by-client-id")))
    assert chosen.partner == "by-client-id"
    with pytest.raises(InvalidCredentials, match="client_id"):
        asyncio.run(tokens.principal(keys.token("by-azp")))
    default = Tokens(KeySet(str(keys.jwks)), issuer=ISSUER, audience=AUDIENCE, partner_claim="")
    assert asyncio.run(default.principal(keys.token("by-azp", client_id="x"))).partner == "by-azp"
    assert asyncio.run(default.principal(keys.token("p", azp=None))).partner == "svc-p"  # sub


def test_api_keys_are_found_by_their_hash_and_a_bad_file_fails_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    digest = hashlib.sha256(b"the-key").hexdigest()
    path.write_text(json.dumps([{"sha256": digest.upper(), "partner": "acme", "scopes": "tmf622:read tmf622:write"}]))
    principal = ApiKeys(str(path)).principal("the-key")
    assert principal.partner == "acme" and principal.scopes == {"tmf622:read", "tmf622:write"}
    with pytest.raises(InvalidCredentials):
        ApiKeys(str(path)).principal("another-key")
    path.write_text(json.dumps([{"sha256": "abc", "partner": "acme"}]))
    with pytest.raises(ConfigurationError, match="64-character"):
        ApiKeys(str(path))
    path.write_text("not json")
    with pytest.raises(ConfigurationError, match="cannot be read"):
        ApiKeys(str(path))


def test_a_key_set_that_is_not_one_fails_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text('{"keys": [{"kty": "nonsense"}]}')
    with pytest.raises(ConfigurationError, match="not a usable JSON Web Key Set"):
        KeySet(str(path))
