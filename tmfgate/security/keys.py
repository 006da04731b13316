"""The ``Idempotency-Key`` of a POST in progress, as a call carries it (:mod:`.idempotency`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(slots=True)
class Pending:
    """The key of a POST in progress, until its record is written with the first create."""

    record_id: str  # a digest of the partner, the operation and the key
    fingerprint: str  # a digest of the request body
    recorded: bool = False
    body: bytes = b""  # the answer recorded

    @classmethod
    def of(cls, owner: str | None, api: str, operation: str, key: bytes, body: Any) -> Pending:
        """Keys are each partner's own and each operation's; a body is the same whatever its key order."""
        names = [(owner or "").encode(), api.encode(), operation.encode(), key]
        fingerprint = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
        return cls(hashlib.sha256(b"\0".join(names)).hexdigest(), fingerprint)


__all__ = ["Pending"]
