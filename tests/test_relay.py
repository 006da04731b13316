"""The relay against a scripted upstream hub (httpx's MockTransport): subscribing at start, checking
the subscription stands and making it again when the upstream forgot it, the hubless case, and what
it does with notifications (hrefs rewritten, de-duplicated by eventId, signatures checked)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from backends.base import Event
from backends.routed import RoutedBackend
from backends.upstream.store import UpstreamStore
from tests.conftest import TEST_SETTINGS
from tmfgate.gateway import Gateway
from tmfgate.notifications.posts import signature
from tmfgate.relay import PREFIX, ListenerMiddleware, Relay, local_backend
from tmfgate.runtime import load_apis
from tmfgate.settings import Settings

pytestmark = pytest.mark.anyio

BASE = "/tmf-api/resourceInventoryManagement/v4"
OSS = "http://oss" + BASE
API = "tmf639_resource_inventory"
APIS = load_apis()


class Hub:
    """An upstream's hub: subscriptions made, checked and deleted; it may forget them, lack a hub or be down."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, dict[str, object]] = {}
        self.made = 0
        self.down = False
        self.status: int | None = None  # what POST /hub answers instead of 201
        self.calls: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path.removeprefix(BASE)
        if request.method == "POST" and path == "/hub":
            body = orjson.loads(request.content)
            if self.status is not None and not (self.status == 400 and "secret" not in body):
                return httpx.Response(self.status, json={"code": str(self.status), "reason": "no"})
            self.made += 1
            id = f"s-{self.made}"
            self.subscriptions[id] = body
            return httpx.Response(201, json={"id": id, **body})
        id = path.removeprefix("/hub/")
        if id not in self.subscriptions:
            return httpx.Response(404, json={"code": "404", "reason": "Not found"})
        if request.method == "DELETE":
            del self.subscriptions[id]
            return httpx.Response(204)
        return httpx.Response(200, json={"id": id, **self.subscriptions[id]})


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    config = tmp_path / "tmfgate.yaml"
    config.write_text(f"apis:\n  tmf639: {{upstream: {{url: '{OSS}'}}}}\n")
    settings = Settings(database_url="memory://", config=str(config), public_url="http://gw", **TEST_SETTINGS)
    yield Gateway(settings, APIS)


@pytest.fixture
def hub() -> Hub:
    return Hub()


@pytest.fixture
async def relay(gateway: Gateway, hub: Hub) -> AsyncIterator[Relay]:
    """A relay started against ``hub``, with the gateway's local store open (its events go there)."""
    local = local_backend(gateway.backend)
    await local.open()
    made = Relay(gateway, transport=httpx.MockTransport(hub))
    await made.start()
    yield made
    await made.stop()
    await local.close()


def stores(gateway: Gateway) -> list[UpstreamStore]:
    assert isinstance(gateway.backend, RoutedBackend)
    return [s for s in gateway.backend.routes.values() if isinstance(s, UpstreamStore)]


def deaf(gateway: Gateway) -> bool:
    (store,) = set(stores(gateway))
    return store.deaf


async def test_creates_wait_until_the_subscription_stands(gateway: Gateway, hub: Hub) -> None:
    hub.down = True
    relay = Relay(gateway, transport=httpx.MockTransport(hub))
    assert deaf(gateway)  # from the start, before any call
    await relay.start()
    try:
        assert relay.subscriptions == {} and deaf(gateway)
        hub.down = False
        await relay.check()  # what the check loop does once the upstream is back
        assert relay.subscriptions == {API: "s-1"} and not deaf(gateway)
    finally:
        await relay.stop()


async def test_start_subscribes_on_our_public_url_and_a_clean_stop_unsubscribes(gateway: Gateway, hub: Hub) -> None:
    relay = Relay(gateway, transport=httpx.MockTransport(hub))
    await relay.start()
    (made,) = hub.subscriptions.values()
    assert made["callback"] == f"http://gw{PREFIX}{API}/{relay.secret}/listener" == relay.callback(API)
    assert made["secret"] == relay.secret
    await relay.stop()
    assert hub.subscriptions == {} and relay.subscriptions == {}


async def test_a_standing_subscription_is_checked_and_kept(relay: Relay, hub: Hub) -> None:
    await relay.check()
    assert ("GET", f"{BASE}/hub/s-1") in hub.calls and hub.made == 1 and relay.subscriptions == {API: "s-1"}


async def test_a_forgotten_subscription_is_made_again(relay: Relay, hub: Hub, gateway: Gateway) -> None:
    hub.subscriptions.clear()  # the upstream restarted on an empty store
    await relay.check()
    assert relay.subscriptions == {API: "s-2"} and set(hub.subscriptions) == {"s-2"} and not deaf(gateway)


async def test_an_upstream_down_during_a_check_keeps_the_subscription(relay: Relay, hub: Hub) -> None:
    hub.down = True
    await relay.check()
    assert relay.subscriptions == {API: "s-1"} and hub.made == 1


