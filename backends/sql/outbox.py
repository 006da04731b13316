"""The outbox on SQL: events stored with their change, fanned out into deliveries dispatchers lease.

Every function runs on a connection inside a transaction the caller opened (a write transaction,
which on SQLite is BEGIN IMMEDIATE and so already holds the database's write lock).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Integer, Row, Select, bindparam, exists, func, or_, select, text, tuple_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from backends.events import Delivery, DeliveryState, Event, Route
from backends.outbox import delivery, routed, utc

from .schema import UtcDateTime, deliveries, events
from .sqlite import Executing

# Any constant other than the schema lock's; the same in every process that fans out.
_FAN_OUT_LOCK_KEY = 0x746D666F7574  # "tmfout"
_REPLAY_BATCH = 500
PENDING = DeliveryState.PENDING.value
DELIVERED = DeliveryState.DELIVERED.value
PARKED = DeliveryState.PARKED.value

_EVENT_COLUMNS = (
    events.c.seq.label("event_seq"),
    events.c.id.label("event_id"),
    events.c.api.label("event_api"),
    events.c.kind.label("event_kind"),
    events.c.resource_id.label("event_resource_id"),
    events.c.type.label("event_type"),
    events.c.time.label("event_time"),
    events.c.body.label("event_body"),
    events.c.owner.label("event_owner"),
)
_DELIVERY_COLUMNS = (
    deliveries.c.id,
    deliveries.c.subscription_id,
    deliveries.c.state,
    deliveries.c.attempts,
    deliveries.c.next_attempt,
    deliveries.c.last_error,
)


_ADD_EVENT = events.insert()  # built once, its values bound at each execution


async def add_event(connection: Executing, event: Event) -> None:
    """Insert an event, to commit or roll back with the caller's transaction."""
    await connection.execute(_ADD_EVENT, _event_values(event))


def _event_values(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "api": event.api,
        "kind": event.kind,
        "resource_id": event.resource_id,
        "type": event.type,
        "time": utc(event.time, "The event time"),
        "body": bytes(event.body).decode(),
        "fanned_out": False,
        "owner": event.owner,
    }


async def add_events(connection: Executing, events: Sequence[Event]) -> None:
    """Insert events in their order in one statement, to commit or roll back with the caller's transaction."""
    if not events:
        return
    values = [_event_values(event) for event in events]
    await connection.execute(_ADD_EVENT, values)


_EVENT_FIELDS = ("id", "api", "kind", "resource_id", "type", "time", "body", "fanned_out", "owner")
_INSERT_EVENTS = f"INSERT INTO {events.name} ({', '.join(_EVENT_FIELDS)}) VALUES "
_EVENT_ROW = "(" + ", ".join(["%s"] * len(_EVENT_FIELDS)) + ")"


async def add_events_and_commit(connection: AsyncConnection, pending: Sequence[Event]) -> None:
    """Insert events in their order and commit the caller's PostgreSQL transaction, in one message.

    A round trip costs the gateway more than the statements do (a socket write that wakes the
    server, benchmarks/README.md): a create's event and its COMMIT go together, so a create takes
    as many as the bare INSERT of ``benchmarks/pg_baseline.py``. psycopg's client-side binding sends
    several statements in one message; the COMMIT is the last, so it runs only if the insert did,
    and returns once durable. psycopg then finds the transaction closed, and its own commit sends nothing.
    """
    import psycopg  # noqa: PLC0415 - the driver, imported by PostgreSQL stores only

    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, psycopg.AsyncConnection)  # this store's PostgreSQL driver
    values = [_event_values(event) for event in pending]
    statement = _INSERT_EVENTS + ", ".join([_EVENT_ROW] * len(values)) + "; COMMIT"
    try:
        async with psycopg.AsyncClientCursor(driver) as cursor:
            await cursor.execute(statement, [row[field] for row in values for field in _EVENT_FIELDS])
    except psycopg.Error as exc:
        if driver.broken:  # as SQLAlchemy does on a disconnect: the pool opens a new one
            raw.invalidate(exc)
        # SQLAlchemy's own class for the driver's error, for the store to translate as any other.
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


