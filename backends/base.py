"""The storage contract: a parsed query, a page of stored documents, and the backend protocol.

Every backend stores JSON documents by ``(kind, id)``. ``kind`` is the lower-camel resource name
(``productOrder``); the same stored document serves every API version of that resource. Backends
receive a parsed :class:`Query`, never a raw query string, and run filters, sorting and paging
themselves (SQL on the stored document, or the in-memory index), so a list never loads a whole
collection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import NamedTuple, Protocol


class Op(str, Enum):
    """Comparison operators of TMF630 attribute filtering."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    REGEX = "regex"


class Kind(str, Enum):
    """How the values of a condition compare with the stored attribute.

    Values are ``str`` for STRING (and every REGEX pattern), ``Decimal`` for NUMBER, ``bool`` for
    BOOLEAN and :class:`Instant` for DATETIME. The matching rules are in :mod:`backends.sqlquery`.
    """

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"


@dataclass(frozen=True)
class Instant:
    """A point in time; ``whole_day`` when the filter gave only a date (``orderDate=2019-04-30``).

    With ``whole_day`` equality means "any time that UTC day" and ``ne`` its negation; the ordering
    operators compare against ``at`` (midnight UTC of that day).
    """

    at: dt.datetime  # always timezone-aware, UTC
    whole_day: bool = False


Value = str | Decimal | bool | Instant


@dataclass(frozen=True)
class Condition:
    """``path op value``; several values are alternatives (OR), as ``state=a,b`` or a repeated key.

    ``path`` is the dotted attribute path split into names; an array met anywhere along the path
    matches when any of its elements does (TMF630 Part 1: dotted filters into arrays). ``ne`` is
    the negation of ``eq`` with the same values: no value at the path equals any of them (an absent
    attribute matches).
    """

    path: tuple[str, ...]
    op: Op
    kind: Kind
    values: tuple[Value, ...]


@dataclass(frozen=True)
class SortKey:
    """One ``sort=`` key; documents without a value at ``path`` come last in both directions."""

    path: tuple[str, ...]
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """A list request: conditions (all must hold), sort keys, and the page window.

    ``fields`` is None for whole documents, ``()`` for ``fields=none`` (only the always-returned
    attributes), else the selected dotted paths.
    """

    conditions: tuple[Condition, ...] = ()
    sort: tuple[SortKey, ...] = ()
    offset: int = 0
    limit: int | None = None
    fields: tuple[tuple[str, ...], ...] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Page:
    """One page of a query: ``total`` matches of the filter, ``items`` the stored JSON texts."""

    total: int
    items: list[bytes]


class Event(NamedTuple):
    """A notification, recorded in the transaction of the change it describes (the outbox).

    A change is never committed without its events, and no event exists for a change that rolled
    back. ``seq`` is assigned by the store when the event is stored (0 before): it grows with every
    event, and for one resource it grows in the order the changes were committed, because each
    change to a resource holds that resource's lock (``get(..., for_update=True)``).

    A named tuple rather than a frozen dataclass: every write builds one, and a frozen dataclass
    sets each of its eight fields through ``object.__setattr__``; a tuple of plain values is also
    left alone by the garbage collector, which matters for a memory store holding many.
    """

    id: str  # the eventId listeners de-duplicate on
    api: str  # the API (spec name) whose hub subscribers may receive it
    kind: str  # the resource kind, e.g. productOrder
    resource_id: str
    type: str  # the eventType, e.g. ProductOrderStateChangeEvent
    time: dt.datetime  # the eventTime, timezone-aware UTC
    body: bytes  # the notification as listeners receive it (before a subscription's fields=)
    seq: int = 0


class DeliveryState(str, Enum):
    PENDING = "pending"  # due at next_attempt; in flight while leased
    DELIVERED = "delivered"
    PARKED = "parked"  # gave up after the configured attempts; an operator may redeliver


@dataclass(frozen=True)
class Delivery:
    """One event on its way to one subscription."""

    id: str
    subscription_id: str
    event: Event
    state: DeliveryState
    attempts: int
    next_attempt: dt.datetime
    last_error: str | None = None


Route = Callable[[Event], Iterable[str]]


