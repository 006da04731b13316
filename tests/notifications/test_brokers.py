"""The event bus's brokers, for real: NATS JetStream at 127.0.0.1:4222 and RabbitMQ at 127.0.0.1:5672
(skipped, saying so, when none answers), Kafka where ``TMFGATE_TEST_KAFKA`` names a broker (none runs
on this project's machines); a broker of each kind that is down fails with a BrokerError the bus
retries; an event NATS or RabbitMQ refuses is parked with its reason and redelivered once mended; and
the grammar of ``--event-bus`` URLs."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from backends import open_backend
from backends.base import Backend, Delivery, DeliveryState, Event
from tests.api.clients import in_process
from tests.conftest import free_port
from tests.notifications.test_delivery import API, SETTINGS, change, create
from tmfgate import codec
from tmfgate.notifications.brokers import BrokerError, BusAddress, broker
from tmfgate.notifications.bus import BUS_ID, EventBus
from tmfgate.notifications.delivery import DeliveryWorker

pytestmark = pytest.mark.anyio
PARTY = {"id": "p-1", "@referredType": "Individual"}
NATS = os.environ.get("TMFGATE_TEST_NATS", "127.0.0.1:4222")
AMQP = os.environ.get("TMFGATE_TEST_AMQP", "guest:guest@127.0.0.1:5672")
KAFKA = os.environ.get("TMFGATE_TEST_KAFKA", "127.0.0.1:9092")


def _needs(server: str, name: str, module: str) -> None:
    pytest.importorskip(module, reason=f"the {name} client ({module}) is not installed: pip install -e '.[test]'")
    host, port = server.rsplit("@", 1)[-1].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        pytest.skip(f"no {name} broker answers at {host}:{port}")


@pytest.fixture
def prefix() -> str:
    """Subjects of this test's own: the brokers are shared with other test runs."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    backend = open_backend("memory://")
    await backend.open()
    yield backend
    await backend.close()


async def publish_orders(backend: Backend, url: str) -> list[Event]:
    """Two orders, the first changed twice, published through the outbox to the bus at ``url``; the
    events in the order the bus took them (each resource's in order)."""
    settings = SETTINGS.with_overrides(event_bus=url)
    bus = EventBus(settings, [API])
    worker = DeliveryWorker(settings, backend, [API], internal=[bus.subscription()])
    try:
        first = await create(backend)
        await create(backend)
        first, _ = await change(backend, first, state="inProgress")
        await change(backend, first, state="completed")
        deadline = time.monotonic() + 30
        while True:
            await worker.step()
            done = await backend.deliveries(subscription_id=BUS_ID)
            if len(done) == 4 and all(d.state is DeliveryState.DELIVERED for d in done):
                return [d.event for d in done]
            assert time.monotonic() < deadline, f"not published: {[d.last_error for d in done]}"
            await asyncio.sleep(0.02)
    finally:
        await worker.close()
        await bus.close()


async def run_bus(backend: Backend, url: str, done: Callable[[list[Delivery]], bool]) -> list[Delivery]:
    """Dispatch to the bus at ``url`` (two attempts before parking) until ``done`` holds of the bus's
    deliveries; returns them."""
    settings = SETTINGS.with_overrides(event_bus=url, delivery_attempts=2)
    bus = EventBus(settings, [API])
    worker = DeliveryWorker(settings, backend, [API], internal=[bus.subscription()])
    try:
        deadline = time.monotonic() + 30
        while True:
            await worker.step()
            found = await backend.deliveries(subscription_id=BUS_ID)
            if done(found):
                return found
            assert time.monotonic() < deadline, f"not settled: {[(d.state, d.last_error) for d in found]}"
            await asyncio.sleep(0.02)
    finally:
        await worker.close()
        await bus.close()


def _settled(count: int) -> Callable[[list[Delivery]], bool]:
    return lambda found: len(found) == count and all(d.state is not DeliveryState.PENDING for d in found)