_UNROUTED = (
    select(*_EVENT_COLUMNS)
    .where(~events.c.fanned_out)
    .order_by(events.c.seq)
    .limit(bindparam("limit", type_=Integer()))
)
_ROUTED = events.update().where(events.c.seq.in_(bindparam("seqs", expanding=True))).values(fanned_out=True)


_FAN_OUT_LOCK = text("SELECT pg_advisory_xact_lock(:key), set_config('synchronous_commit', 'off', true)")


async def fan_out(connection: Executing, route: Route, limit: int) -> int:
    """Route the oldest events not yet fanned out into pending deliveries; how many were taken."""
    if connection.dialect.name == "postgresql":
        # Fanning out in seq order is what keeps a resource's deliveries in order: two callers
        # taking alternate events could create e2's delivery, and have it claimed, before e1's
        # exists. The lock ends with the transaction; SQLite's BEGIN IMMEDIATE serialises already.
        # The same statement lets this commit return before the disk has it, as the store's other
        # bookkeeping may (``durable=False``): lost to a crash, the events are fanned out again.
        await connection.execute(_FAN_OUT_LOCK, {"key": _FAN_OUT_LOCK_KEY})
    taken = [_event(row) for row in (await connection.execute(_UNROUTED, {"limit": limit})).all()]
    if not taken:
        return 0
    now = dt.datetime.now(dt.UTC)
    new = [_new_delivery(subscription_id, event, now) for subscription_id, event in routed(taken, route)]
    if new:
        await connection.execute(deliveries.insert(), new)
    # By seq list, not "seq <= newest": on PostgreSQL an older seq may commit after this read.
    await connection.execute(_ROUTED, {"seqs": [event.seq for event in taken]})
    return len(taken)


def _claim_statement() -> Select[Any]:
    """The due deliveries no older pending one holds back, oldest event first (``now``, ``limit``)."""
    older = deliveries.alias("older")
    # An older pending delivery (leased or waiting for a retry) of the same subscription and
    # resource holds this one back; the delivery id breaks ties between replays of one event.
    held_back = exists().where(
        older.c.subscription_id == deliveries.c.subscription_id,
        older.c.kind == deliveries.c.kind,
        older.c.resource_id == deliveries.c.resource_id,
        older.c.state == PENDING,
        tuple_(older.c.event_seq, older.c.id) < tuple_(deliveries.c.event_seq, deliveries.c.id),
    )
    now = bindparam("now", type_=UtcDateTime())
    return (
        select(*_DELIVERY_COLUMNS, *_EVENT_COLUMNS)
        .join_from(deliveries, events, events.c.seq == deliveries.c.event_seq)
        .where(
            deliveries.c.state == PENDING,
            deliveries.c.next_attempt <= now,
            or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until <= now),
            ~held_back,
        )
        .order_by(deliveries.c.event_seq, deliveries.c.id)
        .limit(bindparam("limit", type_=Integer()))
        # PostgreSQL: rows another claimer has locked are skipped, not waited for; a row it leased
        # and committed meanwhile is re-checked against the lease condition. SQLite renders nothing:
        # BEGIN IMMEDIATE makes this the only writer.
        .with_for_update(of=deliveries, skip_locked=True)
    )


# Built once: SQLAlchemy then compiles each from its cache without rebuilding it (an alias, an
# EXISTS and their cache key each time cost more than running the claim on SQLite).
_DUE = _claim_statement()
_LEASED = (
    deliveries.update()
    .where(deliveries.c.id.in_(bindparam("ids", expanding=True)))
    .values(lease_until=bindparam("until", type_=UtcDateTime()), updated_at=bindparam("at", type_=UtcDateTime()))
)


