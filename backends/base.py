"""The storage contract: a document store and an outbox as two protocols, with their value types.

Documents are JSON by ``(kind, id)``, kind the resource name (``productOrder``) whatever the API
version, each with its owner beside it (the partner that created it, or None). Stores filter, sort
and page a parsed :class:`Query` themselves, by the rules of :mod:`backends.values` and
:mod:`backends.matching`, and keep reads to the owners asked for, so a list never loads a whole
collection and no partner's read ever holds another's document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from .conditions import where
from .errors import (
    BackendConfigurationError,
    BadGateway,
    DuplicateId,
    GatewayTimeout,
    NotStored,
    Refused,
    StorageError,
    StorageUnavailable,
    UnstorableDocument,
    Unsupported,
)
from .events import Delivery, DeliveryState, Event, Route
from .matching import matches
from .queries import Condition, ElementCondition, Instant, Op, Owners, Page, Query, SortKey, Value, ValueType
from .values import as_number, parse_instant, regex_search


class Transaction(Protocol):
    """Reads and writes that commit together, or not at all: documents and the events they raise."""

    async def get(self, kind: str, id: str, *, for_update: bool = False, owners: Owners = None) -> bytes | None:
        """The stored JSON of one document, or None (also when its owner is not among ``owners``).
        ``for_update`` locks it until commit."""

    async def create(self, kind: str, id: str, doc: bytes, *, owner: str | None = None) -> bytes | None:
        """Store a new document of ``owner``; raises :class:`DuplicateId` when ``(kind, id)`` exists
        (whoever owns it).

        None when ``doc`` is stored as given; a store that gives documents their id and href
        itself (a remote TMF server) returns the document as it stored it."""

    async def get_many(self, kind: str, ids: Sequence[str], *, for_update: bool = False) -> dict[str, bytes]:
        """The stored JSON of those of ``ids`` that are stored (whoever owns them), by id: one read
        for a batch (:mod:`handlers.usage.rating` looks up a thousand records at once).
        ``for_update`` locks them until commit, in id order (as :meth:`get` would one by one, sorted)."""

    async def create_many(
        self, kind: str, docs: Sequence[tuple[str, bytes]], *, owner: str | None = None
    ) -> list[bytes | None]:
        """Store new documents ``(id, JSON)`` of ``owner`` together, as :meth:`create` does one by one,
        and return what it returns for each (in a SQL store, one statement for all). Raises
        :class:`DuplicateId` when one is stored already; then some of the others may be stored, so
        the transaction must not commit (leaving its block with the exception rolls it back)."""

    async def replace(self, kind: str, id: str, doc: bytes) -> bytes | None:
        """Overwrite an existing document, keeping its owner; raises :class:`NotStored` when it does not exist.

        None when ``doc`` is stored as given, else the document as stored (see :meth:`create`)."""

    async def replace_many(self, kind: str, docs: Sequence[tuple[str, bytes]]) -> None:
        """Overwrite existing documents ``(id, JSON)`` together, as :meth:`replace` does one by one (in a
        SQL store, one statement for all); raises :class:`NotStored` when one is not stored, and then
        the transaction must not commit. For a store that keeps documents as given (not a remote TMF server)."""

    async def owner(self, kind: str, id: str) -> str | None:
        """The owner of a stored document; None when it has none, or there is no such document."""

    async def owner_many(self, kind: str, ids: Sequence[str]) -> dict[str, str | None]:
        """The owners of those of ``ids`` that are stored, by id (None: no owner): one read for a batch."""

    async def delete(self, kind: str, id: str) -> bool:
        """Remove a document; False when there was none."""

    async def query(self, kind: str, query: Query) -> Page:
        """Filter, sort and page the documents of one kind (of ``query.owners``), this transaction's writes included."""

    async def add_event(self, event: Event) -> None:
        """Record an event in the outbox (its write side); dispatchers see it once this commits,
        with its ``owner``."""

    async def add_events(self, events: Sequence[Event]) -> None:
        """Record events in the outbox in their order, as :meth:`add_event` does one by one."""


class DocumentStore(Protocol):
    """Documents chosen by URL (``memory://``, ``sqlite:///file``, ``postgresql+psycopg://``)."""

    url: str

    async def open(self) -> None:
        """Connect and create the schema when missing. Called once at start-up."""

    async def close(self) -> None:
        """Release connections."""

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A unit of work: committed on normal exit, rolled back when the block raises."""

    async def get(self, kind: str, id: str, *, owners: Owners = None) -> bytes | None:
        """Read one document outside an explicit transaction; None when missing or not of ``owners``."""

    async def query(self, kind: str, query: Query) -> Page:
        """Run a list query outside an explicit transaction; ``total`` and ``items`` agree, and count
        only the documents of ``query.owners``."""


class Outbox(Protocol):
    """The events committed with their changes, as dispatchers and operators use them.

    Deliveries of one subscription and one resource go out one at a time, in event order; several
    dispatchers never hold the same delivery at once. Every time given must be timezone-aware.
    """

    async def fan_out(self, route: Route, *, limit: int = 200) -> int:
        """Route up to ``limit`` events not yet fanned out, oldest first.

        Only one caller fans out at a time. For each event, one pending delivery, due now, is
        created for every subscription id ``route(event)`` returns, and the event is marked fanned
        out, all at once. Returns the number of events taken.
        """

    async def claim(self, *, limit: int, lease: float, now: dt.datetime) -> list[Delivery]:
        """Lease up to ``limit`` deliveries that are due, oldest event first.

        A delivery is claimable when it is pending, its ``next_attempt`` has come, no unexpired
        lease holds it, and no older pending delivery exists for the same subscription, kind and
        resource (so a resource's events reach a subscriber in order, even across retries). The
        claimed deliveries are leased until ``now + lease`` seconds; no other caller gets them
        before the lease expires.
        """

    async def renew(self, delivery_ids: Sequence[str], *, until: dt.datetime) -> None:
        """Extend the leases of deliveries still in flight to ``until``: a worker holds short leases and
        renews them while it works, so the leases of a worker that died run out soon. Deliveries no
        longer pending are left alone."""

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
        """A page of deliveries for operators, oldest event first, optionally of one state or subscription."""

    async def delivery(self, delivery_id: str) -> Delivery | None:
        """One delivery by id, or None (also for an id no delivery can have)."""

    async def count_deliveries(self, *, state: DeliveryState | None = None, subscription_id: str | None = None) -> int:
        """How many deliveries :meth:`deliveries` would list with no page window."""

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


class Backend(DocumentStore, Outbox, Protocol):
    """A store with its outbox in one place, so events commit with documents: what ``open_backend`` returns."""


__all__ = [
    "Backend",
    "BackendConfigurationError",
    "BadGateway",
    "Condition",
    "Delivery",
    "DeliveryState",
    "DocumentStore",
    "DuplicateId",
    "ElementCondition",
    "Event",
    "GatewayTimeout",
    "Instant",
    "NotStored",
    "Op",
    "Outbox",
    "Owners",
    "Page",
    "Query",
    "Refused",
    "Route",
    "SortKey",
    "StorageError",
    "StorageUnavailable",
    "Transaction",
    "UnstorableDocument",
    "Unsupported",
    "Value",
    "ValueType",
    "as_number",
    "matches",
    "parse_instant",
    "regex_search",
    "where",
]
