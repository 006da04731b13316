"""Scale-out (issue 19 item 4): three ``tmfgate serve`` processes without dispatchers and two ``tmfgate
dispatch`` processes on one PostgreSQL, under a mixed load of product orders and customers spread over
the gateways, with one gateway and one dispatcher killed (SIGKILL) half-way. It must behave as one
gateway: every order answered 201 is stored, once, under a unique id, and fulfilled by exactly one
service order; the hub listener gets every event the outbox holds for it, in order per resource, and
again only what a killed dispatcher had in flight (at least once); with NATS at hand the event bus has
every event too, each once (JetStream drops the repeats by ``Nats-Msg-Id``)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.api.end_to_end import add, wait
from tests.conftest import LOOPBACK_CALLBACKS, own_postgres_database
from tests.gateways import served
from tests.listeners import ListenerProcess
from tmfgate.notifications.bus import BUS_ID

ORDERING = "/tmf-api/productOrderingManagement/v4"
CUSTOMERS = "/tmf-api/customerManagement/v4/customer"
SERVICE_ORDERS = "/tmf-api/serviceOrdering/v4/serviceOrder"
ORDERS, CUSTOMER_CHANGES = 24, 24
NATS = os.environ.get("TMFGATE_TEST_NATS", "127.0.0.1:4222")
# What a killed dispatcher may have had in flight, and so what may reach the listener twice: the
# callbacks it POSTs at once (--delivery-concurrency, set below).
IN_FLIGHT = 8


@pytest.fixture
def database() -> Iterator[str]:
    with own_postgres_database("tmfgate_scale") as url:
        subprocess.run([sys.executable, "-m", "tmfgate", "db", "upgrade", "--database-url", url], check=True)
        yield url


def _nats_bus() -> str | None:
    """An event bus URL of this test's own on the local NATS, or None when there is none."""
    try:
        import nats  # noqa: F401
    except ImportError:
        return None
    host, port = NATS.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return None
    prefix = f"s{uuid.uuid4().hex[:12]}"
    return f"nats://{NATS}?prefix={prefix}&stream={prefix.upper()}"


