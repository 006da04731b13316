"""Checking credentials: bearer tokens (JWT, RS256/ES256) against a JWKS, and API keys from a file.

The key set is read once and kept; a token naming a ``kid`` it lacks makes it read again, at most
every :data:`REFRESH_INTERVAL` seconds, so a rotated key is picked up without a restart and a flood
of made-up ``kid``s cannot make the gateway hammer the key server. A token once verified is
remembered until it expires (at most :data:`REMEMBERED` seconds): a client sends the same token
with every request, and verifying its signature each time cost more than the rest of a POST.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import jwt

from tmfgate.errors import ConfigurationError
from tmfgate.security.principals import Principal

ALGORITHMS = ["RS256", "ES256"]
REFRESH_INTERVAL = 30.0  # seconds between two reads of the key set on unknown kids
LEEWAY = 30  # seconds of clock skew forgiven on exp and nbf
PARTNER_CLAIMS = ("azp", "client_id", "sub")
REMEMBERED = 300.0  # seconds a verified token is trusted without checking its signature again
MOST_REMEMBERED = 10_000  # tokens remembered at once, the oldest forgotten first


class InvalidCredentials(Exception):
    """Credentials that do not authenticate; the message says why, without their content."""


class KeySet:
    """The JSON Web Key Set of a file or an http(s) URL, kept in memory."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()
        if not self._remote:
            self._keys = _parse(Path(source).read_bytes() if Path(source).is_file() else _missing(source), source)
            self._read_at = time.monotonic()

    @property
    def _remote(self) -> bool:
        return self.source.startswith(("http://", "https://"))

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The key a token names (the only key when it names none)."""
        found = self._find(kid)
        if found is None and time.monotonic() - self._read_at >= REFRESH_INTERVAL:
            async with self._lock:
                if time.monotonic() - self._read_at >= REFRESH_INTERVAL:
                    await self._refresh()
            found = self._find(kid)
        if found is None:
            raise InvalidCredentials("the token's signing key is not in the key set")
        return found

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        self._read_at = time.monotonic()  # a failed read waits its turn too
        try:
            if self._remote:
                async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
                    answer = await client.get(self.source)
                    answer.raise_for_status()
                    raw = answer.content
            else:
                raw = await asyncio.to_thread(Path(self.source).read_bytes)
            self._keys = _parse(raw, self.source)
        except (OSError, httpx.HTTPError, ConfigurationError) as exc:
            raise InvalidCredentials(f"the key set cannot be read ({type(exc).__name__})") from None


def _missing(source: str) -> bytes:
    raise ConfigurationError(f"--jwks {source}: no such file; give a JWKS file or an http(s) URL.")


def _parse(raw: bytes, source: str) -> dict[str | None, jwt.PyJWK]:
    try:
        keys = jwt.PyJWKSet.from_json(raw.decode()).keys
    except (ValueError, jwt.PyJWTError) as exc:
        raise ConfigurationError(f"--jwks {source} is not a usable JSON Web Key Set: {exc}") from None
    return {key.key_id: key for key in keys if key.algorithm_name in ALGORITHMS or key.algorithm_name is None}


class Tokens:
    """Bearer tokens signed by the key set, for this issuer and audience."""

    def __init__(self, keys: KeySet, *, issuer: str, audience: str, partner_claim: str) -> None:
        self.keys, self.issuer, self.audience = keys, issuer, audience
        self.partner_claims = (partner_claim,) if partner_claim else PARTNER_CLAIMS
        self._verified: dict[str, tuple[Principal, float]] = {}  # token -> principal, valid until

    async def principal(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None:
            if time.time() < remembered[1]:
                return remembered[0]
            del self._verified[token]
        principal, claims = await self._verify(token)
        if len(self._verified) >= MOST_REMEMBERED:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, min(float(claims["exp"]) + LEEWAY, time.time() + REMEMBERED))
        return principal

    async def _verify(self, token: str) -> tuple[Principal, dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidCredentials("the bearer token is not a JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise InvalidCredentials(f"tokens must be signed with {' or '.join(ALGORITHMS)}")
        key = await self.keys.key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                audience=self.audience,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidCredentials("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidCredentials("the token is not valid yet") from None
        except jwt.InvalidIssuerError:
            raise InvalidCredentials("the token is not from the expected issuer") from None
        except jwt.InvalidAudienceError:
            raise InvalidCredentials("the token is not for this gateway's audience") from None
        except jwt.PyJWTError as exc:
            raise InvalidCredentials(f"the token is invalid ({type(exc).__name__})") from None
        partner = next((str(claims[c]) for c in self.partner_claims if claims.get(c)), None)
        if partner is None:
            raise InvalidCredentials(f"the token names no partner ({' or '.join(self.partner_claims)})")
        return Principal(partner, _scopes(claims.get("scope", claims.get("scp")))), claims


class ApiKeys:
    """API keys by the SHA-256 of the key (hex): the file never holds a key itself."""

    def __init__(self, path: str) -> None:
        try:
            entries = json.loads(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"--api-keys {path} cannot be read as JSON: {exc}") from None
        if isinstance(entries, Mapping):
            entries = entries.get("keys", [])
        if not isinstance(entries, list):
            raise ConfigurationError(f'--api-keys {path} must hold a list of keys, or {{"keys": [...]}}.')
        self._by_hash: dict[str, Principal] = {}
        for number, entry in enumerate(entries, 1):
            digest = str(entry.get("sha256", "")).lower() if isinstance(entry, Mapping) else ""
            partner = entry.get("partner") if isinstance(entry, Mapping) else None
            if len(digest) != 64 or not partner:
                raise ConfigurationError(
                    f"--api-keys {path}: entry {number} needs a 64-character hex 'sha256' and a 'partner'."
                )
            self._by_hash[digest] = Principal(str(partner), _scopes(entry.get("scopes")))

    def principal(self, key: str) -> Principal:
        found = self._by_hash.get(hashlib.sha256(key.encode()).hexdigest())
        if found is None:
            raise InvalidCredentials("the API key is not known")
        return found


def _scopes(value: Any) -> frozenset[str]:
    """A ``scope`` claim: space-separated text (RFC 8693), or a list."""
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(str(item) for item in value)
    return frozenset()


__all__ = ["ALGORITHMS", "ApiKeys", "InvalidCredentials", "KeySet", "Tokens"]