async def claim(connection: Executing, *, limit: int, lease: float, now: dt.datetime) -> list[Delivery]:
    """Lease the due deliveries no older pending one holds back, oldest event first."""
    now = utc(now, "now")
    if limit <= 0:
        return []
    claimed = [_delivery(row) for row in (await connection.execute(_DUE, {"now": now, "limit": limit})).all()]
    if claimed:
        await connection.execute(
            _LEASED,
            {
                "ids": [uuid.UUID(delivery.id) for delivery in claimed],
                "until": now + dt.timedelta(seconds=lease),
                "at": dt.datetime.now(dt.UTC),
            },
        )
    return claimed


_RENEWED = (
    deliveries.update()
    .where(
        deliveries.c.id.in_(bindparam("ids", expanding=True)),
        deliveries.c.state == PENDING,
        deliveries.c.lease_until.is_not(None),
    )
    .values(lease_until=bindparam("until", type_=UtcDateTime()))
)


async def renew(connection: Executing, delivery_ids: Sequence[str], *, until: dt.datetime) -> None:
    """Extend the leases of pending deliveries still leased."""
    keys = [key for key in map(_key, delivery_ids) if key is not None]
    if keys:
        await connection.execute(_RENEWED, {"ids": keys, "until": utc(until, "until")})


# Only a pending delivery is settled: once a lease expired another dispatcher may have delivered
# it, and a late failure report from the first must not undo that.
_SETTLED = (
    deliveries.update()
    .where(deliveries.c.id == bindparam("key"), deliveries.c.state == PENDING)
    .values(
        attempts=deliveries.c.attempts + 1,
        lease_until=None,
        last_error=bindparam("error"),
        updated_at=bindparam("at", type_=UtcDateTime()),
        state=bindparam("state"),
    )
)
_RETRIED = _SETTLED.values(next_attempt=bindparam("next_attempt", type_=UtcDateTime()))


async def settle(
    connection: Executing, delivery_id: str, *, delivered: bool, error: str | None, retry_at: dt.datetime | None
) -> None:
    """Record one attempt on a pending delivery and release its lease."""
    key = _key(delivery_id)
    if key is None:
        return
    values: dict[str, Any] = {"key": key, "error": error, "at": dt.datetime.now(dt.UTC)}
    if delivered:
        values["state"] = DELIVERED
    elif retry_at is not None:
        values["state"] = PENDING
        await connection.execute(_RETRIED, {**values, "next_attempt": utc(retry_at, "retry_at")})
        return
    else:
        values["state"] = PARKED
    await connection.execute(_SETTLED, values)


_WITH_EVENTS = select(*_DELIVERY_COLUMNS, *_EVENT_COLUMNS).join_from(
    deliveries, events, events.c.seq == deliveries.c.event_seq
)


async def list_deliveries(
    connection: Executing, *, state: DeliveryState | None, subscription_id: str | None, limit: int, offset: int
) -> list[Delivery]:
    """One page of deliveries, oldest event first."""
    stmt = _WITH_EVENTS.where(*_chosen(state, subscription_id))
    stmt = stmt.order_by(deliveries.c.event_seq, deliveries.c.id).offset(offset).limit(limit)
    return [_delivery(row) for row in (await connection.execute(stmt)).all()]


async def find_delivery(connection: Executing, delivery_id: str) -> Delivery | None:
    """One delivery by id, or None."""
    key = _key(delivery_id)
    if key is None:
        return None
    row = (await connection.execute(_WITH_EVENTS.where(deliveries.c.id == key))).first()
    return None if row is None else _delivery(row)


async def count_deliveries(connection: Executing, *, state: DeliveryState | None, subscription_id: str | None) -> int:
    """How many deliveries :func:`list_deliveries` chooses, over every page."""
    stmt = select(func.count()).select_from(deliveries).where(*_chosen(state, subscription_id))
    return int((await connection.execute(stmt)).scalar_one())


def _chosen(state: DeliveryState | None, subscription_id: str | None) -> list[Any]:
    criteria = []
    if state is not None:
        criteria.append(deliveries.c.state == DeliveryState(state).value)
    if subscription_id is not None:
        criteria.append(deliveries.c.subscription_id == subscription_id)
    return criteria