async def _redeliver_parked(backend: Backend, found: list[Delivery]) -> None:
    for delivery in found:
        if delivery.state is DeliveryState.PARKED:
            assert await backend.redeliver(delivery.id, now=dt.datetime.now(dt.UTC))


def _by_resource(pairs: list[tuple[str, bytes]]) -> dict[str, list[tuple[str, bytes]]]:
    found: dict[str, list[tuple[str, bytes]]] = {}
    for subject, body in pairs:
        found.setdefault(codec.loads(body)["event"]["productOrder"]["id"], []).append((subject, body))
    return found


def _expected(prefix: str, events: list[Event]) -> dict[str, list[tuple[str, bytes]]]:
    return _by_resource([(f"{prefix}.{event.api}.{event.type}", event.body) for event in events])


async def test_nats_jetstream_stores_every_event_in_order_per_resource(backend: Backend, prefix: str) -> None:
    _needs(NATS, "NATS", "nats")
    import nats

    stream = prefix.upper()
    client = await nats.connect(f"nats://{NATS}")
    js = client.jetstream()
    try:
        events = await publish_orders(backend, f"nats://{NATS}?prefix={prefix}")
        stored = [await js.get_msg(stream, seq) for seq in range(1, 5)]
        assert (await js.stream_info(stream)).state.messages == 4
        assert _by_resource([(m.subject, m.data) for m in stored]) == _expected(prefix, events)
        assert [(m.headers or {}).get("Nats-Msg-Id") for m in stored] == [
            codec.loads(m.data)["eventId"] for m in stored
        ]
    finally:
        await js.delete_stream(stream)
        await client.close()


async def test_a_gateway_with_event_bus_publishes_what_its_api_writes(prefix: str) -> None:
    _needs(NATS, "NATS", "nats")
    import nats

    url = f"nats://{NATS}?prefix={prefix}&stream={prefix.upper()}S"
    with in_process(event_bus=url) as client:
        made = client.post(
            "/tmf-api/customerManagement/v4/customer",
            json={"name": "Ada", "engagedParty": {"id": "p-1", "@referredType": "Individual"}},
        )
        assert made.status_code == 201
        nc = await nats.connect(f"nats://{NATS}")
        js = nc.jetstream()
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    message = await js.get_msg(f"{prefix.upper()}S", 1)
                    break
                except (nats.js.errors.NotFoundError, nats.errors.TimeoutError):
                    # Not published yet; or JetStream, busy making the gateway's stream, did not answer in time.
                    assert time.monotonic() < deadline, "the gateway published nothing"
                    await asyncio.sleep(0.05)
            event = codec.loads(message.data)
            assert message.subject == f"{prefix}.tmf629_customer.CustomerCreateEvent"
            assert event["eventType"] == "CustomerCreateEvent" and event["event"]["customer"]["id"] == made.json()["id"]
        finally:
            await js.delete_stream(f"{prefix.upper()}S")
            await nc.close()


async def test_rabbitmq_routes_every_event_to_the_queues_bound_to_its_api(backend: Backend, prefix: str) -> None:
    _needs(AMQP, "RabbitMQ", "aio_pika")
    import aio_pika

    connection = await aio_pika.connect(f"amqp://{AMQP}/")
    channel = await connection.channel()
    exchange = await channel.declare_exchange(prefix, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key=f"{prefix}.{API.name}.#")
    try:
        events = await publish_orders(backend, f"amqp://{AMQP}/?prefix={prefix}")
        got = []
        for _ in range(4):
            message = await queue.get(no_ack=True, timeout=10)
            assert message is not None and message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
            assert message.message_id == codec.loads(message.body)["eventId"]
            got.append((str(message.routing_key), message.body))
        assert _by_resource(got) == _expected(prefix, events)
        assert await queue.get(no_ack=True, fail=False) is None  # each once
    finally:
        await exchange.delete()
        await connection.close()


