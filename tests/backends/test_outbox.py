"""What every outbox does alike: times in UTC, routing, and records made deliveries."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest

from backends.events import DeliveryState, Event
from backends.outbox import delivery, routed, utc

AT = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)


def event(n: int) -> Event:
    return Event(f"e{n}", "api", "productOrder", f"o{n}", "ProductOrderCreateEvent", AT, head=b"{}", seq=n)


def test_utc_converts_aware_times_and_refuses_naive_ones() -> None:
    east = dt.datetime(2024, 5, 1, 17, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    assert utc(east, "now") == AT and utc(east, "now").tzinfo is dt.UTC
    with pytest.raises(ValueError, match="now must be a timezone-aware datetime"):
        utc(dt.datetime(2024, 5, 1), "now")


def test_each_subscription_once_per_event_in_the_route_s_order() -> None:
    routes = {1: ["b", "a", "b"], 2: [], 3: ["a"]}
    pairs = routed([event(1), event(2), event(3)], lambda e: routes[e.seq])
    assert [(subscription, e.seq) for subscription, e in pairs] == [("b", 1), ("a", 1), ("a", 3)]


def test_a_route_that_raises_routes_nothing() -> None:
    def route(e: Event) -> list[str]:
        if e.seq == 2:
            raise LookupError("subscriptions unavailable")
        return ["s1"]

    with pytest.raises(LookupError):
        routed([event(1), event(2)], route)


@dataclass
class Row:
    id: uuid.UUID
    subscription_id: str
    state: str
    attempts: int
    next_attempt: dt.datetime
    last_error: str | None


def test_a_stored_record_becomes_a_delivery() -> None:
    key = uuid.uuid4()
    made = delivery(Row(key, "s1", "parked", 3, AT, "HTTP 410"), event(1))
    assert (made.id, made.subscription_id, made.state, made.attempts) == (str(key), "s1", DeliveryState.PARKED, 3)
    assert (made.next_attempt, made.last_error, made.event) == (AT, "HTTP 410", event(1))
    with pytest.raises(ValueError):
        delivery(Row(key, "s1", "lost", 0, AT, None), event(1))
