"""``Idempotency-Key`` on POST (draft-ietf-httpapi-idempotency-key-header): a retry gets the first answer.

The first create of a key stores a record of the answer beside the resource, in the same
transaction (:func:`record`), keyed by the partner, the operation and the key. A retry with the
same body within :data:`KEPT` gets that answer (same id, status and body) without a second create;
with another body, a 422. Of concurrent first requests one commits; the store refuses the others'
record, their transactions roll back, and they answer with the winner's record.
"""

from __future__ import annotations

import datetime as dt

from backends.base import DuplicateId, Transaction
from tmfgate import codec, times
from tmfgate.calls import Call, Function, Reply
from tmfgate.errors import BadRequest, Conflict, UnprocessableEntity
from tmfgate.security.conditional import header
from tmfgate.security.keys import Pending

KIND = "tmfgate:idempotency"
KEPT = dt.timedelta(hours=24)
REPLAYED = (b"idempotent-replayed", b"true")


class _Raced(Exception):
    """Another request with the same key committed its record first."""


async def serve(call: Call, function: Function) -> Reply:
    """Serve a POST that carries an ``Idempotency-Key``."""
    key = header(call.scope["headers"], b"idempotency-key")
    if key is None:
        return await function(call)
    if not 0 < len(key) <= 255:
        raise BadRequest("Idempotency-Key must be 1 to 255 characters.")
    pending = Pending.of(call.owner, call.api.name, call.operation.operation_id, key, call.body)
    earlier = await _read(call, pending)
    if earlier is not None:
        return earlier
    call.idempotency = pending
    try:
        reply = await function(call)
    except _Raced:
        earlier = await _read(call, pending)
        if earlier is None:  # the winner's record has expired already: a rare, harmless refusal
            raise Conflict("A request with this Idempotency-Key is being processed; retry shortly.") from None
        return earlier
    if pending.recorded and 200 <= reply.status < 300 and (reply.status, reply.body) != (201, pending.body):
        await _complete(call, pending, reply)
    return reply


async def record(tx: Transaction, call: Call, raw: bytes, href: str) -> None:
    """Store the key's record with the first resource the POST creates (operations.write_new)."""
    pending = call.idempotency
    if pending is None or pending.recorded:
        return
    doc = {"fingerprint": pending.fingerprint, "status": 201, "body": raw.decode(), "location": href}
    try:
        await tx.create(KIND, pending.record_id, codec.dumps({**doc, "createdAt": times.now()}), owner=call.owner)
    except DuplicateId:
        raise _Raced from None
    pending.recorded, pending.body = True, bytes(raw)


async def _read(call: Call, pending: Pending) -> Reply | None:
    """The first answer for this key, or None when there is none (or it has expired)."""
    raw = await call.gateway.backend.get(KIND, pending.record_id)
    if raw is None:
        return None
    stored = codec.loads(raw)
    if times.parse(stored["createdAt"]) < dt.datetime.now(dt.UTC) - KEPT:
        async with call.gateway.transaction() as tx:
            await tx.delete(KIND, pending.record_id)
        return None
    if stored["fingerprint"] != pending.fingerprint:
        raise UnprocessableEntity(
            "This Idempotency-Key was used with another request body; use a new key for a new request."
        )
    headers = [REPLAYED] + ([(b"location", stored["location"].encode())] if stored.get("location") else [])
    return Reply(int(stored["status"]), stored["body"].encode(), headers)


async def _complete(call: Call, pending: Pending, reply: Reply) -> None:
    """Keep the answer actually sent, when the operation changed more after its first create."""
    location = next((value.decode() for key, value in reply.headers if key == b"location"), None)
    async with call.gateway.transaction() as tx:
        raw = await tx.get(KIND, pending.record_id, for_update=True)
        if raw is None:
            return
        stored = codec.loads(raw)
        stored.update(status=reply.status, body=(reply.body or b"").decode(), location=location)
        await tx.replace(KIND, pending.record_id, codec.dumps(stored))


__all__ = ["KEPT", "KIND", "record", "serve"]
