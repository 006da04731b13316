"""Conditional requests (RFC 9110 §13): a strong ``ETag`` on every read, ``If-None-Match`` on GET
(304) and ``If-Match`` on PATCH and DELETE (412; 428 when the gateway requires it), so no client
overwrites a change it has not seen."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from tmfgate.errors import PreconditionFailed, PreconditionRequired


def etag(raw: bytes) -> bytes:
    """The strong entity tag of a stored document: a digest of its JSON as the store returns it."""
    return b'"' + hashlib.blake2b(raw, digest_size=16).hexdigest().encode() + b'"'


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of a request header, or None."""
    return next((value for key, value in headers if key == name), None)


def none_match(condition: bytes, tag: bytes) -> bool:
    """False when ``If-None-Match`` names the current tag (weak comparison, §13.1.2): answer 304."""
    tags = {t.strip().removeprefix(b"W/") for t in condition.split(b",")}
    return not (b"*" in tags or tag in tags)


def check_match(condition: bytes | None, tag: bytes, *, required: bool) -> None:
    """``If-Match`` against the stored version (strong comparison, §13.1.1)."""
    if condition is None:
        if required:
            raise PreconditionRequired(
                "This gateway requires If-Match on PATCH and DELETE: send the ETag of the version you read."
            )
        return
    tags = {t.strip() for t in condition.split(b",")}
    if b"*" not in tags and tag not in tags:
        raise PreconditionFailed(
            "The resource has changed since the version If-Match names; read it again and retry.",
            headers=((b"etag", tag),),
        )


__all__ = ["check_match", "etag", "header", "none_match"]
