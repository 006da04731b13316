"""The security step over HTTP: bearer tokens checked against the suite's JWKS file, API keys, scopes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests

from tests.conftest import RunningGateway
from tests.security.support import AUDIENCE, ISSUER, Keys, api_key_file, bearer, jwk, make_keys
from tmfgate.errors import ConfigurationError
from tmfgate.security.guard import Security
from tmfgate.settings import Settings

CUSTOMER = "/tmf-api/customerManagement/v4/customer"
HUB = "/tmf-api/customerManagement/v4/hub"
ADMIN = "/tmfgate/admin/v1/delivery"
NEW_CUSTOMER = {"name": "Ada", "engagedParty": {"id": "p-1", "@referredType": "Individual"}}
API_KEY = "k-partner-c-0123456789abcdef"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def secured(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    folder = tmp_path_factory.mktemp("apikeys")
    key_file = api_key_file(folder, {API_KEY: ("partner-c", "tmf629:read tmf629:write")})
    settings = {"auth": "jwt,apikey", "jwks": str(keys.jwks), "issuer": ISSUER, "audience": AUDIENCE}
    with RunningGateway("memory://", fulfilment=False, api_keys=str(key_file), **settings) as running:
        yield running


def _error(answer: requests.Response, status: int) -> dict[str, str]:
    assert answer.status_code == status, answer.text
    body: dict[str, str] = answer.json()
    assert body["@type"] == "Error" and body["status"] == str(status)
    return body


def test_no_credentials_is_401_with_a_challenge_for_each_method(secured: RunningGateway) -> None:
    answer = requests.get(secured.url + CUSTOMER, timeout=10)
    _error(answer, 401)
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="tmfgate"') and "ApiKey" in challenge


def test_a_valid_token_reads_and_writes(secured: RunningGateway, keys: Keys) -> None:
    headers = bearer(keys.token("partner-a"))
    created = requests.post(secured.url + CUSTOMER, json=NEW_CUSTOMER, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    assert requests.get(created.headers["Location"], headers=headers, timeout=10).status_code == 200


def test_an_es256_token_is_accepted(secured: RunningGateway, keys: Keys) -> None:
    answer = requests.get(secured.url + CUSTOMER, headers=bearer(keys.token("partner-a", alg="ES256")), timeout=10)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
        ({"iss": "https://someone.else.example"}, "issuer"),
        ({"aud": "another-gateway"}, "audience"),
        ({"exp": None}, "invalid"),
        ({"kid": "unknown-kid"}, "signing key"),
        ({"azp": None, "sub": None}, "names no partner"),
    ],
)
def test_a_bad_token_is_401(secured: RunningGateway, keys: Keys, claims: dict[str, object], why: str) -> None:
    token = keys.token("partner-a", **claims)
    answer = requests.get(secured.url + CUSTOMER, headers=bearer(token), timeout=10)
    assert why in _error(answer, 401)["message"]
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    assert token not in answer.text


def test_a_token_signed_by_another_key_or_with_a_shared_secret_is_401(secured: RunningGateway, tmp_path: Path) -> None:
    other = make_keys(tmp_path)
    forged = other.token("partner-a")  # same kid, another key
    assert _error(requests.get(secured.url + CUSTOMER, headers=bearer(forged), timeout=10), 401)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "azp": "partner-a", "exp": now + 60, "scope": "tmf629:read"}
    hs256 = jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": "rsa-1"})
    assert _error(requests.get(secured.url + CUSTOMER, headers=bearer(hs256), timeout=10), 401)
    assert _error(requests.get(secured.url + CUSTOMER, headers=bearer("not.a.jwt"), timeout=10), 401)


def test_without_the_scope_is_403_and_read_does_not_allow_write(secured: RunningGateway, keys: Keys) -> None:
    reader = bearer(keys.token("partner-a", "tmf629:read"))
    assert requests.get(secured.url + CUSTOMER, headers=reader, timeout=10).status_code == 200
    answer = requests.post(secured.url + CUSTOMER, json=NEW_CUSTOMER, headers=reader, timeout=10)
    assert "tmf629:write" in _error(answer, 403)["message"]
    assert 'error="insufficient_scope", scope="tmf629:write"' in answer.headers["WWW-Authenticate"]
    hub = requests.post(secured.url + HUB, json={"callback": "http://127.0.0.1:9/x"}, headers=reader, timeout=10)
    _error(hub, 403)
    other_api = bearer(keys.token("partner-a", "tmf622:read tmf622:write"))
    _error(requests.get(secured.url + CUSTOMER, headers=other_api, timeout=10), 403)


def test_the_operator_api_needs_the_admin_scope(secured: RunningGateway, keys: Keys) -> None:
    _error(requests.get(secured.url + ADMIN, headers=bearer(keys.token("ops")), timeout=10), 403)
    admin = bearer(keys.token("ops", "tmfgate:admin"))
    assert requests.get(secured.url + ADMIN, headers=admin, timeout=10).status_code == 200


def test_api_keys_authenticate_by_their_hash(secured: RunningGateway) -> None:
    good = {"X-API-Key": API_KEY}
    assert requests.get(secured.url + CUSTOMER, headers=good, timeout=10).status_code == 200
    answer = requests.get(secured.url + CUSTOMER, headers={"X-API-Key": API_KEY + "x"}, timeout=10)
    assert "API key is not known" in _error(answer, 401)["message"]
    assert API_KEY not in Path(secured.gateway.settings.api_keys).read_text()


def test_a_rotated_key_is_read_again_on_an_unknown_kid(
    keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk(keys.rsa.public_key(), "old", "RS256")]}))
    settings = {"auth": "jwt", "jwks": str(jwks), "issuer": ISSUER, "audience": AUDIENCE}
    monkeypatch.setattr("tmfgate.security.credentials.REFRESH_INTERVAL", 0.0)
    with RunningGateway("memory://", fulfilment=False, **settings) as running:
        token = keys.token("partner-a", kid="new")
        assert requests.get(running.url + CUSTOMER, headers=bearer(token), timeout=10).status_code == 401
        jwks.write_text(json.dumps({"keys": [jwk(keys.rsa.public_key(), "new", "RS256")]}))
        assert requests.get(running.url + CUSTOMER, headers=bearer(token), timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({"auth": "jwt", "issuer": ISSUER, "audience": AUDIENCE}, "--jwks"),
        ({"auth": "apikey"}, "--api-keys"),
        ({"auth": "jwt", "jwks": "/nonexistent/jwks.json", "issuer": ISSUER, "audience": AUDIENCE}, "no such file"),
    ],
)
def test_incomplete_options_fail_at_start_up(settings: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigurationError, match=missing):
        Security(Settings(database_url="memory://", **settings))


def test_an_idempotency_key_is_each_partners_own(secured: RunningGateway, keys: Keys) -> None:
    key = {"Idempotency-Key": "order-42"}
    a = requests.post(secured.url + CUSTOMER, json=NEW_CUSTOMER, headers={**key, **bearer(keys.token("a"))}, timeout=10)
    b = requests.post(secured.url + CUSTOMER, json=NEW_CUSTOMER, headers={**key, **bearer(keys.token("b"))}, timeout=10)
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]
    assert "Idempotent-Replayed" not in b.headers


def test_the_key_set_can_come_from_a_url(keys: Keys) -> None:
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(keys.jwks.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{keys.jwks.name}"
        settings = {"auth": "jwt", "jwks": url, "issuer": ISSUER, "audience": AUDIENCE}
        with RunningGateway("memory://", fulfilment=False, **settings) as running:
            answer = requests.get(running.url + CUSTOMER, headers=bearer(keys.token("partner-a")), timeout=10)
            assert answer.status_code == 200, answer.text
            assert requests.get(running.url + CUSTOMER, headers=bearer("x.y.z"), timeout=10).status_code == 401
    finally:
        server.shutdown()
        server.server_close()
