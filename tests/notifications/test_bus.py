"""The event bus publishes every event hub subscribers get, from the outbox: after commit, in order per
resource, with the hub's envelope, and a broker that is down delays publishing and loses nothing.

A broker inside the test process (``MemoryBroker``, the :class:`~tmfgate.notifications.brokers.Broker`
contract) stands in here; the real NATS, RabbitMQ and Kafka are in ``tests/notifications/test_brokers.py``."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from backends import open_backend
from backends.base import Backend, Event
from tests.mock_listeners import MockListener, MockListeners
from tests.notifications.test_delivery import API, SETTINGS, change, create, run_until, settle_all, subscribe
from tmfgate import codec
from tmfgate.calls import Later
from tmfgate.notifications.brokers import BrokerError, BusAddress, Refused
from tmfgate.notifications.bus import BUS_ID, EventBus
from tmfgate.notifications.delivery import DeliveryWorker
from tmfgate.notifications.reactions import Declined

pytestmark = pytest.mark.anyio
BUS_SETTINGS = SETTINGS.with_overrides(event_bus="nats://broker.test:4222?prefix=acme", delivery_attempts=2)


class MemoryBroker:
    """A broker in the test process: keeps what it acknowledged; ``down`` refuses connections and
    publishes, ``refused`` names resources whose events it turns down, ``connects`` counts the
    connections made."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str, str, bytes]] = []
        self.down = False
        self.refused: set[str] = set()
        self.connects = 0

    def __call__(self, address: BusAddress, timeout: float) -> MemoryBroker:
        return self

    async def connect(self) -> None:
        if self.down:
            raise BrokerError("connection refused")
        self.connects += 1

    async def publish(self, subject: str, key: str, message_id: str, body: bytes) -> None:
        if self.down:
            raise BrokerError("no ack")
        if key in self.refused:
            raise Refused(f"{subject}: message size exceeds maximum allowed")
        self.published.append((subject, key, message_id, body))

    async def close(self) -> None:
        return None