async def test_kafka_takes_every_event_keyed_by_resource(backend: Backend, prefix: str) -> None:
    _needs(KAFKA, "Kafka", "aiokafka")
    from aiokafka import AIOKafkaConsumer

    events = await publish_orders(backend, f"kafka://{KAFKA}?prefix={prefix}")
    topics = sorted({f"{prefix}.{event.api}.{event.type}" for event in events})
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=KAFKA, auto_offset_reset="earliest")
    await consumer.start()
    try:
        got: list[tuple[str, bytes]] = []
        while len(got) < 4:
            for records in (await consumer.getmany(timeout_ms=10_000)).values():
                got += [(r.topic, r.value) for r in records if r.value is not None]
        assert _by_resource(got) == _expected(prefix, events)
    finally:
        await consumer.stop()


async def test_an_event_larger_than_the_nats_stream_takes_is_parked_and_the_others_published(
    backend: Backend, prefix: str
) -> None:
    _needs(NATS, "NATS", "nats")
    import nats

    stream = prefix.upper()
    client = await nats.connect(f"nats://{NATS}")
    js = client.jetstream()
    await js.add_stream(name=stream, subjects=[f"{prefix}.>"], max_msg_size=4096)
    url = f"nats://{NATS}?prefix={prefix}"
    try:
        large = await create(backend, description="x" * 5000)
        await change(backend, large, state="inProgress")
        small = await create(backend)
        await change(backend, small, state="inProgress")
        found = await run_bus(backend, url, _settled(4))
        assert {(d.event.resource_id, d.state) for d in found} == {
            (large["id"], DeliveryState.PARKED),
            (small["id"], DeliveryState.DELIVERED),
        }
        parked = [d for d in found if d.state is DeliveryState.PARKED]
        assert all("refused" in str(d.last_error) and "err_code=10054" in str(d.last_error) for d in parked)
        assert (await js.stream_info(stream)).state.messages == 2

        await js.update_stream(name=stream, subjects=[f"{prefix}.>"], max_msg_size=-1)  # mended
        await _redeliver_parked(backend, found)
        found = await run_bus(backend, url, _settled(4))
        assert {d.state for d in found} == {DeliveryState.DELIVERED}
        stored = [await js.get_msg(stream, seq) for seq in range(3, 5)]
        assert [codec.loads(m.data)["event"]["productOrder"]["state"] for m in stored] == ["acknowledged", "inProgress"]
    finally:
        await js.delete_stream(stream)
        await client.close()


