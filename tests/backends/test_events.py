"""Events in parts: the body they join into, equality however they are split, and their deliveries."""

from __future__ import annotations

import datetime as dt

from backends.events import Delivery, DeliveryState, Event

AT = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
DOCUMENT = b'{"id":"o1","state":"acknowledged"}'


def split(**parts: bytes | None) -> Event:
    return Event("e1", "productOrdering", "productOrder", "o1", "ProductOrderCreateEvent", AT, **parts)  # type: ignore[arg-type]


def test_the_body_is_the_parts_joined() -> None:
    event = split(head=b'{"eventId":"e1","event":{"productOrder":', document=DOCUMENT, tail=b"}}")
    assert event.body == b'{"eventId":"e1","event":{"productOrder":' + DOCUMENT + b"}}"
    assert split(head=b'{"eventId":"e1"}').body == b'{"eventId":"e1"}'
    assert split(head=b"{", tail=b"}").body == b"{}"  # a tail without a document


def test_a_body_without_a_document_is_the_head_itself() -> None:
    head = b'{"eventId":"e1"}'
    assert split(head=head).body is head  # nothing to join, so nothing copied


def test_events_are_equal_however_their_bodies_are_split() -> None:
    whole = split(head=b'{"e":' + DOCUMENT + b"}")
    parts = split(head=b'{"e":', document=DOCUMENT, tail=b"}")
    assert whole == parts and hash(whole) == hash(parts)
    assert (whole != parts) is False  # a tuple's own != would compare the parts
    assert whole != parts._replace(seq=2) and whole != split(head=b'{"e":{}}')
    assert whole != parts._replace(type="ProductOrderDeleteEvent")
    assert whole != ("e1",) and len({whole, parts}) == 1


def test_a_delivery_carries_its_event() -> None:
    event = split(head=b"{}")
    delivery = Delivery("d1", "s1", event, DeliveryState.PENDING, 0, AT)
    assert delivery.last_error is None and delivery.event.body == b"{}"
    assert DeliveryState("parked") is DeliveryState.PARKED and DeliveryState.DELIVERED == "delivered"
