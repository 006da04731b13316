"""Hub secrets sealed with Fernet under the operator's key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from tmfgate.errors import BadRequest
from tmfgate.notifications.secrets import SEALED, parse_key, seal, unseal

KEY = Fernet.generate_key().decode()


def test_a_sealed_secret_opens_with_its_key_only() -> None:
    sealed = seal("s3cr3t", KEY)
    assert sealed.startswith(SEALED) and "s3cr3t" not in sealed and sealed != seal("s3cr3t", KEY)  # random IV
    assert unseal(sealed, KEY) == "s3cr3t"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        unseal(sealed, Fernet.generate_key().decode())
    with pytest.raises(ValueError, match="cannot be decrypted"):
        unseal(sealed, "")


def test_no_key_no_secret_and_older_plain_secrets_still_sign() -> None:
    with pytest.raises(BadRequest, match="--hub-secret-key"):
        seal("s3cr3t", "")
    assert unseal("plain-from-before", KEY) == "plain-from-before" and unseal(None, KEY) is None


def test_a_key_must_be_a_fernet_key() -> None:
    assert parse_key(f" {KEY} ") == KEY and parse_key("") == ""
    with pytest.raises(ValueError, match="Fernet key"):
        parse_key("not-a-key")
