"""An in-process store: stored JSON bytes per kind, in insertion order, and an outbox, for tests and demos."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from backends.errors import DuplicateId, NotStored
from backends.events import Delivery, DeliveryState, Event, Route
from backends.queries import Owners, Page, Query

from .outbox import MemoryOutbox, Pending, compact, pending
from .query import run_query

# kind -> id -> stored JSON; dicts keep insertion order, which is the default sort.
Collections = dict[str, dict[str, bytes]]
# (kind, id) -> the document's owner, for the documents that have one.
OwnerMap = dict[tuple[str, str], str]
_DELETED = None


class MemoryTransaction:
    """Writes buffered until commit, read back through an overlay of the committed documents."""

    __slots__ = ("_committed", "_events", "_latest", "_ops", "_outbox", "_owners", "_new_owners")

    def __init__(self, committed: Collections, outbox: MemoryOutbox, owners: OwnerMap) -> None:
        self._committed = committed
        self._outbox = outbox
        self._owners = owners
        self._new_owners: dict[tuple[str, str], str | None] = {}
        self._events: list[Pending] = []
        # Replayed in order at commit, so a delete then create moves the document to the end.
        self._ops: list[tuple[str, str, bytes | None]] = []
        self._latest: dict[tuple[str, str], bytes | None] = {}

    async def add_event(self, event: Event) -> None:
        # The outbox keeps it at commit, with its seq, sharing the document this store holds.
        stored = None if event.document is None else self._current(event.kind, event.resource_id)
        self._events.append(pending(event, stored))

    async def get(self, kind: str, id: str, *, for_update: bool = False, owners: Owners = None) -> bytes | None:
        # for_update needs nothing: the backend lock makes this the only writer until commit.
        if owners is not None and self._owner(kind, id) not in owners:
            return None
        return self._current(kind, id)

    async def create(self, kind: str, id: str, doc: bytes, *, owner: str | None = None) -> None:
        if self._current(kind, id) is not None:
            raise DuplicateId(f"A {kind} with id {id!r} is already stored.")
        self._write(kind, id, compact(doc))
        self._new_owners[(kind, id)] = owner

    async def get_many(self, kind: str, ids: Sequence[str], *, for_update: bool = False) -> dict[str, bytes]:
        # for_update needs nothing: the backend lock makes this the only writer until commit.
        found = {id: self._current(kind, id) for id in ids}
        return {id: doc for id, doc in found.items() if doc is not None}

    async def create_many(
        self, kind: str, docs: Sequence[tuple[str, bytes]], *, owner: str | None = None
    ) -> list[bytes | None]:
        for id, doc in docs:
            await self.create(kind, id, doc, owner=owner)
        return [None] * len(docs)

    async def add_events(self, events: Sequence[Event]) -> None:
        for event in events:
            await self.add_event(event)

    async def owner(self, kind: str, id: str) -> str | None:
        return self._owner(kind, id) if self._current(kind, id) is not None else None

    async def replace(self, kind: str, id: str, doc: bytes) -> None:
        if self._current(kind, id) is None:
            raise NotStored(f"No {kind} with id {id!r} is stored.")
        self._write(kind, id, compact(doc))

    async def replace_many(self, kind: str, docs: Sequence[tuple[str, bytes]]) -> None:
        for id, doc in docs:
            await self.replace(kind, id, doc)

    async def owner_many(self, kind: str, ids: Sequence[str]) -> dict[str, str | None]:
        return {id: self._owner(kind, id) for id in ids if self._current(kind, id) is not None}

    async def delete(self, kind: str, id: str) -> bool:
        if self._current(kind, id) is None:
            return False
        self._write(kind, id, _DELETED)
        return True

    async def query(self, kind: str, query: Query) -> Page:
        view = self._view(kind)
        if query.owners is not None:
            view = {id: doc for id, doc in view.items() if self._owner(kind, id) in query.owners}
        return run_query(view, query)

    def commit(self) -> None:
        """Apply the buffered writes; plain dict operations with no await, so atomic for readers."""
        for kind, id, doc in self._ops:
            documents = self._committed.setdefault(kind, {})
            if doc is _DELETED:
                documents.pop(id, None)
                self._owners.pop((kind, id), None)
            else:
                documents[id] = doc
        for key, owner in self._new_owners.items():
            if owner is None:
                self._owners.pop(key, None)
            elif self._committed.get(key[0], {}).get(key[1]) is not None:
                self._owners[key] = owner
        self._outbox.publish(self._events)

    def _owner(self, kind: str, id: str) -> str | None:
        key = (kind, id)
        return self._new_owners[key] if key in self._new_owners else self._owners.get(key)

    def _current(self, kind: str, id: str) -> bytes | None:
        """The document as this transaction sees it (a plain call: every write looks first)."""
        key = (kind, id)
        if key in self._latest:
            return self._latest[key]
        return self._committed.get(kind, {}).get(id)

    def _write(self, kind: str, id: str, doc: bytes | None) -> None:
        self._ops.append((kind, id, doc))
        self._latest[(kind, id)] = doc

    def _view(self, kind: str) -> dict[str, bytes]:
        """The documents of ``kind`` as this transaction sees them, in insertion order."""
        committed = self._committed.get(kind, {})
        if not any(op_kind == kind for op_kind, _, _ in self._ops):
            return committed
        view = dict(committed)
        for op_kind, id, doc in self._ops:
            if op_kind != kind:
                continue
            if doc is _DELETED:
                view.pop(id, None)
            else:
                view[id] = doc
        return view


class MemoryUnitOfWork:
    """The write lock and a transaction; committed on a normal exit, dropped on an exception.
    A class rather than a generator-based context manager: it wraps every write."""

    __slots__ = ("backend", "transaction")

    def __init__(self, backend: MemoryBackend) -> None:
        self.backend = backend

    async def __aenter__(self) -> MemoryTransaction:
        await self.backend._write_lock.acquire()
        backend = self.backend
        self.transaction = MemoryTransaction(backend._collections, backend._outbox, backend._owners)
        return self.transaction

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        try:
            if kind is None:
                self.transaction.commit()
        finally:
            self.backend._write_lock.release()


class MemoryBackend:
    """Documents and the outbox kept in this process; one writer at a time, readers never wait."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._collections: Collections = {}
        self._owners: OwnerMap = {}
        self._outbox = MemoryOutbox()
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to release; the documents stay until the backend is dropped."""

    def transaction(self) -> MemoryUnitOfWork:
        """A unit of work holding the write lock; its writes show only once it has committed."""
        return MemoryUnitOfWork(self)

    async def get(self, kind: str, id: str, *, owners: Owners = None) -> bytes | None:
        if owners is not None and self._owners.get((kind, id)) not in owners:
            return None
        return self._collections.get(kind, {}).get(id)

    async def query(self, kind: str, query: Query) -> Page:
        documents = self._collections.get(kind, {})
        if query.owners is not None:
            owners, owned = query.owners, self._owners
            documents = {id: doc for id, doc in documents.items() if owned.get((kind, id)) in owners}
        return run_query(documents, query)

    # The outbox shares the write lock, so no change to it interleaves with a commit.

    async def fan_out(self, route: Route, *, limit: int = 200) -> int:
        async with self._write_lock:
            return self._outbox.fan_out(route, limit)

    async def claim(self, *, limit: int, lease: float, now: dt.datetime) -> list[Delivery]:
        async with self._write_lock:
            return self._outbox.claim(limit, lease, now)

    async def renew(self, delivery_ids: Sequence[str], *, until: dt.datetime) -> None:
        async with self._write_lock:
            self._outbox.renew(delivery_ids, until)

    async def settle(
        self, delivery_id: str, *, delivered: bool, error: str | None = None, retry_at: dt.datetime | None = None
    ) -> None:
        async with self._write_lock:
            self._outbox.settle(delivery_id, delivered=delivered, error=error, retry_at=retry_at)

    async def deliveries(
        self,
        *,
        state: DeliveryState | None = None,
        subscription_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Delivery]:
        return self._outbox.deliveries(state=state, subscription_id=subscription_id, limit=limit, offset=offset)

    async def delivery(self, delivery_id: str) -> Delivery | None:
        return self._outbox.delivery(delivery_id)

    async def count_deliveries(self, *, state: DeliveryState | None = None, subscription_id: str | None = None) -> int:
        return self._outbox.count_deliveries(state=state, subscription_id=subscription_id)

    async def redeliver(self, delivery_id: str, *, now: dt.datetime) -> bool:
        async with self._write_lock:
            return self._outbox.redeliver(delivery_id, now)

    async def replay(self, subscription_id: str, since: dt.datetime, route: Callable[[Event], bool]) -> int:
        async with self._write_lock:
            return self._outbox.replay(subscription_id, since, route)

    async def drop_deliveries(self, subscription_id: str) -> int:
        async with self._write_lock:
            return self._outbox.drop_deliveries(subscription_id)

    async def prune(self, before: dt.datetime, *, limit: int = 1000) -> int:
        async with self._write_lock:
            return self._outbox.prune(before, limit)


__all__ = ["MemoryBackend", "MemoryTransaction"]
