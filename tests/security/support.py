"""The suite's own signing keys, JWKS file, tokens and API key file: no network, no shared secrets."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://idp.test.example"
AUDIENCE = "tmfgate-test"
EVERY_API = ("tmf620", "tmf622", "tmf629", "tmf632", "tmf633", "tmf637", "tmf638", "tmf639", "tmf640", "tmf641")
EVERY_API += ("tmf621", "tmf635", "tmf642", "tmf666", "tmf676", "tmf678")
ALL_SCOPES = " ".join(f"{api}:{access}" for api in EVERY_API for access in ("read", "write"))


@dataclass
class Keys:
    """An RSA and an EC key pair, published in a JWKS file."""

    rsa: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey
    jwks: Path

    def token(self, partner: str, scope: str = ALL_SCOPES, *, alg: str = "RS256", **claims: Any) -> str:
        kid = claims.pop("kid", None)
        now = int(time.time())
        payload: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "azp": partner, "sub": f"svc-{partner}"}
        payload.update({"iat": now, "exp": now + 300, "scope": scope})
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        key, own_kid = (self.rsa, "rsa-1") if alg == "RS256" else (self.ec, "ec-1")
        return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid or own_kid})


def jwk(public: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
    return {**json.loads(algorithm.to_jwk(public)), "kid": kid, "alg": alg, "use": "sig"}


def make_keys(folder: Path) -> Keys:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    path = folder / "jwks.json"
    keys = [jwk(rsa_key.public_key(), "rsa-1", "RS256"), jwk(ec_key.public_key(), "ec-1", "ES256")]
    path.write_text(json.dumps({"keys": keys}))
    return Keys(rsa_key, ec_key, path)


def api_key_file(folder: Path, keys: dict[str, tuple[str, str]]) -> Path:
    """A key file for ``{key: (partner, scopes)}``: only hashes are written."""
    entries = [
        {"sha256": hashlib.sha256(key.encode()).hexdigest(), "partner": partner, "scopes": scopes.split()}
        for key, (partner, scopes) in keys.items()
    ]
    path = folder / "api-keys.json"
    path.write_text(json.dumps({"keys": entries}))
    return path


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
