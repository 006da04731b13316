"""The delivery worker on every store: success, retries, parking, signatures, order per resource,
subscription queries, and the run loop, to listeners behind a mock transport (one real listener process
checks the real HTTP path)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from backends import open_backend
from backends.base import Backend, DeliveryState, Event, Route, StorageUnavailable
from tests.conftest import LOOPBACK_CALLBACKS, own_postgres_database
from tests.listeners import ListenerProcess, event_summary
from tests.mock_listeners import Entry, MockListener, MockListeners
from tmfgate import codec, model, runtime, specs, times
from tmfgate.calls import Later
from tmfgate.events import EventBuilder, EventLog
from tmfgate.notifications import secrets
from tmfgate.notifications.delivery import DeliveryWorker
from tmfgate.notifications.posts import signature
from tmfgate.notifications.subscriptions import HUB_KIND, Subscription, stored
from tmfgate.settings import Settings

pytestmark = pytest.mark.anyio

API = model.build(specs.load(specs.specs_dir() / "tmf622_product_ordering.yaml"))
ORDERS = API.resources["productOrder"]
BUILDER = EventBuilder(API)
SETTINGS = Settings(
    delivery_attempts=3,
    delivery_timeout=5.0,
    retry_delay=0.05,
    retry_delay_max=0.2,
    callback_hosts=LOOPBACK_CALLBACKS + ",192.0.2.0/24",  # listener processes on loopback, mock ones at 192.0.2.N
    hub_secret_key=Fernet.generate_key().decode(),
)
Document = dict[str, Any]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this module's own: dispatchers take whatever the outbox holds."""
    with own_postgres_database("tmfgate_dispatch") as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """An empty store of each kind."""
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/store.db"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    backend = open_backend(url)
    await backend.open()
    yield backend
    if request.param == "postgresql":
        from backends.sql import SqlBackend
        from backends.sql.schema import deliveries, documents, events

        assert isinstance(backend, SqlBackend)
        async with backend.engine.begin() as connection:
            for table in (deliveries, events, documents):
                await connection.execute(table.delete())
    await backend.close()


@pytest.fixture
def listeners() -> MockListeners:
    """The test's listeners, reached through one mock transport."""
    return MockListeners()


@pytest.fixture
def listen(listeners: MockListeners) -> Callable[..., MockListener]:
    """Starts a listener (options of ``MockListener``)."""
    return listeners.start


def worker(settings: Settings, backend: Any, listeners: MockListeners, **options: Any) -> DeliveryWorker:
    """A delivery worker that reaches the test's listeners."""
    return DeliveryWorker(settings, backend, [API], transport=listeners.transport, resolve=listeners.resolve, **options)


@pytest.fixture
async def dispatcher(backend: Backend, listeners: MockListeners) -> AsyncIterator[DeliveryWorker]:
    dispatcher = worker(SETTINGS, backend, listeners)
    yield dispatcher
    await dispatcher.close()


# --- helpers: the changes a gateway stores, and running the dispatcher ----------------------------


async def subscribe(backend: Backend, callback: str, query: str = "", secret: str | None = None) -> str:
    doc: Document = {"id": str(uuid.uuid4()), "callback": callback, "query": query, "createdAt": times.now()}
    if secret:
        doc["secret"] = secret
    async with backend.transaction() as tx:
        await tx.create(HUB_KIND, doc["id"], stored(API, doc))
    return str(doc["id"])


async def unsubscribe(backend: Backend, id: str) -> None:
    async with backend.transaction() as tx:
        assert await tx.delete(HUB_KIND, id)


async def create(backend: Backend, **attributes: Any) -> Document:
    """Store a new order with its create event, as the gateway does."""
    id = str(uuid.uuid4())
    order: Document = {
        "id": id,
        "href": f"http://gw/productOrder/{id}",
        "@type": "ProductOrder",
        "state": "acknowledged",
        "productOrderItem": [{"id": "1", "action": "add"}],
        **attributes,
    }
    async with backend.transaction() as tx:
        await tx.create("productOrder", id, codec.dumps(order))
        for event in BUILDER.created(ORDERS, order, "corr"):
            await tx.add_event(event)
    return order