def _start_dispatcher(database: str, folder: Path, env: dict[str, str], n: int) -> subprocess.Popen[bytes]:
    with (folder / f"dispatcher-{n}.out").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tmfgate", "dispatch", "--database-url", database, "--log-level", "warning"],
            cwd=folder,
            env={**os.environ, "TMFGATE_CALLBACK_HOSTS": LOOPBACK_CALLBACKS, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _ready(process: subprocess.Popen[bytes], folder: Path, n: int) -> subprocess.Popen[bytes]:
    """``process`` once it says it dispatches."""
    out = folder / f"dispatcher-{n}.out"
    wait(lambda: process.poll() is None and out.read_text(), lambda said: "dispatching" in str(said), 60, out.name)
    return process


class Load:
    """Orders and customer changes sent round-robin to the gateways that are up, in threads; a request
    a gateway did not answer (killed under it) goes to the next one, as a load balancer's retry."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.down: set[str] = set()
        self.orders: list[dict[str, Any]] = []  # answered 201
        self.unanswered = 0  # POSTs cut short by a kill: stored or not, the client cannot know
        self._next = itertools.count()
        self._lock = threading.Lock()

    def send(self, method: str, path: str, body: dict[str, Any]) -> requests.Response | None:
        for _ in range(len(self.urls)):
            url = self.urls[next(self._next) % len(self.urls)]
            if url in self.down:
                continue
            try:
                return requests.request(method, url + path, json=body, timeout=20)
            except requests.ConnectionError:
                with self._lock:
                    self.down.add(url)
                    if method == "POST":
                        self.unanswered += 1
                return None  # not resent: the first may have been stored
        raise AssertionError("no gateway answers")

    def order(self, n: int) -> None:
        body = {"externalId": f"load-{n}", "productOrderItem": [add("1", "po-mobile-unlimited")]}
        answer = self.send("POST", f"{ORDERING}/productOrder", body)
        if answer is not None:
            assert answer.status_code == 201, answer.text
            with self._lock:
                self.orders.append(answer.json())

    def customer(self, n: int) -> None:
        made = self.send("POST", CUSTOMERS, {"name": f"c{n}", "engagedParty": {"id": f"p{n}"}})
        if made is not None and made.status_code == 201:
            for status in ("approved", "validated"):
                self.send("PATCH", f"{CUSTOMERS}/{made.json()['id']}", {"status": status})

    def run(self, count: int) -> None:
        threads = [threading.Thread(target=self.order, args=(n,)) for n in range(count)]
        threads += [threading.Thread(target=self.customer, args=(n,)) for n in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)


def _subscribe(url: str, base: str, callback: str) -> None:
    answer = requests.post(f"{url}{base}/hub", json={"callback": callback, "query": ""}, timeout=10)
    assert answer.status_code == 201, answer.text


def test_three_gateways_and_two_dispatchers_on_one_postgresql_lose_nothing(database: str, tmp_path: Path) -> None:
    started = time.monotonic()
    bus = _nats_bus()
    env = {"TMFGATE_DELIVERY_CONCURRENCY": str(IN_FLIGHT), "TMFGATE_RETRY_DELAY": "0.1", "TMFGATE_RETRY_DELAY_MAX": "1"}
    if bus is not None:
        env["TMFGATE_EVENT_BUS"] = bus
    listener = ListenerProcess(tmp_path / "listener.jsonl").start()
    with contextlib.ExitStack() as stack:
        stack.callback(listener.stop)
        # The dispatchers start while the gateways do (one after the other: their start is CPU-bound).
        starting = [_start_dispatcher(database, tmp_path, env, n) for n in range(2)]
        for process in starting:
            stack.callback(_stop, process)
        entered = [stack.enter_context(served(database, tmp_path, "--dispatcher", "off", env=env)) for _ in range(3)]
        dispatchers = [_ready(process, tmp_path, n) for n, process in enumerate(starting)]
        (first, url_a), (_, url_b), (_, url_c) = entered
        _subscribe(url_b, ORDERING, listener.callback)
        _subscribe(url_c, "/tmf-api/customerManagement/v4", listener.callback)
        load = Load([url_a, url_b, url_c])
        load.run(ORDERS // 2)
        first.send_signal(signal.SIGKILL)  # a gateway and a dispatcher die under load
        dispatchers[0].send_signal(signal.SIGKILL)
        load.run(ORDERS // 2)
        _check(load, url_b, listener, database, bus)
    # Under a minute on a machine of its own (issue 19 asks for that); under a load of other runs the
    # starts of five processes alone can take longer, so the time is reported, not asserted.
    print(f"scale-out test: {time.monotonic() - started:.1f} s")


def _check(load: Load, url: str, listener: ListenerProcess, database: str, bus: str | None) -> None:
    answered = load.orders
    assert len(answered) >= ORDERS - load.unanswered - 1
    assert len({order["id"] for order in answered}) == len(answered)  # unique ids across gateways
    # Each answered order is stored and fulfilled once: completed, by exactly one service order.
    for order in answered:
        done = wait(
            lambda order=order: requests.get(f"{url}{ORDERING}/productOrder/{order['id']}", timeout=10).json(),
            lambda found: found["state"] in ("completed", "failed"),
            30,
            f"order {order['id']} to complete",
        )
        assert done["state"] == "completed", done.get("note")
        service_orders = requests.get(f"{url}{SERVICE_ORDERS}", params={"externalId": order["id"]}, timeout=10).json()
        assert len(service_orders) == 1, service_orders
    stored = requests.get(f"{url}{ORDERING}/productOrder", params={"limit": "1000"}, timeout=10).json()
    assert {o["id"] for o in answered} <= {o["id"] for o in stored} and len(stored) <= ORDERS

    # The hub: every event the outbox owes the listener, delivered; repeats only of what was in flight.
    owed, published = asyncio.run(_settled(database))
    got = wait(
        listener.delivered,
        lambda entries: {e["body"]["eventId"] for e in entries} >= owed,
        30,
        "every event at the listener",
    )
    times = Counter(e["body"]["eventId"] for e in got)
    assert set(times) == owed
    assert sum(n - 1 for n in times.values()) <= IN_FLIGHT and max(times.values()) <= 2
    first: dict[str, list[str]] = {}
    seen: set[str] = set()
    for entry in got:  # per resource, the first arrival of each event in the order the events were raised
        body = entry["body"]
        if body["eventId"] not in seen:
            seen.add(body["eventId"])
            resource = next(iter(body["event"].values()))
            first.setdefault(resource["id"], []).append(body["eventTime"])
    assert all(stamps == sorted(stamps) for stamps in first.values())
    if bus is not None:  # every event of every API on the bus, each once
        assert owed <= published and asyncio.run(_on_the_bus(bus)) == len(published)


async def _settled(database: str) -> tuple[set[str], set[str]]:
    """The ids of the events the outbox delivered to hub subscribers, and to the event bus, once all
    deliveries are settled."""
    from backends import open_backend
    from backends.base import DeliveryState

    backend = open_backend(database)
    await backend.open()
    try:
        deadline = time.monotonic() + 30
        while True:
            pending = await backend.deliveries(state=DeliveryState.PENDING, limit=1000)
            parked = await backend.deliveries(state=DeliveryState.PARKED, limit=1000)
            assert not parked, [d.last_error for d in parked]
            if not pending:
                break
            assert time.monotonic() < deadline, [d.last_error for d in pending[:5]]
            await asyncio.sleep(0.1)
        delivered = await backend.deliveries(state=DeliveryState.DELIVERED, limit=100_000)
        hub = {d.event.id for d in delivered if not d.subscription_id.startswith("tmfgate.")}
        return hub, {d.event.id for d in delivered if d.subscription_id == BUS_ID}
    finally:
        await backend.close()


async def _on_the_bus(bus: str) -> int:
    """How many messages the test's JetStream stream holds (repeats dropped by Nats-Msg-Id); deletes it."""
    import nats

    stream = bus.rsplit("stream=", 1)[1]
    client = await nats.connect(f"nats://{NATS}")
    try:
        js = client.jetstream()
        info = await js.stream_info(stream)
        await js.delete_stream(stream)
        return int(info.state.messages)
    finally:
        await client.close()
