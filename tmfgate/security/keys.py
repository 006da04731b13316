"""The ``Idempotency-Key`` of a POST in progress, as a call carries it (:mod:`.idempotency`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Pending:
    """The key of a POST in progress, until its record is written with the first create."""

    record_id: str  # a digest of the partner, the operation and the key
    fingerprint: str  # a digest of the request body
    recorded: bool = False
    body: bytes = b""  # the answer recorded


__all__ = ["Pending"]