async def change(backend: Backend, order: Document, **attributes: Any) -> tuple[Document, list[Event]]:
    """Store a change of an order with the events it raises."""
    new = {**order, **attributes}
    events = BUILDER.changed(ORDERS, order, new, "corr")
    async with backend.transaction() as tx:
        await tx.replace("productOrder", order["id"], codec.dumps(new))
        for event in events:
            await tx.add_event(event)
    return new, events


async def run_until(dispatcher: DeliveryWorker, done: Callable[[], bool], timeout: float = 20) -> None:
    """Step the dispatcher until ``done`` holds; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the dispatcher did not finish in time"
        if not await dispatcher.step():
            await asyncio.sleep(0.02)


async def settle_all(dispatcher: DeliveryWorker, rounds: int = 5) -> None:
    """Step until nothing is left to do for a few rounds (retries here are due within 0.3 s)."""
    idle = 0
    for _ in range(400):
        if await dispatcher.step():
            idle = 0
        else:
            idle += 1
            if idle >= rounds:
                return
            await asyncio.sleep(0.1)


def count(n: int) -> Callable[[list[Entry]], bool]:
    return lambda entries: len(entries) >= n


# --- delivery ------------------------------------------------------------------------------------


async def test_an_event_arrives_as_stored_with_its_id_header(
    backend: Backend, dispatcher: DeliveryWorker, listen: Callable[..., MockListener]
) -> None:
    listener = listen()
    await subscribe(backend, listener.callback)
    order = await create(backend)
    await run_until(dispatcher, lambda: len(listener.delivered()) >= 1)
    [entry] = listener.delivered()
    body = entry["body"]
    assert entry["path"] == "/listener"  # the callback exactly as given
    assert body["eventType"] == "ProductOrderCreateEvent" and body["event"]["productOrder"] == order
    assert entry["headers"]["X-Event-Id"] == body["eventId"]
    assert entry["headers"]["Content-Type"] == "application/json"
    assert "X-Hub-Signature-256" not in entry["headers"]
    [delivery] = await backend.deliveries()
    assert delivery.state is DeliveryState.DELIVERED and delivery.attempts == 1


async def test_a_real_listener_process_gets_the_event_over_http(backend: Backend, tmp_path: Path) -> None:
    from tests.conftest import free_port

    dispatcher = DeliveryWorker(SETTINGS, backend, [API])  # the real transport
    try:
        with ListenerProcess(tmp_path / "listener.jsonl") as listener:
            await subscribe(backend, listener.callback)
            await subscribe(backend, f"http://127.0.0.1:{free_port()}/nobody")  # a closed port
            order = await create(backend)
            await run_until(dispatcher, lambda: len(listener.delivered()) >= 1)
            await settle_all(dispatcher)
            [entry] = listener.delivered()
            assert entry["body"]["event"]["productOrder"] == order
            assert entry["headers"]["X-Event-Id"] == entry["body"]["eventId"]
            assert entry["headers"]["User-Agent"].startswith("tmfgate/")
        [parked] = await backend.deliveries(state=DeliveryState.PARKED)
        assert parked.last_error is not None and parked.last_error.startswith("The listener could not be reached")
    finally:
        await dispatcher.close()


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_any_2xx_is_delivered(
    status: int, backend: Backend, dispatcher: DeliveryWorker, listen: Callable[..., MockListener]
) -> None:
    listener = listen(status=status)
    await subscribe(backend, listener.callback)
    await create(backend)
    await run_until(dispatcher, lambda: len(listener.received()) >= 1)
    await settle_all(dispatcher, rounds=2)
    assert len(listener.received()) == 1  # no retry
    [delivery] = await backend.deliveries()
    assert delivery.state is DeliveryState.DELIVERED and delivery.attempts == 1


async def test_a_failed_delivery_is_retried_until_the_listener_takes_it(
    backend: Backend, dispatcher: DeliveryWorker, listen: Callable[..., MockListener]
) -> None:
    listener = listen(fail_first=2)
    await subscribe(backend, listener.callback)
    await create(backend)
    await run_until(dispatcher, lambda: len(listener.delivered()) >= 1)
    received = listener.received()
    assert [entry["status"] for entry in received] == [500, 500, 201]
    assert len({entry["body"]["eventId"] for entry in received}) == 1  # the same event each time
    [delivery] = await backend.deliveries()
    assert delivery.state is DeliveryState.DELIVERED and delivery.attempts == 3


async def test_a_delivery_is_parked_after_the_configured_attempts(
    backend: Backend, dispatcher: DeliveryWorker, listen: Callable[..., MockListener]
) -> None:
    listener = listen(status=503)
    await subscribe(backend, listener.callback)
    await create(backend)
    await run_until(dispatcher, lambda: len(listener.received()) >= SETTINGS.delivery_attempts)
    await settle_all(dispatcher)
    assert len(listener.received()) == SETTINGS.delivery_attempts  # and no more
    [parked] = await backend.deliveries(state=DeliveryState.PARKED)
    assert parked.attempts == SETTINGS.delivery_attempts
    assert parked.last_error == "The listener answered 503."


async def test_an_unreachable_listener_is_retried_then_parked(backend: Backend, dispatcher: DeliveryWorker) -> None:
    await subscribe(backend, "http://nobody.test/listener")  # no listener there: the connection fails
    await create(backend)
    await settle_all(dispatcher)
    [parked] = await backend.deliveries(state=DeliveryState.PARKED)
    assert parked.attempts == SETTINGS.delivery_attempts
    assert parked.last_error is not None and parked.last_error.startswith("The listener could not be reached")


async def test_a_listener_slower_than_the_timeout_fails_the_attempt(backend: Backend, listeners: MockListeners) -> None:
    listener = listeners.start(delay=1.5)
    dispatcher = worker(SETTINGS.with_overrides(delivery_timeout=0.3, delivery_attempts=1), backend, listeners)
    try:
        await subscribe(backend, listener.callback)
        await create(backend)
        await settle_all(dispatcher, rounds=1)
        [parked] = await backend.deliveries(state=DeliveryState.PARKED)
        assert parked.last_error == "The listener did not answer within 0.3 s."
    finally:
        await dispatcher.close()


async def test_a_secret_signs_the_timestamp_and_body(
    backend: Backend, dispatcher: DeliveryWorker, listen: Callable[..., MockListener]
) -> None:
    listener = listen()
    sealed = secrets.seal("s3cr3t", SETTINGS.hub_secret_key)
    assert "s3cr3t" not in sealed  # stored encrypted
    await subscribe(backend, listener.callback, query="fields=event.productOrder.id", secret=sealed)
    await create(backend)
    await run_until(dispatcher, lambda: len(listener.delivered()) >= 1)
    [entry] = listener.delivered()
    raw = entry["raw"].encode()
    # What the README tells a listener to do: split t= and v1=, recompute, compare, check the age.
    header = entry["headers"]["X-Hub-Signature-256"]
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(b"s3cr3t", parts["t"].encode() + b"." + raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected) and header == signature("s3cr3t", raw, int(parts["t"]))
    assert abs(time.time() - int(parts["t"])) < 60


async def test_a_resource_s_events_arrive_in_order_across_retries(
    backend: Backend, dispatcher: DeliveryWorker, listen: Callable[..., MockListener]
) -> None:
    listener = listen(fail_first=3)
    await subscribe(backend, listener.callback)
    order = await create(backend)
    other = await create(backend)
    expected = [("ProductOrderCreateEvent", order["id"], "acknowledged")]
    for state in ("inProgress", "held", "inProgress", "completed"):
        order, _ = await change(backend, order, state=state)
        expected.append(("ProductOrderStateChangeEvent", order["id"], state))
    await run_until(dispatcher, lambda: len(listener.delivered()) >= len(expected) + 1)
    mine = [event_summary(e) for e in listener.delivered() if event_summary(e)[1] == order["id"]]
    assert mine == expected
    # No later event of the order was even tried before the earlier one had been taken.
    tried = [event_summary(e) for e in listener.received() if event_summary(e)[1] == order["id"]]
    assert [t for i, t in enumerate(tried) if i == 0 or t != tried[i - 1]] == expected
    assert [event_summary(e)[1] for e in listener.delivered()].count(other["id"]) == 1


# --- what each subscription receives ------------------------------------------------------------


async def test_subscription_queries_select_and_trim(
    backend: Backend, dispatcher: DeliveryWorker, listen: Callable[..., MockListener]
) -> None:
    everything, state_changes, completed, trimmed = listen(), listen(), listen(), listen()
    await subscribe(backend, everything.callback)
    await subscribe(backend, state_changes.callback, query="eventType=ProductOrderStateChangeEvent")
    await subscribe(backend, completed.callback, query="event.productOrder.state=completed")
    await subscribe(
        backend,
        trimmed.callback,
        query="eventType=ProductOrderCreateEvent&fields=event.productOrder.id,event.productOrder.state",
    )
    order = await create(backend, priority="1")
    order, _ = await change(backend, order, state="inProgress")
    order, _ = await change(backend, order, priority="2")
    order, _ = await change(backend, order, state="completed")
    await run_until(dispatcher, lambda: len(everything.delivered()) >= 4)
    await settle_all(dispatcher, rounds=2)

    def types(listener: MockListener) -> list[str]:
        return [entry["body"]["eventType"] for entry in listener.delivered()]

    assert types(everything) == [
        "ProductOrderCreateEvent",
        "ProductOrderStateChangeEvent",
        "ProductOrderAttributeValueChangeEvent",
        "ProductOrderStateChangeEvent",
    ]
    assert types(state_changes) == ["ProductOrderStateChangeEvent", "ProductOrderStateChangeEvent"]
    assert [event_summary(e)[2] for e in state_changes.delivered()] == ["inProgress", "completed"]
    assert [event_summary(e) for e in completed.delivered()] == [
        ("ProductOrderStateChangeEvent", order["id"], "completed")
    ]
    [entry] = trimmed.delivered()
    body = entry["body"]
    assert body["event"] == {"productOrder": {"id": order["id"], "state": "acknowledged"}}
    assert {"eventId", "eventTime", "eventType"} <= body.keys() and "description" not in body
    assert entry["headers"]["X-Event-Id"] == body["eventId"]


async def test_an_event_older_than_a_subscription_is_not_sent_to_it(
    backend: Backend, dispatcher: DeliveryWorker, listen: Callable[..., MockListener]
) -> None:
    early, late = listen(), listen()
    await subscribe(backend, early.callback)
    await create(backend)
    await asyncio.sleep(0.01)
    await subscribe(backend, late.callback)
    await create(backend)
    await run_until(dispatcher, lambda: len(early.delivered()) >= 2 and len(late.delivered()) >= 1)
    await settle_all(dispatcher, rounds=2)
    assert len(late.delivered()) == 1


class SubscribingMidway:
    """A backend on which a subscription, then a change, commit just before fan-out reads the events:
    after the dispatcher has read the subscriptions."""

    def __init__(self, backend: Backend, callback: str) -> None:
        self._backend, self.callback, self.done = backend, callback, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    async def fan_out(self, route: Route, *, limit: int = 200) -> int:
        if not self.done:
            self.done = True
            await subscribe(self._backend, self.callback)
            await create(self._backend)
        return await self._backend.fan_out(route, limit=limit)


async def test_a_subscription_made_while_a_batch_is_routed_still_gets_its_events(
    backend: Backend, listeners: MockListeners
) -> None:
    listener = listeners.start()
    midway = SubscribingMidway(backend, listener.callback)
    dispatcher = worker(SETTINGS, midway, listeners)
    try:
        await run_until(dispatcher, lambda: len(listener.delivered()) >= 1)
        assert midway.done
        await settle_all(dispatcher, rounds=2)
        assert len(listener.delivered()) == 1
    finally:
        await dispatcher.close()


async def test_an_event_that_cannot_be_evaluated_does_not_stop_delivery(
    backend: Backend, dispatcher: DeliveryWorker, listen: Callable[..., MockListener]
) -> None:
    filtered, everything = listen(), listen()
    await subscribe(backend, filtered.callback, query="event.productOrder.state=acknowledged")
    await subscribe(backend, everything.callback)
    async with backend.transaction() as tx:
        await tx.add_event(
            Event(
                id=str(uuid.uuid4()),
                api=API.name,
                kind="productOrder",
                resource_id="bad",
                type="ProductOrderCreateEvent",
                time=dt.datetime.now(dt.UTC),
                head=b"{not json",
            )
        )
    await create(backend)
    await run_until(dispatcher, lambda: len(filtered.delivered()) >= 1 and len(everything.delivered()) >= 2)
    assert "{not json" in [entry["raw"] for entry in everything.delivered()]  # two resources: any order


async def test_deliveries_to_a_removed_subscription_are_dropped(
    backend: Backend, dispatcher: DeliveryWorker, listen: Callable[..., MockListener]
) -> None:
    listener = listen()
    id = await subscribe(backend, listener.callback)
    await create(backend)
    assert await backend.fan_out(lambda event: [id]) == 1  # routed while the subscription existed
    await unsubscribe(backend, id)
    await settle_all(dispatcher, rounds=2)
    assert listener.received() == []
    assert await backend.deliveries(subscription_id=id) == []


# --- the loop ------------------------------------------------------------------------------------


async def test_run_delivers_as_changes_commit_and_stops_cleanly(backend: Backend, listeners: MockListeners) -> None:
    listener = listeners.start()
    committed = asyncio.Event()
    dispatcher = worker(SETTINGS, backend, listeners, committed=committed)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        await subscribe(backend, listener.callback)
        for _ in range(5):
            await create(backend)
            committed.set()
        await listener.wait_for(count(5), 20)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await dispatcher.close()


async def test_a_slow_listener_delays_only_its_own_deliveries(backend: Backend, listeners: MockListeners) -> None:
    slow, fast = listeners.start(delay=3.0), listeners.start()
    dispatcher = worker(SETTINGS, backend, listeners)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        await subscribe(backend, slow.callback)
        await subscribe(backend, fast.callback)
        started = time.monotonic()
        for _ in range(10):
            await create(backend)
        await fast.wait_for(count(10), 20)
        assert time.monotonic() - started < 2.7  # before the slow listener answered even once
        assert slow.delivered() == []
        await slow.wait_for(count(10), 20)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await dispatcher.close()


class FlakyBackend:
    """A backend whose outbox fails the first ``failures`` fan-outs, as a store going away would."""

    def __init__(self, backend: Backend, failures: int) -> None:
        self._backend, self.failures = backend, failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    async def fan_out(self, route: Route, *, limit: int = 200) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise StorageUnavailable("The store is unavailable: simulated.")
        return await self._backend.fan_out(route, limit=limit)


async def test_run_survives_store_errors(backend: Backend, listeners: MockListeners) -> None:
    listener = listeners.start()
    flaky = FlakyBackend(backend, failures=2)
    dispatcher = worker(SETTINGS, flaky, listeners)
    stop = asyncio.Event()
    await subscribe(backend, listener.callback)
    await create(backend)
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        await listener.wait_for(count(1), 20)
        assert flaky.failures == 0
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await dispatcher.close()


async def test_two_dispatchers_never_send_an_event_twice(backend: Backend, listeners: MockListeners) -> None:
    listener = listeners.start()
    url = backend.url
    other = backend if url.startswith("memory") else open_backend(url)
    if other is not backend:
        await other.open()
    one, two = worker(SETTINGS, backend, listeners), worker(SETTINGS, other, listeners)
    try:
        await subscribe(backend, listener.callback)
        for _ in range(20):
            await create(backend)
        deadline = time.monotonic() + 20
        while len(listener.delivered()) < 20 and time.monotonic() < deadline:
            await asyncio.gather(one.step(), two.step())
        ids = [entry["body"]["eventId"] for entry in listener.delivered()]
        assert len(ids) == 20 and len(set(ids)) == 20
    finally:
        await one.close()
        await two.close()
        if other is not backend:
            await other.close()


async def test_retry_delays_double_with_jitter_up_to_the_maximum(backend: Backend) -> None:
    dispatcher = DeliveryWorker(SETTINGS.with_overrides(retry_delay=1.0, retry_delay_max=30.0), backend, [API])
    try:
        for attempts, base in [(0, 1.0), (1, 2.0), (3, 8.0), (5, 30.0), (10_000, 30.0)]:
            delays = [dispatcher.retry_delay(attempts) for _ in range(200)]
            assert all(0.5 * base <= d <= 1.5 * base for d in delays)
            assert max(delays) - min(delays) > 0.2 * base  # jittered, not fixed
    finally:
        await dispatcher.close()


def test_dispatch_refuses_a_memory_store(capsys: pytest.CaptureFixture[str]) -> None:
    from tmfgate.cli import main

    assert main(["dispatch", "--database-url", "memory://"]) == 2
    assert "memory:// lives inside one gateway process" in capsys.readouterr().err


# --- retention -----------------------------------------------------------------------------------


async def test_a_running_dispatcher_prunes_delivered_events_past_the_retention_and_keeps_parked_ones(
    backend: Backend, listeners: MockListeners
) -> None:
    retention = 1.5  # seconds, as days
    settings = SETTINGS.with_overrides(delivery_attempts=1, event_retention=retention / 86_400)
    dispatcher = worker(settings, backend, listeners)
    taking, refusing = listeners.start(), listeners.start(status=500)
    await subscribe(backend, taking.callback, query="eventType=ProductOrderCreateEvent")
    await subscribe(backend, refusing.callback, query="eventType=ProductOrderStateChangeEvent")
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))
    try:
        orders = [await create(backend) for _ in range(3)]
        await change(backend, orders[0], state="inProgress")  # its one delivery is parked at once

        async def states() -> list[str]:
            return sorted(delivery.state.value for delivery in await backend.deliveries())

        deadline = time.monotonic() + 15
        while await states() != ["delivered"] * 3 + ["parked"]:
            assert time.monotonic() < deadline, await states()
            await asyncio.sleep(0.05)
        assert len(taking.delivered()) == 3
        while await states() != ["parked"]:  # the delivered ones go once older than the retention
            assert time.monotonic() < deadline + 10, await states()
            await asyncio.sleep(0.1)
        [parked] = await backend.deliveries()
        assert parked.event.type == "ProductOrderStateChangeEvent"  # its event is still there to resend
        everything = await backend.replay(
            "someone", dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), lambda event: True
        )
        assert everything == 1
    finally:
        stop.set()
        await running
        await dispatcher.close()


async def test_a_reaction_that_asks_for_later_waits_in_the_outbox_and_is_never_parked(backend: Backend) -> None:
    runs: list[dt.datetime] = []
    due: list[dt.datetime] = []  # set by the first run: a loaded machine may take long to get there

    async def hold(event: Event, final: bool) -> None:
        runs.append(dt.datetime.now(dt.UTC))
        if not due:
            due.append(runs[0] + dt.timedelta(seconds=0.5))
        if runs[-1] < due[0]:
            raise Later(due[0], "held until its start")

    held = Subscription(
        id="tmfgate.holding",
        api=None,
        callback="internal:holding",
        secret=None,
        event_types=frozenset({"ProductOrderCreateEvent"}),
        conditions=(),
        fields=None,
        created_at="",
        reaction=hold,
        sources=frozenset({(API.name, "ProductOrderCreateEvent")}),
    )
    settings = Settings(delivery_attempts=1, delivery_timeout=5.0, retry_delay=0.05, retry_delay_max=0.2)
    dispatcher = DeliveryWorker(settings, backend, [API], internal=[held])
    try:
        await create(backend)
        await run_until(dispatcher, lambda: len(runs) == 1)
        [pending] = await backend.deliveries(state=DeliveryState.PENDING)
        assert pending.last_error == "held until its start"  # one attempt of one allowed, and not parked
        assert await backend.deliveries(state=DeliveryState.PARKED) == []
        await run_until(dispatcher, lambda: len(runs) == 2)
        assert runs[1] >= due[0]
        await settle_all(dispatcher)
        assert [d.state for d in await backend.deliveries()] == [DeliveryState.DELIVERED]
    finally:
        await dispatcher.close()


async def test_a_change_to_a_service_is_stored_once_and_each_api_s_subscribers_get_it_in_their_envelope(
    backend: Backend, listeners: MockListeners
) -> None:
    """TMF638 and TMF640 both serve services: one outbox row per event, delivered to both hubs."""
    apis = {api.name: api for api in runtime.load_apis()}
    inventory, activation = apis["tmf638_service_inventory"], apis["tmf640_service_activation"]
    log = EventLog([activation, inventory])
    heard = {name: listeners.start() for name in ("inventory", "activation", "activation v5", "filtered")}
    started = dt.datetime.now(dt.UTC)
    async with backend.transaction() as tx:
        for name, api, extra in (
            ("inventory", inventory, {}),
            ("activation", activation, {}),
            ("activation v5", activation, {"version": "5", "storedQuery": ""}),
            ("filtered", activation, {"query": "eventType=ServiceStateChangeEvent"}),
        ):
            doc = {
                "id": name.replace(" ", "-"),
                "callback": heard[name].callback,
                "query": "",
                "createdAt": times.now(),
            }
            await tx.create(HUB_KIND, doc["id"], stored(api, {**doc, **extra}))
    service: Document = {"id": "s-1", "href": "http://gw/service/s-1", "@type": "Service", "state": "designed"}
    active = {**service, "state": "active"}
    async with backend.transaction() as tx:
        await tx.create("service", "s-1", codec.dumps(service))
        await log.created(tx, "service", service, "corr", codec.dumps(service))
    async with backend.transaction() as tx:
        await tx.replace("service", "s-1", codec.dumps(active))
        await log.changed(tx, "service", service, active, "corr", codec.dumps(active))
    dispatcher = DeliveryWorker(
        SETTINGS, backend, list(apis.values()), transport=listeners.transport, resolve=listeners.resolve
    )
    try:
        await run_until(dispatcher, lambda: all(len(h.delivered()) >= 2 for n, h in heard.items() if n != "filtered"))
        await settle_all(dispatcher, rounds=2)
    finally:
        await dispatcher.close()
    bodies = {name: [entry["body"] for entry in listener.delivered()] for name, listener in heard.items()}
    assert [b["eventType"] for b in bodies["inventory"]] == ["ServiceCreateEvent", "ServiceStateChangeEvent"]
    assert [b["eventType"] for b in bodies["filtered"]] == ["ServiceStateChangeEvent"]
    ids = [b["eventId"] for b in bodies["inventory"]]
    for name in ("activation", "activation v5"):
        assert [b["eventId"] for b in bodies[name]] == ids  # the same events, not copies
    assert {b["domain"] for b in bodies["inventory"]} == {"serviceInventory"}
    assert {b["domain"] for b in bodies["activation"]} == {"serviceActivationAndConfiguration"}
    assert bodies["activation"][1] == {**bodies["inventory"][1], "domain": "serviceActivationAndConfiguration"}
    assert {b["domain"] for b in bodies["activation v5"]} == {"serviceActivationAndConfiguration"}
    assert (
        bodies["activation v5"][1]["@type"] == "ServiceStateChangeEvent"
        and "timeOcurred" not in bodies["activation v5"][1]
    )
    assert bodies["activation v5"][1]["event"]["service"]["state"] == "active"
    # The outbox holds one row per event: replaying all of it to one subscription finds two.
    assert await backend.replay("inventory", started - dt.timedelta(seconds=1), lambda event: True) == 2


async def test_a_reaction_is_told_which_attempt_is_the_last_before_parking(backend: Backend) -> None:
    finals: list[bool] = []

    async def fail(event: Event, final: bool) -> None:
        finals.append(final)
        raise RuntimeError("the OSS is down")

    failing = Subscription(
        id="tmfgate.failing",
        api=None,
        callback="internal:failing",
        secret=None,
        event_types=frozenset({"ProductOrderCreateEvent"}),
        conditions=(),
        fields=None,
        created_at="",
        reaction=fail,
        sources=frozenset({(API.name, "ProductOrderCreateEvent")}),
    )
    settings = Settings(delivery_attempts=3, delivery_timeout=5.0, retry_delay=0.01, retry_delay_max=0.02)
    dispatcher = DeliveryWorker(settings, backend, [API], internal=[failing])
    try:
        await create(backend)
        await run_until(dispatcher, lambda: len(finals) == 3)
        await settle_all(dispatcher)
        assert finals == [False, False, True]
        [parked] = await backend.deliveries(state=DeliveryState.PARKED)
        assert "the OSS is down" in (parked.last_error or "")
    finally:
        await dispatcher.close()