async def test_an_upstream_without_a_hub_has_its_events_raised_by_the_gateway(gateway: Gateway, hub: Hub) -> None:
    hub.status = 404
    relay = Relay(gateway, transport=httpx.MockTransport(hub))
    await relay.start()
    try:
        assert relay.hubless == {API} and not deaf(gateway)
        assert all(not store.raises_events for store in stores(gateway))
        calls = len(hub.calls)
        await relay.check()
        assert len(hub.calls) == calls  # nothing to check at a hub that is not there
    finally:
        await relay.stop()


async def test_an_upstream_without_a_hub_is_polled_when_polling_is_on(tmp_path: Path, hub: Hub) -> None:
    config = tmp_path / "tmfgate.yaml"
    config.write_text(f"apis:\n  tmf639: {{upstream: {{url: '{OSS}'}}}}\n")
    settings = Settings(database_url="memory://", config=str(config), upstream_poll=60, **TEST_SETTINGS)
    gateway = Gateway(settings, APIS)
    hub.status = 501
    relay = Relay(gateway, transport=httpx.MockTransport(hub))
    await relay.start()
    try:
        assert set(relay.pollers) == {API} and "resource" in relay.pollers[API].kinds
        # the poller announces every change, the gateway's own included: none is raised twice
        assert all(store.raises_events for store in stores(gateway)) and not deaf(gateway)
    finally:
        await relay.stop()
    assert relay.pollers[API]._task is None


async def test_a_hub_that_keeps_no_secrets_is_subscribed_without_one(gateway: Gateway, hub: Hub) -> None:
    hub.status = 400
    relay = Relay(gateway, transport=httpx.MockTransport(hub))
    await relay.start()
    try:
        assert relay.subscriptions == {API: "s-1"} and "secret" not in hub.subscriptions["s-1"]
    finally:
        await relay.stop()


def notification(event_id: str = "e-1") -> bytes:
    resource = {"id": "r-7", "href": f"{OSS}/resource/r-7", "place": {"href": "http://oss/tmf-api/geo/v4/place/p"}}
    return orjson.dumps({"eventId": event_id, "eventType": "ResourceCreateEvent", "event": {"resource": resource}})


async def outbox(gateway: Gateway) -> list[Event]:
    seen: list[Event] = []

    def route(event: Event) -> list[str]:
        seen.append(event)
        return []

    await local_backend(gateway.backend).fan_out(route)
    return seen


async def test_a_notification_is_republished_once_with_our_hrefs(relay: Relay, gateway: Gateway) -> None:
    first = await relay.receive(API, relay.secret, notification(), None)
    again = await relay.receive(API, relay.secret, notification(), None)
    assert (first.status, again.status) == (202, 200)
    (event,) = await outbox(gateway)
    assert (event.id, event.api, event.kind, event.resource_id) == ("e-1", API, "resource", "r-7")
    body = orjson.loads(event.body)["event"]["resource"]
    assert (
        body["href"] == f"http://gw{BASE}/resource/r-7" and body["place"]["href"] == "http://gw/tmf-api/geo/v4/place/p"
    )


async def test_a_signed_notification_must_be_signed_by_us_and_recently(relay: Relay) -> None:
    body = notification("e-2")
    now = int(time.time())
    assert (await relay.receive(API, relay.secret, body, signature(relay.secret, body, now))).status == 202
    stale = signature(relay.secret, notification("e-3"), now - 3600)
    assert (await relay.receive(API, relay.secret, notification("e-3"), stale)).status == 403
    forged = signature("not-ours", notification("e-4"), now)
    assert (await relay.receive(API, relay.secret, notification("e-4"), forged)).status == 403


@pytest.mark.parametrize(
    ("api", "token", "body", "status"),
    [
        ("tmf622_product_ordering", "ours", notification(), 404),
        (API, "guessed", notification(), 403),
        (API, "ours", b"not json", 400),
        (API, "ours", b'{"eventId": "e", "eventType": "X", "event": {"a": {}, "b": {}}}', 400),
    ],
)
async def test_a_notification_we_cannot_take_is_refused_and_nothing_is_kept(
    relay: Relay, gateway: Gateway, api: str, token: str, body: bytes, status: int
) -> None:
    reply = await relay.receive(api, relay.secret if token == "ours" else token, body, None)
    assert reply.status == status and await outbox(gateway) == []


async def test_the_listener_takes_posts_at_its_path_and_lets_the_rest_through(relay: Relay) -> None:
    async def rest(scope: object, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 299, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    app = ListenerMiddleware(rest, relay)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        listener = f"{PREFIX}{API}/{relay.secret}/listener"
        assert (await client.post(listener, content=notification("e-9"))).status_code == 202
        refused = await client.get(listener)
        assert refused.status_code == 405 and refused.headers["allow"] == "POST"
        assert (await client.get(f"{BASE}/resource")).status_code == 299