@pytest.fixture(params=["memory", "sqlite"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    backend = open_backend("memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/store.db")
    await backend.open()
    yield backend
    await backend.close()


@pytest.fixture
def memory_broker() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
async def bus(memory_broker: MemoryBroker) -> AsyncIterator[EventBus]:
    bus = EventBus(BUS_SETTINGS, [API], connect=memory_broker)
    yield bus
    await bus.close()


@pytest.fixture
async def dispatcher(backend: Backend, bus: EventBus, listeners: MockListeners) -> AsyncIterator[DeliveryWorker]:
    worker = DeliveryWorker(
        BUS_SETTINGS,
        backend,
        [API],
        internal=[bus.subscription()],
        transport=listeners.transport,
        resolve=listeners.resolve,
    )
    yield worker
    await worker.close()


@pytest.fixture
def listeners() -> MockListeners:
    return MockListeners()


@pytest.fixture
def listen(listeners: MockListeners) -> Callable[..., MockListener]:
    return listeners.start


async def test_every_event_the_hub_gets_is_published_in_order_with_the_hubs_envelope(
    backend: Backend,
    dispatcher: DeliveryWorker,
    memory_broker: MemoryBroker,
    listen: Callable[..., MockListener],
) -> None:
    listener = listen()
    await subscribe(backend, listener.callback)
    order = await create(backend)
    order, _ = await change(backend, order, state="inProgress")
    order, _ = await change(backend, order, state="completed", description="done")
    hub = listener.delivered
    await run_until(dispatcher, lambda: len(memory_broker.published) >= 3 and len(hub()) >= 3)
    await settle_all(dispatcher)

    assert [entry["raw"].encode() for entry in hub()] == [body for *_, body in memory_broker.published]
    subjects = [subject for subject, *_ in memory_broker.published]
    assert subjects == [
        "acme.tmf622_product_ordering.ProductOrderCreateEvent",
        "acme.tmf622_product_ordering.ProductOrderStateChangeEvent",
        "acme.tmf622_product_ordering.ProductOrderStateChangeEvent",
    ]
    for _, key, message_id, body in memory_broker.published:
        assert key == order["id"] and message_id == codec.loads(body)["eventId"]
    assert [codec.loads(body)["event"]["productOrder"]["state"] for *_, body in memory_broker.published] == [
        "acknowledged",
        "inProgress",
        "completed",
    ]
    assert memory_broker.connects == 1


async def test_nothing_is_published_before_the_change_commits(
    backend: Backend, dispatcher: DeliveryWorker, memory_broker: MemoryBroker
) -> None:
    with pytest.raises(RuntimeError):
        async with backend.transaction() as tx:
            await tx.create("productOrder", "rolled-back", codec.dumps({"id": "rolled-back"}))
            raise RuntimeError("the request failed")
    await create(backend)
    await run_until(dispatcher, lambda: len(memory_broker.published) >= 1)
    await settle_all(dispatcher)
    assert len(memory_broker.published) == 1 and b"rolled-back" not in memory_broker.published[0][3]


async def test_a_broker_that_is_down_delays_publishing_and_loses_nothing(
    backend: Backend, dispatcher: DeliveryWorker, memory_broker: MemoryBroker
) -> None:
    memory_broker.down = True
    orders = [await create(backend) for _ in range(3)]
    orders[0], _ = await change(backend, orders[0], state="inProgress")
    deadline = time.monotonic() + 10
    while True:  # until some delivery was tried more often than delivery_attempts allows before parking
        await dispatcher.step()
        pending = await backend.deliveries(subscription_id=BUS_ID)
        if max(d.attempts for d in pending) > BUS_SETTINGS.delivery_attempts + 1:
            break
        assert time.monotonic() < deadline, "the deliveries were not retried"
        await asyncio.sleep(0.05)
    assert memory_broker.published == []
    assert len(pending) == 4 and {d.state.value for d in pending} == {"pending"}  # deferred, never parked
    tried = [d for d in pending if d.attempts]
    assert tried and all("refused" in str(d.last_error) or "moment ago" in str(d.last_error) for d in tried)

    memory_broker.down = False
    await run_until(dispatcher, lambda: len(memory_broker.published) >= 4)
    await settle_all(dispatcher)
    published = [codec.loads(body) for *_, body in memory_broker.published]
    assert len(published) == 4 and len({event["eventId"] for event in published}) == 4
    first = [
        e["event"]["productOrder"]["state"] for e in published if e["event"]["productOrder"]["id"] == orders[0]["id"]
    ]
    assert first == ["acknowledged", "inProgress"]
    assert {d.state.value for d in await backend.deliveries(subscription_id=BUS_ID)} == {"delivered"}


async def test_publishing_rests_after_a_failure_instead_of_connecting_for_every_event(
    memory_broker: MemoryBroker, bus: EventBus
) -> None:
    event = Event("ev-1", API.name, "productOrder", "o-1", "ProductOrderCreateEvent", dt.datetime.now(dt.UTC), b"{}")
    memory_broker.down = True
    with pytest.raises(Later, match="connection refused"):
        await bus.publish(event)
    memory_broker.down = False
    with pytest.raises(Later, match="failed a moment ago"):
        await bus.publish(event)  # within the rest: no connection tried
    # One failure in a row counted: the rests do not grow the backoff, which is retry_delay for one.
    assert (
        memory_broker.connects == 0
        and 0.5 * BUS_SETTINGS.retry_delay <= bus.retry_delay() <= 1.5 * BUS_SETTINGS.retry_delay
    )
    bus._resting_until = 0.0  # the rest is over
    await bus.publish(event)
    assert memory_broker.connects == 1 and memory_broker.published == [
        ("acme.tmf622_product_ordering.ProductOrderCreateEvent", "o-1", "ev-1", b"{}")
    ]


async def test_an_event_the_broker_refuses_is_parked_with_its_reason_and_holds_up_no_other_resource(
    backend: Backend, dispatcher: DeliveryWorker, memory_broker: MemoryBroker, bus: EventBus
) -> None:
    refused, other = await create(backend), await create(backend)
    memory_broker.refused.add(refused["id"])
    refused, _ = await change(backend, refused, state="inProgress")
    other, _ = await change(backend, other, state="inProgress")

    def states(id: str) -> list[str]:
        bodies = [codec.loads(body) for _, key, _, body in memory_broker.published if key == id]
        return [body["event"]["productOrder"]["state"] for body in bodies]

    await run_until(dispatcher, lambda: states(other["id"]) == ["acknowledged", "inProgress"])
    await settle_all(dispatcher)
    mine = [d for d in await backend.deliveries(subscription_id=BUS_ID) if d.event.resource_id == refused["id"]]
    assert [(d.event.type, d.state.value, d.attempts) for d in mine] == [
        ("ProductOrderCreateEvent", "parked", BUS_SETTINGS.delivery_attempts),
        ("ProductOrderStateChangeEvent", "parked", BUS_SETTINGS.delivery_attempts),
    ]
    assert all("refused" in str(d.last_error) and "exceeds maximum" in str(d.last_error) for d in mine)
    # The broker was up all along: one connection, no rest, nothing of the other order waited.
    assert memory_broker.connects == 1 and bus._failures == 0 and states(refused["id"]) == []

    memory_broker.refused.clear()  # the operator mends the cause and redelivers, oldest first
    for delivery in mine:
        assert await backend.redeliver(delivery.id, now=dt.datetime.now(dt.UTC))
    await run_until(dispatcher, lambda: len(states(refused["id"])) == 2)
    assert states(refused["id"]) == ["acknowledged", "inProgress"]


async def test_a_refusal_that_closed_the_connection_makes_the_next_publish_connect_anew(
    memory_broker: MemoryBroker, bus: EventBus
) -> None:
    event = Event("ev-1", API.name, "productOrder", "o-1", "ProductOrderCreateEvent", dt.datetime.now(dt.UTC), b"{}")
    closing = Refused("406 PRECONDITION_FAILED", lost=True)

    async def refuse(*_: object) -> None:
        raise closing

    memory_broker.publish = refuse  # type: ignore[method-assign]
    with pytest.raises(Declined, match="refused event ev-1: 406"):
        await bus.publish(event)
    del memory_broker.publish  # the class's again
    await bus.publish(event)  # no rest: a refusal is not an outage
    assert memory_broker.connects == 2 and len(memory_broker.published) == 1
