"""The outbox in memory: events published at commit, fanned out into deliveries that claimers lease."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from backends.events import Delivery, DeliveryState, Event, Route
from backends.outbox import delivery, routed, utc


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


# An event as the outbox keeps it: the fields of Event in their order, seq and owner last, so Event._make
# rebuilds one without a copy. Its ``document`` is the very bytes object the store holds for the
# resource when the event carries the resource as stored, so the resource is in memory once rather
# than twice: a store of many orders is a third smaller and touches a third fewer new pages. A plain
# tuple, not an Event: the collector stops tracking an exact tuple of strings, bytes, ints and
# datetimes once it has seen it, so a store of many events adds nothing to each full collection
# (with a NamedTuple per order, those took up to 60 ms with 100k orders stored, the p99 latency of
# the POST benchmark, and 6 % of its throughput).
_Kept = tuple[str, str, str, str, str, dt.datetime, bytes, "bytes | None", bytes, int, "str | None"]
# The same before commit, without its seq: the owner is last.
Pending = tuple[str, str, str, str, str, dt.datetime, bytes, "bytes | None", bytes, "str | None"]
_TIME: Final = 5  # the index of the time
_ZERO = dt.timedelta(0)
_SHORT = 32  # tails up to this length are kept once each (an envelope's closing bytes)
_MOST_TAILS = 256
_tails: dict[bytes, bytes] = {}


def pending(event: Event, stored: bytes | None) -> Pending:
    """What to keep of an event until commit; ``stored``: the store's bytes of its resource, if any.

    The event's document is replaced by ``stored`` when they are equal, and every other part is
    copied to its exact size (see :func:`compact`).
    """
    time = event.time
    if time.tzinfo is not dt.UTC and time.utcoffset() != _ZERO:
        time = utc(time, "The event time")
    document = event.document
    if document is not None:
        document = stored if stored == document else compact(document)
    head, tail = compact(event.head), _kept_tail(event.tail)
    return (event.id, event.api, event.kind, event.resource_id, event.type, time, head, document, tail, event.owner)


def _kept_tail(tail: bytes) -> bytes:
    if len(tail) > _SHORT:
        return compact(tail)
    kept = _tails.get(tail)
    if kept is None:
        kept = compact(tail)
        if len(_tails) < _MOST_TAILS:
            _tails[kept] = kept
    return kept


def compact(data: bytes) -> bytes:
    """An exact-size copy: orjson's output keeps its growth buffer (~8 KB for a 1.5 KB order), which
    a store holding many documents should not."""
    return bytes(memoryview(data))


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

    def publish(self, events: Iterable[Pending]) -> None:
        """Store the events of a committed transaction; commits are serialised, so seq is commit order."""
        for kept in events:
            self._events.append((*kept[:-1], len(self._events) + 1, kept[-1]))

    def fan_out(self, route: Route, limit: int) -> int:
        taken = [
            Event._make(kept) for kept in self._events[self._routed : self._routed + max(limit, 0)] if kept is not None
        ]  # (never None: only routed events are pruned)
        now = dt.datetime.now(dt.UTC)
        self._add([_new(subscription_id, event, now) for subscription_id, event in routed(taken, route)])
        self._routed = min(self._routed + max(limit, 0), len(self._events))
        return len(taken)

    def claim(self, limit: int, lease: float, now: dt.datetime) -> list[Delivery]:
        now = utc(now, "now")
        if not self._pending_sorted:
            self._pending = dict(sorted(self._pending.items(), key=lambda item: _order(item[1])))
            self._pending_sorted = True
        held_back: set[tuple[str, str, str]] = set()
        claimed: list[Delivery] = []
        for record in self._pending.values():
            if len(claimed) >= limit:
                break
            # Only the oldest pending delivery of a stream may go; the rest wait for it to settle.
            if record.stream in held_back:
                continue
            held_back.add(record.stream)
            if record.next_attempt <= now and (record.lease_until is None or record.lease_until <= now):
                record.lease_until = now + dt.timedelta(seconds=lease)
                claimed.append(delivery(record, record.event))
        return claimed

    def renew(self, delivery_ids: Iterable[str], until: dt.datetime) -> None:
        until = utc(until, "until")
        for delivery_id in delivery_ids:
            record = self._pending.get(delivery_id)
            if record is not None and record.lease_until is not None:
                record.lease_until = until

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
        chosen = sorted(self._chosen(state, subscription_id), key=_order)[offset : offset + limit]
        return [delivery(record, record.event) for record in chosen]

    def delivery(self, delivery_id: str) -> Delivery | None:
        record = self._deliveries.get(delivery_id)
        return None if record is None else delivery(record, record.event)

    def count_deliveries(self, *, state: DeliveryState | None, subscription_id: str | None) -> int:
        return sum(1 for _ in self._chosen(state, subscription_id))

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
        since_then = (Event._make(kept) for kept in self._events if kept is not None and kept[_TIME] >= since)
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

    def _chosen(self, state: DeliveryState | None, subscription_id: str | None) -> Iterable[_Record]:
        return (
            record
            for record in self._deliveries.values()
            if (state is None or record.state == state)
            and (subscription_id is None or record.subscription_id == subscription_id)
        )

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


def _new(subscription_id: str, event: Event, now: dt.datetime) -> _Record:
    return _Record(str(uuid.uuid4()), subscription_id, event, DeliveryState.PENDING, attempts=0, next_attempt=now)


def _order(record: _Record) -> tuple[int, str]:
    # Event order; the id breaks ties between replays of one event, as the SQL store does.
    return (record.event.seq, record.id)


__all__ = ["MemoryOutbox", "Pending", "compact", "pending"]
