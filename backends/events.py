"""What the outbox holds: events recorded with their change, and their deliveries to subscriptions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple


class Event(NamedTuple):
    """A notification, recorded in the transaction of the change it describes (the outbox).

    ``seq`` is the store's (0 before it is stored): it grows with every event, and for one resource
    in commit order, as each change holds the resource's lock (``get(..., for_update=True)``).
    The body is ``head + document + tail``: ``document`` is the resource's JSON as the caller
    stored it (None when the body carries none, and ``head`` is all of it), so a store may keep
    those bytes once for the document and its events. Equal events have equal bodies, however
    split. A named tuple: every write builds one, and a frozen dataclass costs a setattr a field.
    """

    id: str  # the eventId listeners de-duplicate on
    api: str  # the API (spec name) whose hub subscribers may receive it
    kind: str  # the resource kind, e.g. productOrder
    resource_id: str
    type: str  # the eventType, e.g. ProductOrderStateChangeEvent
    time: dt.datetime  # the eventTime, timezone-aware UTC
    head: bytes  # the body up to the document, or the whole body when there is none
    document: bytes | None = None
    tail: bytes = b""
    seq: int = 0
    owner: str | None = None  # the partner owning the resource (tenancy); None for the operator's own

    @property
    def body(self) -> bytes:
        """The notification as listeners receive it (before a subscription's ``fields=``)."""
        if self.document is None and not self.tail:
            return self.head
        return b"".join((self.head, self.document or b"", self.tail))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self[:6] == other[:6] and self.seq == other.seq and self.body == other.body

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash((self[:6], self.seq, self.body))


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


# Which subscriptions receive an event (their ids); the dispatcher's subscription filter.
Route = Callable[[Event], Iterable[str]]

__all__ = ["Delivery", "DeliveryState", "Event", "Route"]
