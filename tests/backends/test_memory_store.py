"""The memory store beyond the contract: one copy of each document, shared with the events that carry it."""

from __future__ import annotations

import orjson
import pytest

from backends.events import Event
from backends.memory.store import MemoryBackend
from tests.backends.contract.support import enveloping, fan_out_all

pytestmark = pytest.mark.anyio


def stored_and_kept(backend: MemoryBackend, kind: str, id: str) -> tuple[bytes | None, list[bytes | None]]:
    """The bytes object the store holds for a document, and the documents its kept events hold."""
    kept = [event[7] for event in backend._outbox._events if event is not None and event[3] == id]
    return backend._collections.get(kind, {}).get(id), kept


async def test_an_event_carrying_the_stored_document_shares_its_bytes(kind: str) -> None:
    backend = MemoryBackend()
    raw = orjson.dumps({"id": "o1", "state": "acknowledged", "note": "x" * 1000})
    async with backend.transaction() as tx:
        await tx.create(kind, "o1", raw)
        await tx.add_event(enveloping(kind, "o1", raw, "CreateEvent"))
    stored, [kept] = stored_and_kept(backend, kind, "o1")
    assert stored == raw and stored is not raw  # an exact-size copy of the caller's bytes...
    assert kept is stored  # ...that the event shares rather than copies again


async def test_an_event_with_another_document_keeps_its_own_copy(kind: str) -> None:
    backend = MemoryBackend()
    first, second = orjson.dumps({"id": "o1", "v": 1}), orjson.dumps({"id": "o1", "v": 2})
    async with backend.transaction() as tx:
        await tx.create(kind, "o1", first)
        await tx.add_event(enveloping(kind, "o1", first, "CreateEvent"))
        await tx.replace(kind, "o1", second)
        await tx.add_event(enveloping(kind, "o1", second, "ChangeEvent"))
        await tx.delete(kind, "o1")
        await tx.add_event(enveloping(kind, "o1", second, "DeleteEvent"))
    stored, kept = stored_and_kept(backend, kind, "o1")
    assert stored is None and kept == [first, second, second]
    routed: list[Event] = []
    await fan_out_all(backend, lambda e: routed.append(e) or [])
    assert [orjson.loads(e.body)["event"][kind]["v"] for e in routed] == [1, 2, 2]


async def test_a_rolled_back_transaction_leaves_no_document_and_no_event(kind: str) -> None:
    backend = MemoryBackend()
    raw = orjson.dumps({"id": "o1"})
    with pytest.raises(RuntimeError):
        async with backend.transaction() as tx:
            await tx.create(kind, "o1", raw)
            await tx.add_event(enveloping(kind, "o1", raw, "CreateEvent"))
            raise RuntimeError("boom")
    assert stored_and_kept(backend, kind, "o1") == (None, [])
    # The write lock was released: the next transaction goes ahead.
    async with backend.transaction() as tx:
        await tx.create(kind, "o1", raw)
    assert await backend.get(kind, "o1") == raw