class Transaction(Protocol):
    """Reads and writes that commit together, or not at all."""

    async def add_event(self, event: Event) -> None:
        """Record an event in the outbox; it becomes visible to dispatchers when this commits."""

    async def get(self, kind: str, id: str, *, for_update: bool = False) -> bytes | None:
        """The stored JSON of one document, or None. ``for_update`` locks it until commit."""

    async def create(self, kind: str, id: str, doc: bytes) -> None:
        """Store a new document; raises :class:`DuplicateId` when ``(kind, id)`` exists."""

    async def replace(self, kind: str, id: str, doc: bytes) -> None:
        """Overwrite an existing document; raises :class:`NotStored` when it does not exist."""

    async def delete(self, kind: str, id: str) -> bool:
        """Remove a document; False when there was none."""

    async def query(self, kind: str, query: Query) -> Page:
        """Filter, sort and page the documents of one kind."""


class Backend(Protocol):
    """A document store chosen by URL (``memory://``, ``sqlite:///file``, ``postgresql+psycopg://``)."""

    url: str

    async def open(self) -> None:
        """Connect and create the schema when missing. Called once at start-up."""

    async def close(self) -> None:
        """Release connections."""

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A unit of work: committed on normal exit, rolled back when the block raises."""

    async def get(self, kind: str, id: str) -> bytes | None:
        """Read one document outside an explicit transaction."""

    async def query(self, kind: str, query: Query) -> Page:
        """Run a list query outside an explicit transaction."""

    # The outbox, as dispatchers use it. Deliveries of one subscription and one resource go out
    # one at a time, in event order; several dispatchers never hold the same delivery at once.

    async def fan_out(self, route: Route, *, limit: int = 200) -> int:
        """Route up to ``limit`` events not yet fanned out, oldest first.

        Only one caller fans out at a time (a lock held for the call). For each event, one pending
        delivery, due now, is created for every subscription id ``route(event)`` returns, and the
        event is marked fanned out, all in one transaction. Returns the number of events taken.
        """

    async def claim(self, *, limit: int, lease: float, now: dt.datetime) -> list[Delivery]:
        """Lease up to ``limit`` deliveries that are due, oldest event first.

        A delivery is claimable when it is pending, its ``next_attempt`` has come, no unexpired
        lease holds it, and no older pending delivery exists for the same subscription, kind and
        resource (so a resource's events reach a subscriber in order, even across retries). The
        claimed deliveries are leased until ``now + lease`` seconds; no other caller gets them
        before the lease expires (``FOR UPDATE SKIP LOCKED`` on PostgreSQL).
        """

    async def settle(
        self, delivery_id: str, *, delivered: bool, error: str | None = None, retry_at: dt.datetime | None = None
    ) -> None:
        """Record one attempt and release the lease: delivered; or failed and pending again at
        ``retry_at``; or failed with no ``retry_at``, which parks it. ``attempts`` grows by one.
        A delivery no longer pending (settled already, or dropped) is left as it is."""

    async def deliveries(
        self,
        *,
        state: DeliveryState | None = None,
        subscription_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Delivery]:
        """Deliveries for operators, oldest event first, optionally of one state or subscription."""

    async def redeliver(self, delivery_id: str, *, now: dt.datetime) -> bool:
        """Make a parked delivery pending again, due ``now``, with its attempts reset; False when
        there is no parked delivery with that id."""

    async def replay(self, subscription_id: str, since: dt.datetime, route: Callable[[Event], bool]) -> int:
        """New pending deliveries to one subscription of every stored event whose ``time`` is at
        or after ``since`` and that ``route`` accepts; returns how many."""

    async def drop_deliveries(self, subscription_id: str) -> int:
        """Delete the pending and parked deliveries of a subscription that no longer exists."""

    async def prune(self, before: dt.datetime, *, limit: int = 1000) -> int:
        """Forget finished history: delete up to ``limit`` events whose ``time`` is before ``before``,
        that are fanned out and whose deliveries were all delivered, with those deliveries (oldest
        first). Events not yet fanned out, or with a pending or parked delivery, stay. Returns how
        many events were deleted; a replay no longer finds them."""


class StorageError(Exception):
    """Root of the errors a backend raises; drivers' own exceptions are translated into these."""


class DuplicateId(StorageError):
    """A document with this kind and id is already stored."""


class NotStored(StorageError):
    """The document to replace does not exist."""


class UnstorableDocument(StorageError):
    """The document holds a value this store cannot keep (a request problem, not an outage)."""


class StorageUnavailable(StorageError):
    """The store cannot be reached or refused the operation for a reason that is not the request's."""


class BackendConfigurationError(StorageError, ValueError):
    """The backend URL or its settings cannot be used; the core turns it into a ConfigurationError."""