async def redeliver(connection: Executing, delivery_id: str, *, now: dt.datetime) -> bool:
    """Make a parked delivery pending again, due ``now``, with no attempts."""
    now = utc(now, "now")
    key = _key(delivery_id)
    if key is None:
        return False
    stmt = (
        deliveries.update()
        .where(deliveries.c.id == key, deliveries.c.state == PARKED)
        .values(state=PENDING, next_attempt=now, attempts=0, lease_until=None, updated_at=dt.datetime.now(dt.UTC))
    )
    return bool((await connection.execute(stmt)).rowcount)


async def replay(
    connection: Executing, subscription_id: str, since: dt.datetime, route: Callable[[Event], bool]
) -> int:
    """New pending deliveries to one subscription of the accepted events since a time; how many."""
    since = utc(since, "since")
    now = dt.datetime.now(dt.UTC)
    count, after = 0, 0
    while True:  # in batches, so a long history is never loaded at once
        batch = (
            select(*_EVENT_COLUMNS)
            .where(events.c.time >= since, events.c.seq > after)
            .order_by(events.c.seq)
            .limit(_REPLAY_BATCH)
        )
        stored = [_event(row) for row in (await connection.execute(batch)).all()]
        if not stored:
            return count
        new = [_new_delivery(subscription_id, event, now) for event in stored if route(event)]
        if new:
            await connection.execute(deliveries.insert(), new)
        count += len(new)
        after = stored[-1].seq


async def drop_deliveries(connection: Executing, subscription_id: str) -> int:
    """Delete a subscription's pending and parked deliveries; how many."""
    stmt = deliveries.delete().where(
        deliveries.c.subscription_id == subscription_id, deliveries.c.state.in_([PENDING, PARKED])
    )
    return int((await connection.execute(stmt)).rowcount)


async def prune(connection: Executing, before: dt.datetime, limit: int) -> int:
    """Delete up to ``limit`` events older than ``before`` that are fanned out and whose
    deliveries were all delivered, with those deliveries; how many events went."""
    before = utc(before, "before")
    unfinished = exists().where(deliveries.c.event_seq == events.c.seq, deliveries.c.state != DELIVERED)
    done = (
        select(events.c.seq)
        .where(events.c.time < before, events.c.fanned_out, ~unfinished)
        .order_by(events.c.seq)
        .limit(limit)
    )
    seqs = [row.seq for row in (await connection.execute(done)).all()]
    if not seqs:
        return 0
    await connection.execute(
        deliveries.delete().where(deliveries.c.event_seq.in_(seqs), deliveries.c.state == DELIVERED)
    )
    # Again with the condition: a replay may have given one of them a new delivery meanwhile.
    gone = events.delete().where(events.c.seq.in_(seqs), ~unfinished)
    return int((await connection.execute(gone)).rowcount)


def _new_delivery(subscription_id: str, event: Event, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "subscription_id": subscription_id,
        "event_seq": event.seq,
        "kind": event.kind,
        "resource_id": event.resource_id,
        "state": PENDING,
        "attempts": 0,
        "next_attempt": now,
        "lease_until": None,
        "last_error": None,
        "created_at": now,
        "updated_at": now,
    }


def _event(row: Row[*tuple[Any, ...]]) -> Event:
    return Event(
        id=row.event_id,
        api=row.event_api,
        kind=row.event_kind,
        resource_id=row.event_resource_id,
        type=row.event_type,
        time=row.event_time,
        head=row.event_body.encode(),  # the whole body: stored as one text
        seq=row.event_seq,
        owner=row.event_owner,
    )


def _delivery(row: Row[*tuple[Any, ...]]) -> Delivery:
    return delivery(row, _event(row))


def _key(delivery_id: str) -> uuid.UUID | None:
    """The stored key of a delivery id; None for a string no delivery can have."""
    try:
        return uuid.UUID(delivery_id)
    except (TypeError, ValueError, AttributeError):
        return None


__all__ = [
    "add_event",
    "claim",
    "count_deliveries",
    "drop_deliveries",
    "fan_out",
    "find_delivery",
    "list_deliveries",
    "redeliver",
    "replay",
    "settle",
]