async def test_an_event_rabbitmq_nacks_is_parked_and_the_others_published(backend: Backend, prefix: str) -> None:
    _needs(AMQP, "RabbitMQ", "aio_pika")
    import aio_pika

    connection = await aio_pika.connect(f"amqp://{AMQP}/")
    channel = await connection.channel()
    exchange = await channel.declare_exchange(prefix, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key=f"{prefix}.#")
    # A full queue that rejects what it is sent: RabbitMQ nacks every state change event.
    full = await channel.declare_queue(exclusive=True, arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    await full.bind(exchange, routing_key=f"{prefix}.*.ProductOrderStateChangeEvent")
    url = f"amqp://{AMQP}/?prefix={prefix}"
    try:
        order = await create(backend)
        await change(backend, order, state="inProgress")
        other = await create(backend)
        found = await run_bus(backend, url, _settled(3))
        assert sorted((d.event.type, d.state.value) for d in found) == [
            ("ProductOrderCreateEvent", "delivered"),
            ("ProductOrderCreateEvent", "delivered"),
            ("ProductOrderStateChangeEvent", "parked"),
        ]
        [parked] = [d for d in found if d.state is DeliveryState.PARKED]
        assert parked.event.resource_id == order["id"] and "AMQP refused" in str(parked.last_error)
        assert "Nack" in str(parked.last_error)

        await full.delete(if_unused=False, if_empty=False)  # mended
        await _redeliver_parked(backend, found)
        found = await run_bus(backend, url, _settled(3))
        assert {d.state for d in found} == {DeliveryState.DELIVERED}
        got = [await queue.get(no_ack=True, timeout=10) for _ in range(3)]
        assert [codec.loads(m.body)["eventType"] for m in got if m is not None][-1] == "ProductOrderStateChangeEvent"
        assert {codec.loads(m.body)["event"]["productOrder"]["id"] for m in got if m} == {order["id"], other["id"]}
    finally:
        await exchange.delete()
        await connection.close()


@pytest.mark.parametrize(("scheme", "module"), [("nats", "nats"), ("amqp", "aio_pika"), ("kafka", "aiokafka")])
async def test_a_broker_that_does_not_answer_fails_with_a_broker_error(scheme: str, module: str) -> None:
    pytest.importorskip(module, reason=f"the {scheme} client ({module}) is not installed: pip install -e '.[test]'")
    credentials = "" if scheme == "kafka" else "user:s3cret@"
    down = broker(BusAddress.parse(f"{scheme}://{credentials}127.0.0.1:{free_port()}"), 2.0)
    started = time.monotonic()
    with pytest.raises(BrokerError) as caught:
        await down.connect()
    assert time.monotonic() - started < 10
    assert "127.0.0.1" in str(caught.value) and "s3cret" not in str(caught.value)
    await down.close()


async def test_the_outbox_keeps_the_events_while_the_broker_is_down(backend: Backend) -> None:
    pytest.importorskip("aiokafka", reason="the Kafka client (aiokafka) is not installed: pip install -e '.[test]'")
    settings = SETTINGS.with_overrides(event_bus=f"kafka://127.0.0.1:{free_port()}")
    bus = EventBus(settings, [API])
    worker = DeliveryWorker(settings, backend, [API], internal=[bus.subscription()])
    try:
        await create(backend)
        for _ in range(3):
            await worker.step()
        [delivery] = await backend.deliveries(subscription_id=BUS_ID)
        assert delivery.state is DeliveryState.PENDING and delivery.attempts >= 1
        assert "Kafka at 127.0.0.1" in str(delivery.last_error)
        assert delivery.next_attempt > dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    finally:
        await worker.close()
        await bus.close()


@pytest.mark.parametrize(
    ("url", "kind", "server", "prefix", "target"),
    [
        ("nats://127.0.0.1:4222", "nats", "nats://127.0.0.1:4222", "tmfgate", "TMFGATE"),
        ("nats://n:4222?prefix=acme&stream=EVENTS", "nats", "nats://n:4222", "acme", "EVENTS"),
        ("nats://u:p@n:4222?prefix=acme.tmf", "nats", "nats://u:p@n:4222", "acme.tmf", "ACME_TMF"),
        ("amqp://u:p@r:5672/vh?heartbeat=30", "amqp", "amqp://u:p@r:5672/vh?heartbeat=30", "tmfgate", "tmfgate"),
        ("amqps://r/?exchange=tmf&prefix=acme", "amqp", "amqps://r/", "acme", "tmf"),
        ("kafka://k1:9092,k2:9092?prefix=acme", "kafka", "kafka://k1:9092,k2:9092", "acme", ""),
    ],
)
def test_an_event_bus_url_names_the_broker_and_tmfgates_options(
    url: str, kind: str, server: str, prefix: str, target: str
) -> None:
    assert BusAddress.parse(url) == BusAddress(kind, server, prefix, target)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://broker:4222", "must be nats://"),
        ("nats://", "must be nats://"),
        ("nats://n:4222?exchange=x", "not exchange"),
        ("amqp://r?stream=S", "not stream"),
        ("kafka://k:9092?acks=1", "not acks"),
        ("nats://n?prefix=a.*", "the prefix must be"),
        ("kafka://u:p@k:9092", "names the servers only"),
    ],
)
def test_a_bad_event_bus_url_is_refused_saying_why(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        BusAddress.parse(url)


def test_a_refused_url_is_shown_without_its_password() -> None:
    with pytest.raises(ValueError) as refused:
        BusAddress.parse("amqpx://user:s3cret@rabbit:5672/")
    assert "s3cret" not in str(refused.value) and "user:***@rabbit" in str(refused.value)
