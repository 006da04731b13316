"""Hub notifications end to end: a gateway over HTTP, listener processes, on every store.

Every TMF622 event type arrives in its v4 envelope; a listener that is down for a while gets
everything, in order per resource, once it is back; a slow listener does not slow the API; and a
gateway killed with SIGKILL mid-stream, then restarted, notifies every change it had acknowledged.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import (
    LOOPBACK_CALLBACKS,
    TEST_SETTINGS,
    RunningGateway,
    free_port,
    in_thread,
    own_postgres_database,
)
from tests.gateways import served
from tests.listeners import Entry, ListenerProcess, event_summary

BASE = "/tmf-api/productOrderingManagement/v4"
# Fast retries, so a test never waits long for a listener that is back.
# Orders stay where the tests put them: fulfilment's own events are tested in test_fulfilment.py.
FAST = {
    "retry_delay": 0.1,
    "retry_delay_max": 0.5,
    "delivery_timeout": 5.0,
    "delivery_attempts": 1000,
    "fulfilment": False,
}
ORDER = {
    "productOrderItem": [{"id": "1", "action": "add", "quantity": 1, "productOffering": {"id": "po-broadband-100"}}],
    "relatedParty": [{"id": "cust-1", "role": "customer", "@referredType": "Individual"}],
}


def postgres_database(prefix: str) -> contextlib.AbstractContextManager[str]:
    """A PostgreSQL database of its own: dispatchers take whatever the outbox holds."""
    return own_postgres_database(prefix)


class EventGateway(RunningGateway):
    """A gateway in a thread, as in conftest, with the in-process dispatcher retrying fast."""

    def __init__(self, database_url: str) -> None:
        import uvicorn

        from tmfgate.app import create_app
        from tmfgate.settings import Settings

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(Settings(database_url=database_url, port=self.port, **TEST_SETTINGS, **FAST))  # type: ignore[arg-type]
        self.gateway = app.gateway  # type: ignore[attr-defined]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self._serving = in_thread(self.server)


@pytest.fixture(scope="module", params=["memory", "sqlite", "postgresql"])
def gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventGateway]:
    if request.param == "memory":
        with EventGateway("memory://") as running:
            yield running
    elif request.param == "sqlite":
        with EventGateway(f"sqlite:///{tmp_path_factory.mktemp('events') / 'events.db'}") as running:
            yield running
    else:
        with postgres_database("tmfgate_events") as url, EventGateway(url) as running:
            yield running


class Client:
    """A TMF622 client: every change it makes carries its own correlation id."""

    def __init__(self, url: str) -> None:
        self.base = url + BASE
        self.http = requests.Session()

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
        media = "application/merge-patch+json" if method == "PATCH" else "application/json"
        return self.http.request(
            method, self.base + path, json=body, timeout=10, headers={"Content-Type": media, **headers}
        )

    def create(self, correlation: str = "") -> dict[str, Any]:
        response = self.call(
            "POST", "/productOrder", ORDER, **({"X-Correlation-ID": correlation} if correlation else {})
        )
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def patch(self, id: str, change: dict[str, Any], correlation: str = "") -> dict[str, Any]:
        response = self.call(
            "PATCH", f"/productOrder/{id}", change, **({"X-Correlation-ID": correlation} if correlation else {})
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def subscribe(self, callback: str, query: str = "") -> str:
        response = self.call("POST", "/hub", {"callback": callback, "query": query})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


@pytest.fixture
def client(gateway: EventGateway) -> Iterator[Client]:
    """A client whose subscriptions are removed after the test, so later tests deliver only their own."""
    client = Client(gateway.url)
    subscribed: list[str] = []
    original = client.subscribe

    def subscribe(callback: str, query: str = "") -> str:
        subscribed.append(original(callback, query))
        return subscribed[-1]

    client.subscribe = subscribe  # type: ignore[method-assign]
    yield client
    for id in subscribed:
        client.call("DELETE", f"/hub/{id}")
    client.http.close()


@pytest.fixture
def listen(tmp_path: Path) -> Iterator[Callable[..., ListenerProcess]]:
    started: list[ListenerProcess] = []

    def start(**options: Any) -> ListenerProcess:
        listener = ListenerProcess(tmp_path / f"listener{len(started)}.jsonl", **options)
        started.append(listener)
        return listener.start()

    yield start
    for listener in started:
        listener.stop()


def first_arrivals(entries: list[Entry]) -> list[Entry]:
    """The delivered notifications without the duplicates at-least-once delivery allows."""
    seen: set[str] = set()
    unique = []
    for entry in entries:
        if entry["body"]["eventId"] not in seen:
            seen.add(entry["body"]["eventId"])
            unique.append(entry)
    return unique


LIFECYCLE = ("ProductOrderCreateEvent", "ProductOrderStateChangeEvent")


def per_resource(entries: list[Entry]) -> dict[str, list[tuple[str, str, str]]]:
    """The create and state change events of each order, in arrival order, without duplicates.

    (Reaching ``completed`` also raises an AttributeValueChangeEvent, for ``completionDate``.)
    """
    streams: dict[str, list[tuple[str, str, str]]] = {}
    for entry in first_arrivals(entries):
        summary = event_summary(entry)
        if summary[0] in LIFECYCLE:
            streams.setdefault(summary[1], []).append(summary)
    return streams


# --- the envelope ----------------------------------------------------------------------------------


def test_every_tmf622_event_type_arrives_in_its_v4_envelope(
    client: Client, listen: Callable[..., ListenerProcess]
) -> None:
    listener = listen()
    client.subscribe(listener.callback)
    expected: list[tuple[str, str, dict[str, Any]]] = []  # (eventType, correlation, resource as answered)

    order = client.create("c-create")
    expected.append(("ProductOrderCreateEvent", "c-create", order))
    order = client.patch(order["id"], {"state": "pending"}, "c-pending")
    expected += [
        ("ProductOrderStateChangeEvent", "c-pending", order),
        ("ProductOrderInformationRequiredEvent", "c-pending", order),
    ]
    order = client.patch(order["id"], {"priority": "2"}, "c-priority")
    expected.append(("ProductOrderAttributeValueChangeEvent", "c-priority", order))
    response = client.call(
        "POST",
        "/cancelProductOrder",
        {"productOrder": {"id": order["id"]}, "cancellationReason": "test"},
        **{"X-Correlation-ID": "c-cancel"},
    )
    assert response.status_code == 201, response.text
    task = response.json()
    # The task is stored at each step: created acknowledged, then inProgress, then done.
    expected.append(
        (
            "CancelProductOrderCreateEvent",
            "c-cancel",
            {k: v for k, v in {**task, "state": "acknowledged"}.items() if k != "effectiveCancellationDate"},
        )
    )
    other = client.create("c-other")
    expected.append(("ProductOrderCreateEvent", "c-other", other))
    assert client.call("DELETE", f"/productOrder/{other['id']}", **{"X-Correlation-ID": "c-delete"}).status_code == 204
    expected.append(("ProductOrderDeleteEvent", "c-delete", other))

    def arrived(got: list[Entry]) -> bool:
        seen = {(entry["body"]["eventType"], entry["body"]["correlationId"]) for entry in got}
        return (
            {(event_type, correlation) for event_type, correlation, _ in expected} <= seen
            and sum(
                1
                for entry in got
                if entry["body"]["eventType"] == "ProductOrderStateChangeEvent"
                and entry["body"]["correlationId"] == "c-cancel"
            )
            >= 3
            and sum(1 for entry in got if entry["body"]["eventType"] == "CancelProductOrderStateChangeEvent") >= 2
        )

    listener.wait_for(arrived)
    time.sleep(0.3)  # anything else would be a duplicate or an event too many
    delivered = listener.delivered()
    assert len(first_arrivals(delivered)) == len(delivered)

    types = {entry["body"]["eventType"] for entry in delivered}
    assert types == {
        "ProductOrderCreateEvent",
        "ProductOrderStateChangeEvent",
        "ProductOrderInformationRequiredEvent",
        "ProductOrderAttributeValueChangeEvent",
        "CancelProductOrderCreateEvent",
        "CancelProductOrderStateChangeEvent",
        "ProductOrderDeleteEvent",
    }
    for entry in delivered:
        body = entry["body"]
        assert entry["headers"]["X-Event-Id"] == body["eventId"]
        assert entry["headers"]["Content-Type"] == "application/json"
        uuid.UUID(body["eventId"])
        assert body["eventTime"].endswith("Z") and body["timeOcurred"] == body["eventTime"]
        assert body["title"] == body["eventType"]
        assert body["domain"] == "productOrderingManagement"
        assert isinstance(body["description"], str) and body["description"]
        [key] = body["event"]
        assert key == ("cancelProductOrder" if body["eventType"].startswith("Cancel") else "productOrder")
    for event_type, correlation, resource in expected:
        matching = [
            entry["body"]
            for entry in delivered
            if entry["body"]["eventType"] == event_type and entry["body"]["correlationId"] == correlation
        ]
        assert len(matching) == 1, (event_type, correlation)
        [payload] = matching[0]["event"].values()
        assert payload == resource  # the whole resource, as the API answered it
    avc = next(e["body"] for e in delivered if e["body"]["eventType"] == "ProductOrderAttributeValueChangeEvent")
    assert avc["fieldPath"] == "priority"
    # Cancellation walks the order through its cancellation states, one event each, in order.
    cancelled = [
        event_summary(e)[2]
        for e in delivered
        if e["body"]["correlationId"] == "c-cancel" and e["body"]["eventType"] == "ProductOrderStateChangeEvent"
    ]
    assert cancelled == ["assessingCancellation", "pendingCancellation", "cancelled"]
    steps = [event_summary(e)[2] for e in delivered if e["body"]["eventType"] == "CancelProductOrderStateChangeEvent"]
    assert steps == ["inProgress", "done"]


def test_a_subscription_query_selects_over_http(client: Client, listen: Callable[..., ListenerProcess]) -> None:
    listener = listen()
    client.subscribe(
        listener.callback,
        "eventType=ProductOrderStateChangeEvent&event.productOrder.state=held&fields=event.productOrder.id",
    )
    order = client.create()
    client.patch(order["id"], {"state": "held"})
    client.patch(order["id"], {"state": "inProgress"})
    [entry] = listener.wait_for(lambda got: len(got) >= 1)
    assert entry["body"]["event"] == {"productOrder": {"id": order["id"]}}
    time.sleep(0.5)
    assert len(listener.delivered()) == 1


# --- outages and slowness --------------------------------------------------------------------------


def test_a_listener_down_for_a_while_gets_everything_in_order(
    client: Client, listen: Callable[..., ListenerProcess]
) -> None:
    listener = listen()
    client.subscribe(listener.callback)
    listener.stop()
    expected: dict[str, list[tuple[str, str, str]]] = {}
    for _ in range(3):
        order = client.create()
        expected[order["id"]] = [("ProductOrderCreateEvent", order["id"], "acknowledged")]
        for state in ("inProgress", "held", "inProgress", "completed"):
            client.patch(order["id"], {"state": state})
            expected[order["id"]].append(("ProductOrderStateChangeEvent", order["id"], state))
    time.sleep(1.5)  # several failed attempts, with backoff
    assert listener.received() == []
    listener.start()

    def arrived(got: list[Entry]) -> bool:
        return {id: stream[-1] for id, stream in per_resource(got).items()} == {
            id: stream[-1] for id, stream in expected.items()
        }

    listener.wait_for(arrived, what="the last events of the orders")
    assert per_resource(listener.delivered()) == expected


def test_a_slow_listener_does_not_slow_the_api(client: Client, listen: Callable[..., ListenerProcess]) -> None:
    listener = listen(delay=3.0)
    client.subscribe(listener.callback)
    client.create()  # warm up the connection and the code paths
    timings = []
    ids = []
    started = time.monotonic()
    for _ in range(20):
        before = time.monotonic()
        ids.append(client.create()["id"])
        timings.append(time.monotonic() - before)
    elapsed = time.monotonic() - started
    p95 = statistics.quantiles(timings, n=20)[-1]
    assert p95 < 0.5, f"POST /productOrder p95 {p95:.3f} s while the listener takes 3 s per notification"
    if elapsed < 2.5:  # the listener cannot have answered any of these yet
        assert not set(ids) & {event_summary(entry)[1] for entry in listener.delivered()}
    listener.wait_for(
        lambda got: set(ids) <= {event_summary(entry)[1] for entry in got},
        timeout=30,
        what="the notifications of the 20 orders",
    )


# --- SIGKILL ---------------------------------------------------------------------------------------


FAST_ENV = {
    **os.environ,
    "TMFGATE_RETRY_DELAY": "0.1",
    "TMFGATE_RETRY_DELAY_MAX": "0.5",
    "TMFGATE_DELIVERY_TIMEOUT": "0.5",
    "TMFGATE_DELIVERY_ATTEMPTS": "1000",
    "TMFGATE_FULFILMENT": "off",
    "TMFGATE_CALLBACK_HOSTS": LOOPBACK_CALLBACKS,  # dispatch processes call the tests' loopback listeners
}


class ChangeStream(threading.Thread):
    """Creates orders and moves them along, recording the event each acknowledged change owes."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.client = Client(url)
        self.acknowledged: list[tuple[str, str, str]] = []

    def run(self) -> None:
        try:
            for _ in range(2000):  # bounded; the kill ends it long before
                response = self.client.call("POST", "/productOrder", ORDER)
                if response.status_code != 201:
                    return
                id = response.json()["id"]
                self.acknowledged.append(("ProductOrderCreateEvent", id, "acknowledged"))
                for state in ("inProgress", "completed"):
                    response = self.client.call("PATCH", f"/productOrder/{id}", {"state": state})
                    if response.status_code != 200:
                        return
                    self.acknowledged.append(("ProductOrderStateChangeEvent", id, state))
        except requests.RequestException:
            return  # the gateway is gone: what it acknowledged so far is what is owed
        finally:
            self.client.http.close()


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_every_change_acknowledged_before_a_sigkill_is_notified(
    store: str, tmp_path: Path, listen: Callable[..., ListenerProcess]
) -> None:
    with postgres_database("tmfgate_kill") if store == "postgresql" else _sqlite(tmp_path) as url:
        listener = listen(delay=0.3)  # slow enough that deliveries are in flight and queued at the kill
        with served(url, tmp_path, env=FAST_ENV) as (first, first_url):
            assert Client(first_url).subscribe(listener.callback)
            stream = ChangeStream(first_url)
            stream.start()
            deadline = time.monotonic() + 30
            while len(stream.acknowledged) < 60 and stream.is_alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            first.send_signal(signal.SIGKILL)  # mid-stream: requests are in flight
            first.wait(timeout=30)
            stream.join(timeout=30)
            assert not stream.is_alive()
        owed = set(stream.acknowledged)
        assert len(owed) >= 60
        # Most are still in the outbox (queued, or leased by the dead process): the restart has work.
        assert len(owed & {event_summary(entry) for entry in listener.delivered()}) < len(owed)
        with served(url, tmp_path, env=FAST_ENV):
            delivered = listener.wait_for(
                lambda got: owed <= {event_summary(entry) for entry in got},
                timeout=40,
                what=f"the events of {len(owed)} acknowledged changes",
            )
        missing = owed - {event_summary(entry) for entry in delivered}
        assert not missing
        for id, lifecycle in per_resource(delivered).items():  # and each order's in order
            states = [state for _, _, state in lifecycle]
            assert states == ["acknowledged", "inProgress", "completed"][: len(states)], (id, states)


