"""One POST of a notification: its headers and signature, and what each answer or failure counts as."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import httpx
import pytest

from backends.base import Event
from tests.conftest import LOOPBACK_CALLBACKS
from tmfgate.notifications.posts import MAX_ERROR_LENGTH, Poster, headers, short, signature
from tmfgate.notifications.subscriptions import Subscription
from tmfgate.settings import Settings

pytestmark = pytest.mark.anyio

EVENT = Event(
    id="ev-1",
    api="tmf629_customer",
    kind="customer",
    resource_id="c-1",
    type="CustomerCreateEvent",
    time=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    head=b'{"eventId":"ev-1","eventType":"CustomerCreateEvent","event":{"customer":{"id":"c-1"}}}',
)


def subscription(callback: str = "http://127.0.0.1:9/listener") -> Subscription:
    return Subscription("s-1", "tmf629_customer", callback, None, None, (), None, "")


def test_the_signature_is_the_hmac_of_the_timestamp_and_the_body() -> None:
    expected = hmac.new(b"key", b"1700000000." + EVENT.body, hashlib.sha256).hexdigest()
    assert signature("key", EVENT.body, 1700000000) == f"t=1700000000,v1={expected}"
    assert "X-Hub-Signature-256" in headers(EVENT, EVENT.body, "key")
    assert headers(EVENT, EVENT.body, None) == {"Content-Type": "application/json", "X-Event-Id": "ev-1"}


def test_long_errors_are_cut_to_what_is_stored() -> None:
    assert short("x" * 10) == "x" * 10
    assert len(short("x" * 2000)) == MAX_ERROR_LENGTH and short("x" * 2000).endswith("...")


@pytest.mark.parametrize(
    ("status", "delivered", "error"),
    [(201, True, None), (204, True, None), (500, False, "The listener answered 500."), (302, False, "answered 302")],
)
async def test_any_2xx_is_delivered_and_anything_else_is_not(status: int, delivered: bool, error: str | None) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, headers={"Location": "http://127.0.0.1:9/elsewhere"})

    poster = Poster(Settings(callback_hosts=LOOPBACK_CALLBACKS), transport=httpx.MockTransport(answer))
    try:
        outcome = await poster.post(subscription(), EVENT)
    finally:
        await poster.close()
    assert outcome.delivered is delivered
    assert (outcome.error is None) if error is None else (error in str(outcome.error))
    assert seen[0].content == EVENT.body and seen[0].headers["X-Event-Id"] == "ev-1"


async def test_a_refused_or_unreachable_callback_is_a_failure_with_its_reason() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    refusing = Poster(Settings(), transport=httpx.MockTransport(fail))
    allowing = Poster(Settings(callback_hosts=LOOPBACK_CALLBACKS), transport=httpx.MockTransport(fail))
    try:
        refused = await refusing.post(subscription(), EVENT)
        unreachable = await allowing.post(subscription(), EVENT)
    finally:
        await refusing.close()
        await allowing.close()
    assert not refused.delivered and "not a public address" in str(refused.error)
    assert not unreachable.delivered and "could not be reached" in str(unreachable.error)
