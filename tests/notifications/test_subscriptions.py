"""Hub subscriptions: which events a query selects, the payload it trims, callbacks allowed, stored form."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from backends import open_backend
from backends.base import Event
from tmfgate import codec, model, specs, times
from tmfgate.errors import BadRequest, InvalidQuery
from tmfgate.notifications.callbacks import policy
from tmfgate.notifications.subscriptions import (
    HUB_KIND,
    event_types,
    from_document,
    load_all,
    parse,
    public,
    stored,
)
from tmfgate.settings import Settings

API = model.build(specs.load(specs.specs_dir() / "tmf622_product_ordering.yaml"))
SOON = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)  # after any subscription the tests make, however late they run


def event(type: str = "ProductOrderStateChangeEvent", state: str = "completed", api: str = API.name) -> Event:
    body = {
        "eventId": "e1",
        "eventTime": "t",
        "eventType": type,
        "event": {"productOrder": {"id": "o", "state": state}},
    }
    raw = codec.dumps(body)
    return Event(id="e1", api=api, kind="productOrder", resource_id="o", type=type, time=SOON, head=raw)


def subscription(query: str = "", **doc: Any) -> Any:
    return from_document(API, {"id": "s", "callback": "http://l/x", "query": query, "createdAt": times.now(), **doc})


def test_an_empty_query_takes_every_event_of_its_api_made_after_it() -> None:
    everything = subscription()
    assert everything.accepts(event()) and not everything.accepts(event(api="tmf641_service_ordering"))
    late = subscription(createdAt=times.stamp(SOON + dt.timedelta(seconds=1)))
    assert not late.accepts(event())


def test_event_types_and_content_filters_select() -> None:
    by_type = subscription("eventType=ProductOrderCreateEvent,ProductOrderStateChangeEvent")
    assert by_type.event_types == {"ProductOrderCreateEvent", "ProductOrderStateChangeEvent"}
    assert by_type.accepts(event()) and not by_type.accepts(event("ProductOrderDeleteEvent"))
    completed = subscription("event.productOrder.state=completed")
    assert completed.accepts(event()) and not completed.accepts(event(state="held"))


def test_fields_trim_the_payload_but_keep_the_envelope() -> None:
    trimmed = subscription("fields=event.productOrder.id")
    assert codec.loads(trimmed.payload(event())) == {
        "eventId": "e1",
        "eventTime": "t",
        "eventType": "ProductOrderStateChangeEvent",
        "event": {"productOrder": {"id": "o"}},
    }
    assert subscription().payload(event()) == event().body


@pytest.mark.parametrize(
    ("query", "message"),
    [("state=completed", "cannot use 'state'"), ("eventType=NoSuchEvent", "NoSuchEvent is not an event of this API")],
)
def test_a_query_that_means_nothing_is_refused(query: str, message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        parse(query, API)


def test_the_events_of_an_api_include_the_generic_four_of_each_resource() -> None:
    assert {"ProductOrderCreateEvent", "ProductOrderDeleteEvent", "CancelProductOrderStateChangeEvent"} <= event_types(
        API
    )


@pytest.mark.parametrize(
    ("callback", "hosts", "allowed"),
    [
        ("http://127.0.0.1:9/l", "127.0.0.1,localhost", True),
        ("https://hooks.example.com/l", "*.example.com", True),
        ("http://evil.test/l", "*.example.com", False),
        ("ftp://127.0.0.1/l", "*", False),
        ("/relative", "*", False),
    ],
)
def test_callbacks_go_only_to_allowed_http_hosts(callback: str, hosts: str, allowed: bool) -> None:
    checked = policy(Settings(callback_hosts=hosts))  # the syntax; addresses: test_callbacks.py
    if allowed:
        checked.check_url(callback)
    else:
        with pytest.raises(BadRequest):
            checked.check_url(callback)


@pytest.mark.anyio
async def test_stored_subscriptions_load_by_id_and_keep_their_secret_private() -> None:
    backend = open_backend("memory://")
    await backend.open()
    try:
        doc = {"id": "s1", "callback": "http://l/x", "query": "", "createdAt": times.now(), "secret": "k"}
        async with backend.transaction() as tx:
            await tx.create(HUB_KIND, "s1", stored(API, doc))
            await tx.create(HUB_KIND, "s2", codec.dumps({**doc, "id": "s2", "api": "not_served"}))
        loaded = await load_all(backend, [API])
        assert list(loaded) == ["s1"] and loaded["s1"].secret == "k" and loaded["s1"].api == API.name
        assert public({**doc, "api": API.name}) == {"id": "s1", "callback": "http://l/x", "query": ""}
    finally:
        await backend.close()
