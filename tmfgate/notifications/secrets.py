"""Hub secrets kept encrypted at rest (security review F-22): Fernet (AES-128-CBC with HMAC-SHA256,
from ``cryptography``) under the operator's ``hub_secret_key``. Signing needs the secret itself,
so it is decrypted for each delivery, never stored or shown in the clear."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from tmfgate.errors import BadRequest

SEALED = "fernet:"  # the prefix of an encrypted secret; a stored secret without it predates encryption


def parse_key(raw: str) -> str:
    """A Fernet key (32 url-safe base64 bytes, as ``Fernet.generate_key()`` makes), or none."""
    value = raw.strip()
    if value:
        try:
            Fernet(value.encode())
        except (ValueError, TypeError):
            raise ValueError(
                "must be a Fernet key: 32 bytes in url-safe base64, such as the output of "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            ) from None
    return value


def seal(secret: str, key: str) -> str:
    """``secret`` encrypted for storage; a 400 when the operator configured no key."""
    if not key:
        raise BadRequest(
            "This gateway cannot keep a hub secret: its operator has set no --hub-secret-key. "
            "Subscribe without a secret, or ask the operator to set one."
        )
    return SEALED + Fernet(key.encode()).encrypt(secret.encode()).decode("ascii")


def unseal(stored: str | None, key: str) -> str | None:
    """The secret a subscription signs with, or None; ValueError when it cannot be decrypted with
    ``key`` (the delivery fails, rather than go out unsigned)."""
    if not stored or not stored.startswith(SEALED):
        return stored or None
    try:
        return Fernet(key.encode()).decrypt(stored[len(SEALED) :].encode("ascii")).decode()
    except (InvalidToken, ValueError):
        raise ValueError("the subscription's secret cannot be decrypted with this gateway's --hub-secret-key") from None
