"""Which events a change raises, their v4 envelope, and how subscriptions select and trim them."""

from __future__ import annotations

import datetime as dt

import pytest

from backends.base import Event
from tmfgate import codec, model, specs
from tmfgate.errors import InvalidQuery
from tmfgate.events import EventBuilder
from tmfgate.notifications.subscriptions import from_document, parse

API = model.build(specs.load(specs.specs_dir() / "tmf622_product_ordering.yaml"))
ORDERS = API.resources["productOrder"]
BUILDER = EventBuilder(API)
ORDER = {
    "id": "o1",
    "href": "http://h/productOrder/o1",
    "state": "acknowledged",
    "priority": "1",
    "productOrderItem": [{"id": "1", "action": "add", "state": "acknowledged"}],
}


def body(event: Event) -> dict:  # type: ignore[type-arg]
    return codec.loads(event.body)  # type: ignore[no-any-return]


def test_create_event_envelope() -> None:
    [event] = BUILDER.created(ORDERS, ORDER, "corr-1")
    envelope = body(event)
    assert event.type == envelope["eventType"] == envelope["title"] == "ProductOrderCreateEvent"
    assert envelope["eventId"] == event.id and envelope["correlationId"] == "corr-1"
    assert envelope["eventTime"].endswith("Z") and envelope["timeOcurred"] == envelope["eventTime"]
    assert envelope["domain"] == "productOrderingManagement"
    assert envelope["event"] == {"productOrder": ORDER}
    assert (event.api, event.kind, event.resource_id) == (API.name, "productOrder", "o1")


def test_state_change_attribute_change_and_information_required() -> None:
    pending = {**ORDER, "state": "pending", "priority": "2"}
    types = [e.type for e in BUILDER.changed(ORDERS, ORDER, pending, "c")]
    # A change that includes the state is a state change only (as the TM Forum reference does).
    assert types == ["ProductOrderStateChangeEvent", "ProductOrderInformationRequiredEvent"]
    avc = BUILDER.changed(ORDERS, ORDER, {**ORDER, "priority": "3", "note": [{"text": "x"}]}, "c")
    assert [e.type for e in avc] == ["ProductOrderAttributeValueChangeEvent"]
    assert body(avc[0])["fieldPath"] == "note,priority"
    assert BUILDER.changed(ORDERS, ORDER, dict(ORDER), "c") == []


def test_entering_resolved_raises_the_resolved_event_where_the_spec_defines_it() -> None:
    api = model.build(specs.load(specs.specs_dir() / "tmf621_trouble_ticket.yaml"))
    builder, tickets = EventBuilder(api), api.resources["troubleTicket"]
    ticket = {"id": "t1", "href": "http://h/troubleTicket/t1", "status": "inProgress"}
    resolved = [e.type for e in builder.changed(tickets, ticket, {**ticket, "status": "resolved"}, "c")]
    assert resolved == ["TroubleTicketStatusChangeEvent", "TroubleTicketResolvedEvent"]
    pending = [e.type for e in builder.changed(tickets, ticket, {**ticket, "status": "pending"}, "c")]
    assert pending == ["TroubleTicketStatusChangeEvent", "TroubleTicketInformationRequiredEvent"]
    # TMF622 defines no ResolvedEvent: a product order that enters a state named so raises none.
    assert [e.type for e in BUILDER.changed(ORDERS, ORDER, {**ORDER, "state": "resolved"}, "c")] == [
        "ProductOrderStateChangeEvent"
    ]


def test_delete_event() -> None:
    [event] = BUILDER.deleted(ORDERS, ORDER, "c")
    assert event.type == "ProductOrderDeleteEvent" and body(event)["event"]["productOrder"]["id"] == "o1"


def subscription(query: str, created: str = "2000-01-01T00:00:00.000Z") -> object:
    return from_document(API, {"id": "s", "callback": "http://127.0.0.1:9/l", "query": query, "createdAt": created})


def test_subscription_query_selects_events() -> None:
    [create] = BUILDER.created(ORDERS, ORDER, "c")
    [state] = [e for e in BUILDER.changed(ORDERS, ORDER, {**ORDER, "state": "completed"}, "c")]
    assert subscription("").accepts(create) and subscription("").accepts(state)  # type: ignore[attr-defined]
    only_state = subscription("eventType=ProductOrderStateChangeEvent")
    assert not only_state.accepts(create) and only_state.accepts(state)  # type: ignore[attr-defined]
    either = subscription("eventType=ProductOrderCreateEvent&eventType=ProductOrderStateChangeEvent")
    assert either.accepts(create) and either.accepts(state)  # type: ignore[attr-defined]
    completed = subscription("event.productOrder.state=completed")
    assert completed.accepts(state) and not completed.accepts(create)  # type: ignore[attr-defined]
    later = subscription("", created="2999-01-01T00:00:00.000Z")
    assert not later.accepts(create)  # type: ignore[attr-defined]


def test_fields_trim_the_payload() -> None:
    [create] = BUILDER.created(ORDERS, ORDER, "c")
    trimmed = codec.loads(subscription("fields=event.productOrder.state").payload(create))  # type: ignore[attr-defined]
    assert trimmed["event"] == {"productOrder": {"state": "acknowledged"}}
    assert {"eventId", "eventTime", "eventType"} <= trimmed.keys() and "domain" not in trimmed


@pytest.mark.parametrize(
    "query", ["eventType=NoSuchEvent", "state=completed", "event.productOrder.orderDate.gt=notadate"]
)
def test_bad_subscription_queries(query: str) -> None:
    with pytest.raises(InvalidQuery):
        parse(query, API)


def test_event_time_is_utc() -> None:
    [event] = BUILDER.created(ORDERS, ORDER, "c")
    assert event.time.tzinfo is not None and event.time.utcoffset() == dt.timedelta(0)


def test_the_envelope_is_written_around_the_stored_bytes() -> None:
    big = {**ORDER, "note": [{"text": 'é " \\ \u2028'}], "quantity": 123456789012345678901234567890}
    raw = codec.dumps(big)
    for event in (*BUILDER.created(ORDERS, big, 'c"1'), *BUILDER.changed(ORDERS, ORDER, big, "c", raw=raw)):
        envelope = body(event)
        assert list(envelope)[-1] == "event" and envelope["event"] == {"productOrder": big}
        assert event.body == codec.dumps(envelope)  # the same bytes as encoding it whole
    [created] = BUILDER.created(ORDERS, big, "c", raw=raw)
    assert created.body.endswith(b',"event":{"productOrder":' + raw + b"}}")
