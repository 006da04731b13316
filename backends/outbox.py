"""What every outbox does alike: times in UTC, routing events to subscriptions, and delivery records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Protocol

from .events import Delivery, DeliveryState, Event, Route


def utc(value: dt.datetime, name: str) -> dt.datetime:
    """``value`` in UTC; a naive datetime is refused rather than guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, such as datetime.now(datetime.UTC).")
    return value.astimezone(dt.UTC)


def routed(events: Iterable[Event], route: Route) -> list[tuple[str, Event]]:
    """(subscription id, event) for each subscription ``route`` names, once per event, oldest event first.

    Every event is routed before the caller changes anything, so a route that raises leaves the
    outbox as it was.
    """
    return [(subscription_id, event) for event in events for subscription_id in dict.fromkeys(route(event))]


class DeliveryRecord(Protocol):
    """A delivery as a store keeps it (a row, a record): the id may be a UUID, the state its text."""

    @property
    def id(self) -> Any: ...

    @property
    def subscription_id(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def attempts(self) -> int: ...

    @property
    def next_attempt(self) -> dt.datetime: ...

    @property
    def last_error(self) -> str | None: ...


def delivery(record: DeliveryRecord, event: Event) -> Delivery:
    """The :class:`Delivery` a stored record describes."""
    return Delivery(
        id=str(record.id),
        subscription_id=record.subscription_id,
        event=event,
        state=DeliveryState(record.state),
        attempts=record.attempts,
        next_attempt=record.next_attempt,
        last_error=record.last_error,
    )


__all__ = ["DeliveryRecord", "delivery", "routed", "utc"]