@contextmanager
def _sqlite(folder: Path) -> Iterator[str]:
    yield f"sqlite:///{folder / 'kill.db'}"


# --- scale-out ---------------------------------------------------------------------------------------


def dispatching(database_url: str, folder: Path, count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` ``python -m tmfgate dispatch`` subprocesses, returned once all have started dispatching."""
    started = []
    for n in range(count):
        with open(folder / f"dispatch{n}.out", "wb") as output:
            started.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tmfgate",
                        "dispatch",
                        "--database-url",
                        database_url,
                        "--log-level",
                        "warning",
                    ],
                    cwd=folder,
                    env=FAST_ENV,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            )
    deadline = time.monotonic() + 60
    for n, process in enumerate(started):
        log = folder / f"dispatch{n}.out"
        while b"dispatching" not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                for other in started:
                    other.kill()
                    other.wait(timeout=10)
                pytest.fail(f"tmfgate dispatch did not start:\n{log.read_text()}")
            time.sleep(0.05)
    return started


def test_separate_dispatch_processes_share_the_work_and_stop_on_sigterm(
    tmp_path: Path, listen: Callable[..., ListenerProcess]
) -> None:
    url = f"sqlite:///{tmp_path / 'scale.db'}"
    listener = listen()
    with served(url, tmp_path, "--dispatcher", "off", env=FAST_ENV) as (_, gateway_url):
        client = Client(gateway_url)
        client.subscribe(listener.callback)
        dispatchers = dispatching(url, tmp_path, 2)
        try:
            owed = set()
            for _ in range(15):
                order = client.create()
                owed.add(("ProductOrderCreateEvent", order["id"], "acknowledged"))
                client.patch(order["id"], {"state": "inProgress"})
                owed.add(("ProductOrderStateChangeEvent", order["id"], "inProgress"))
            delivered = listener.wait_for(
                lambda got: owed <= {event_summary(entry) for entry in got}, what="the events of 30 changes"
            )
            for lifecycle in per_resource(delivered).values():
                assert [state for _, _, state in lifecycle] == ["acknowledged", "inProgress"]
        finally:
            for process in dispatchers:
                process.send_signal(signal.SIGTERM)
            codes = [process.wait(timeout=20) for process in dispatchers]
        client.http.close()
    assert codes == [0, 0]
    ids = [entry["body"]["eventId"] for entry in listener.delivered()]
    assert len(ids) == len(set(ids)) == 30  # never the same event from both


def test_a_subscription_belongs_to_the_hub_of_its_api(tmp_path: Path) -> None:
    """One store holds every API's subscriptions; each hub sees and removes only its own."""
    inventory, activation = "/tmf-api/serviceInventory/v4", "/tmf-api/serviceActivationAndConfiguration/v4"
    with RunningGateway("memory://", fulfilment=False) as running:
        made = requests.post(f"{running.url}{inventory}/hub", json={"callback": "http://127.0.0.1:9/listener"})
        assert made.status_code == 201
        other = requests.delete(f"{running.url}{activation}/hub/{made.json()['id']}")
        assert other.status_code == 404 and other.json()["code"]
        assert requests.delete(f"{running.url}{inventory}/hub/{made.json()['id']}").status_code == 204
        assert requests.delete(f"{running.url}{inventory}/hub/{made.json()['id']}").status_code == 404
