"""The outbox in memory: events published at commit, fanned out into deliveries that claimers lease."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from .base import Delivery, DeliveryState, Event, Route


@dataclass
class _Record:
    """A delivery as the outbox keeps it, with its lease."""

    id: str
    subscription_id: str
    event: Event
    state: DeliveryState
    attempts: int
    next_attempt: dt.datetime
    lease_until: dt.datetime | None = None
    last_error: str | None = None

    @property
    def stream(self) -> tuple[str, str, str]:
        """What deliveries must go out in order for: one subscription and one resource."""
        return (self.subscription_id, self.event.kind, self.event.resource_id)

    def frozen(self) -> Delivery:
        return Delivery(
            id=self.id,
            subscription_id=self.subscription_id,
            event=self.event,
            state=self.state,
            attempts=self.attempts,
            next_attempt=self.next_attempt,
            last_error=self.last_error,
        )


# An event as the outbox keeps it: (id, api, kind, resource_id, type, time, head, document, seq).
# The body of a create or change event ends with the resource as stored, followed by ``}}``; then
# only the part before it is kept (``head``), and ``document`` is the very bytes object the store
# holds, so the resource is in memory once rather than twice: a store of many orders is a third
# smaller and touches a third fewer new pages. Otherwise ``head`` is the whole body and
# ``document`` None. A plain tuple, not a NamedTuple: the collector stops tracking an exact tuple
# of strings, bytes, ints and datetimes once it has seen it, so a store of many events adds
# nothing to each full collection (with a NamedTuple per order, those took up to 60 ms with 100k
# orders stored, the p99 latency of the POST benchmark, and 6 % of its throughput).
_Kept = tuple[str, str, str, str, str, dt.datetime, bytes, "bytes | None", int]
_TIME: Final = 5  # the index of the time


def _event(kept: _Kept) -> Event:
    id, api, kind, resource_id, type, time, head, document, seq = kept
    body = head if document is None else b"".join((head, document, b"}}"))
    return Event(id, api, kind, resource_id, type, time, body, seq)


class MemoryOutbox:
    """Events and deliveries of one memory store.

    No method awaits, so each runs whole; the backend calls the writing ones under its write lock,
    which also keeps them from interleaving with a transaction's commit.
    """

    def __init__(self) -> None:
        self._events: list[_Kept | None] = []  # seq - 1 is the index; None once pruned
        self._routed = 0  # fan_out takes events in seq order, so the first _routed are fanned out
        self._front = 0  # the events before this index are all pruned
        self._deliveries: dict[str, _Record] = {}
        # The pending ones again, so a claim looks at what may go rather than at every delivery
        # ever made (the store keeps delivered ones for operators; a claim per commit over all of
        # them made each order slower than the one before).
        self._pending: dict[str, _Record] = {}
        self._pending_sorted = True  # whether _pending is in claim order, (event seq, id)

    def publish(self, events: Iterable[tuple[Event, bytes | None]]) -> None:
        """Store the events of a committed transaction, each with the document it describes as the
        store now holds it (None when there is none); commits are serialised, so seq is commit order."""
        for event, document in events:
            self._events.append(_kept(event, document, len(self._events) + 1))

    def fan_out(self, route: Route, limit: int) -> int:
        taken = [
            _event(kept) for kept in self._events[self._routed : self._routed + max(limit, 0)] if kept is not None
        ]  # (never None: only routed events are pruned)
        now = dt.datetime.now(dt.UTC)
        # Routed in full before anything changes: a route that raises leaves the outbox as it was.
        new = [_new(subscription_id, event, now) for event in taken for subscription_id in _unique(route(event))]
        self._add(new)
        self._routed = min(self._routed + max(limit, 0), len(self._events))
        return len(taken)

    def claim(self, limit: int, lease: float, now: dt.datetime) -> list[Delivery]:
        now = utc(now, "now")
        if not self._pending_sorted:
            self._pending = dict(sorted(self._pending.items(), key=lambda item: _order(item[1])))
            self._pending_sorted = True
        pending = self._pending.values()
        held_back: set[tuple[str, str, str]] = set()
        claimed: list[Delivery] = []
        for record in pending:
            if len(claimed) >= limit:
                break
            # Only the oldest pending delivery of a stream may go; the rest wait for it to settle.
            if record.stream in held_back:
                continue
            held_back.add(record.stream)
            if record.next_attempt <= now and (record.lease_until is None or record.lease_until <= now):
                record.lease_until = now + dt.timedelta(seconds=lease)
                claimed.append(record.frozen())
        return claimed

    def settle(self, delivery_id: str, *, delivered: bool, error: str | None, retry_at: dt.datetime | None) -> None:
        record = self._deliveries.get(delivery_id)
        # Only a pending delivery: once a lease expired another dispatcher may have delivered it, and
        # a late failure report from the first must not undo that.
        if record is None or record.state is not DeliveryState.PENDING:
            return
        if delivered:
            record.state = DeliveryState.DELIVERED
            del self._pending[delivery_id]
        elif retry_at is not None:
            record.next_attempt = utc(retry_at, "retry_at")
        else:
            record.state = DeliveryState.PARKED
            del self._pending[delivery_id]
        record.attempts += 1
        record.lease_until = None
        record.last_error = error

    def deliveries(
        self, *, state: DeliveryState | None, subscription_id: str | None, limit: int, offset: int
    ) -> list[Delivery]:
        chosen = [
            record
            for record in self._deliveries.values()
            if (state is None or record.state == state)
            and (subscription_id is None or record.subscription_id == subscription_id)
        ]
        return [record.frozen() for record in sorted(chosen, key=_order)[offset : offset + limit]]

    def redeliver(self, delivery_id: str, now: dt.datetime) -> bool:
        now = utc(now, "now")
        record = self._deliveries.get(delivery_id)
        if record is None or record.state is not DeliveryState.PARKED:
            return False
        record.state = DeliveryState.PENDING
        record.next_attempt = now
        record.attempts = 0
        record.lease_until = None
        self._add_pending([record])
        return True

    def replay(self, subscription_id: str, since: dt.datetime, route: Callable[[Event], bool]) -> int:
        since = utc(since, "since")
        now = dt.datetime.now(dt.UTC)
        since_then = (_event(kept) for kept in self._events if kept is not None and kept[_TIME] >= since)
        new = [_new(subscription_id, event, now) for event in since_then if route(event)]
        self._add(new)
        return len(new)

    def drop_deliveries(self, subscription_id: str) -> int:
        dropped = [
            record.id
            for record in self._deliveries.values()
            if record.subscription_id == subscription_id and record.state is not DeliveryState.DELIVERED
        ]
        for id in dropped:
            del self._deliveries[id]
            self._pending.pop(id, None)
        return len(dropped)

    def prune(self, before: dt.datetime, limit: int) -> int:
        before = utc(before, "before")
        unfinished = {
            record.event.seq for record in self._deliveries.values() if record.state is not DeliveryState.DELIVERED
        }
        gone: list[int] = []
        for index in range(self._front, self._routed):  # only events fanned out
            if len(gone) >= limit:
                break
            kept = self._events[index]
            if kept is not None and kept[_TIME] < before and index + 1 not in unfinished:
                gone.append(index)
        for index in gone:
            self._events[index] = None  # the index stays the seq - 1 of the others
        while self._front < self._routed and self._events[self._front] is None:
            self._front += 1
        seqs = {index + 1 for index in gone}
        for id in [id for id, record in self._deliveries.items() if record.event.seq in seqs]:
            del self._deliveries[id]
        return len(gone)

    def _add(self, records: list[_Record]) -> None:
        self._deliveries.update((record.id, record) for record in records)
        self._add_pending(records)

    def _add_pending(self, records: list[_Record]) -> None:
        """Note new pending deliveries; a fan-out of new events keeps the claim order by itself."""
        if not records:
            return
        records = sorted(records, key=_order)
        last = next(reversed(self._pending.values()), None)
        if last is not None and _order(last) > _order(records[0]):
            self._pending_sorted = False  # a replay or redelivery of older events: sort at the next claim
        self._pending.update((record.id, record) for record in records)


def _kept(event: Event, document: bytes | None, seq: int) -> _Kept:
    body = event.body
    start = -1 if document is None else len(body) - len(document) - 2
    if document is not None and start > 0 and body.startswith(document, start) and body.endswith(b"}}"):
        return (event.id, event.api, event.kind, event.resource_id, event.type, event.time, body[:start], document, seq)
    return (event.id, event.api, event.kind, event.resource_id, event.type, event.time, compact(body), None, seq)


def compact(data: bytes) -> bytes:
    """An exact-size copy: orjson's output keeps its growth buffer (~8 KB for a 1.5 KB order), which
    a store holding many documents should not."""
    return bytes(memoryview(data))


def utc(value: dt.datetime, name: str) -> dt.datetime:
    """``value`` in UTC; a naive datetime is refused rather than guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, such as datetime.now(datetime.UTC).")
    return value.astimezone(dt.UTC)


def _new(subscription_id: str, event: Event, now: dt.datetime) -> _Record:
    return _Record(str(uuid.uuid4()), subscription_id, event, DeliveryState.PENDING, attempts=0, next_attempt=now)


def _order(record: _Record) -> tuple[int, str]:
    # Event order; the id breaks ties between replays of one event, as the SQL store does.
    return (record.event.seq, record.id)


def _unique(subscription_ids: Iterable[str]) -> list[str]:
    """Each subscription once, in the order the route gave them."""
    return list(dict.fromkeys(subscription_ids))


__all__ = ["MemoryOutbox", "compact", "utc"]
