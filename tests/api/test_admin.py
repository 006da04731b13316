"""The operator API over HTTP, on every store: deliveries, redelivery of parked ones, replays, access.

The gateway runs with its dispatcher off, and the tests move the outbox themselves (fan out, claim,
settle) in the server's event loop, so which deliveries are parked or delivered is never a race.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from backends.base import Event
from tests.conftest import TEST_SETTINGS, free_port, own_postgres_database
from tests.listeners import ListenerProcess
from tmfgate.notifications import subscriptions

T = TypeVar("T")
ADMIN = "/tmfgate/admin/v1"
ORDERING = "/tmf-api/productOrderingManagement/v4"
CLOSED_PORT_CALLBACK = "http://127.0.0.1:9/listener"  # never contacted: the dispatcher is off
REMOTE = "203.0.113.7"  # TEST-NET-3; uvicorn takes X-Forwarded-For from 127.0.0.1 as the client


class AdminGateway:
    """A gateway on a free port, served in a thread whose event loop the tests can also use.

    Its dispatcher is off unless the settings given turn it on.
    """

    def __init__(self, database_url: str, **settings: Any) -> None:
        import uvicorn

        from tmfgate.app import create_app
        from tmfgate.settings import Settings

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings.setdefault("dispatcher", False)
        settings.setdefault("fulfilment", False)  # the deliveries seen are the hub's only
        settings = {**TEST_SETTINGS, **settings}
        app = create_app(Settings(database_url=database_url, port=self.port, **settings))
        self.gateway = app.gateway  # type: ignore[attr-defined]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.loop.run_until_complete(self.server.serve())

    def __enter__(self) -> AdminGateway:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.loop.close()

    def run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run a coroutine on the gateway's own loop, where its store lives."""
        return asyncio.run_coroutine_threadsafe(make(), self.loop).result(timeout=30)

    def fan_out(self) -> None:
        """Route every new event to the subscriptions that accept it, as the dispatcher would."""
        backend = self.gateway.backend

        async def fan_out() -> None:
            found = await subscriptions.load_all(backend, self.gateway.apis)

            def route(event: Event) -> list[str]:
                return [s.id for s in found.values() if s.accepts(event)]

            for _ in range(100):
                if not await backend.fan_out(route):
                    return

        self.run(fan_out)

    def settle(self, park: set[str]) -> None:
        """Attempt every due delivery once: those to ``park`` fail for good, the others succeed."""
        backend = self.gateway.backend

        async def settle() -> None:
            for _ in range(100):
                claimed = await backend.claim(limit=100, lease=30, now=dt.datetime.now(dt.UTC))
                if not claimed:
                    return
                for delivery in claimed:
                    if delivery.subscription_id in park:
                        await backend.settle(delivery.id, delivered=False, error="Connection refused")
                    else:
                        await backend.settle(delivery.id, delivered=True)

        self.run(settle)

    def due(self) -> set[str]:
        """The ids of the deliveries a dispatcher would attempt now (leased for a moment)."""
        backend = self.gateway.backend

        async def due() -> set[str]:
            claimed = await backend.claim(limit=1000, lease=0.001, now=dt.datetime.now(dt.UTC))
            return {delivery.id for delivery in claimed}

        return self.run(due)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[str]:
    """A PostgreSQL database of this module's own: fan_out and claim take the whole outbox."""
    with own_postgres_database("tmfgate_admin") as url:
        yield url


@pytest.fixture(scope="module", params=["memory", "sqlite", "postgresql"])
def admin(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminGateway]:
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('admin') / 'tmfgate.db'}"
    else:
        url = str(request.getfixturevalue("own_postgres"))
    with AdminGateway(url) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def subscribe(admin: AdminGateway, http: requests.Session, callback: str = CLOSED_PORT_CALLBACK) -> str:
    response = http.post(f"{admin.url}{ORDERING}/hub", json={"callback": callback}, timeout=10)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def order(admin: AdminGateway, http: requests.Session) -> str:
    body = {"productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "po-1"}}]}
    response = http.post(f"{admin.url}{ORDERING}/productOrder", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def get(admin: AdminGateway, http: requests.Session, path: str, **kw: Any) -> requests.Response:
    return http.get(f"{admin.url}{ADMIN}{path}", timeout=10, **kw)


def redeliver(admin: AdminGateway, http: requests.Session, id: str, body: Any = None, **kw: Any) -> requests.Response:
    return http.patch(
        f"{admin.url}{ADMIN}/delivery/{id}", json={"state": "pending"} if body is None else body, timeout=10, **kw
    )


def replay(admin: AdminGateway, http: requests.Session, body: Any, **kw: Any) -> requests.Response:
    return http.post(f"{admin.url}{ADMIN}/replay", json=body, timeout=10, **kw)


def assert_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == str(status)
    assert body["code"] and body["reason"] and body["message"]
    return body


def parked_and_delivered(admin: AdminGateway, http: requests.Session, orders: int = 3) -> tuple[str, str, list[str]]:
    """Two fresh subscriptions, each sent ``orders`` create events: the first's parked, the second's delivered."""
    failing, working = subscribe(admin, http), subscribe(admin, http)
    ids = [order(admin, http) for _ in range(orders)]
    admin.fan_out()
    admin.settle(park={failing})
    return failing, working, ids


def test_deliveries_are_listed_by_state_and_subscription(admin: AdminGateway, http: requests.Session) -> None:
    failing, working, orders = parked_and_delivered(admin, http)

    response = get(admin, http, "/delivery", params={"subscriptionId": failing})
    assert response.status_code == 200, response.text
    assert response.headers["X-Total-Count"] == response.headers["X-Result-Count"] == "3"
    parked = response.json()
    assert [d["event"]["resourceId"] for d in parked] == orders  # oldest event first
    first = parked[0]
    assert first["href"] == f"{admin.url}{ADMIN}/delivery/{first['id']}"
    assert first["@type"] == "Delivery"
    assert first["subscriptionId"] == failing
    assert (first["state"], first["attempts"], first["lastError"]) == ("parked", 1, "Connection refused")
    assert first["nextAttempt"].endswith("Z")
    event = first["event"]
    assert (event["eventType"], event["api"], event["resourceKind"]) == (
        "ProductOrderCreateEvent",
        "tmf622_product_ordering",
        "productOrder",
    )
    assert event["eventId"] and event["eventTime"].endswith("Z")

    states = {d["state"] for d in get(admin, http, "/delivery", params={"subscriptionId": working}).json()}
    assert states == {"delivered"}
    assert get(admin, http, "/delivery", params={"subscriptionId": working, "state": "parked"}).json() == []
    both = get(admin, http, "/delivery", params={"state": "parked"}).json()
    assert {d["id"] for d in parked} <= {d["id"] for d in both}
    assert all(d["state"] == "parked" for d in both)


def test_a_partial_page_is_206_with_the_total(admin: AdminGateway, http: requests.Session) -> None:
    failing, _, orders = parked_and_delivered(admin, http)
    response = get(admin, http, "/delivery", params={"subscriptionId": failing, "limit": 2})
    assert response.status_code == 206
    assert (response.headers["X-Total-Count"], response.headers["X-Result-Count"]) == ("3", "2")
    rest = get(admin, http, "/delivery", params={"subscriptionId": failing, "offset": 2, "limit": 2})
    assert rest.status_code == 206
    assert [d["event"]["resourceId"] for d in response.json() + rest.json()] == orders
    past = get(admin, http, "/delivery", params={"subscriptionId": failing, "offset": 5})
    assert (past.status_code, past.json(), past.headers["X-Total-Count"]) == (206, [], "3")


def test_a_bad_list_query_is_400(admin: AdminGateway, http: requests.Session) -> None:
    assert "stalled" in assert_error(get(admin, http, "/delivery?state=stalled"), 400)["message"]
    assert "subscription" in assert_error(get(admin, http, "/delivery?subscription=x"), 400)["message"]
    assert_error(get(admin, http, "/delivery?limit=many"), 400)


def test_a_delivery_is_retrieved_by_id(admin: AdminGateway, http: requests.Session) -> None:
    failing, working, _ = parked_and_delivered(admin, http, orders=1)
    for subscription_id in (failing, working):
        [listed] = get(admin, http, "/delivery", params={"subscriptionId": subscription_id}).json()
        response = get(admin, http, f"/delivery/{listed['id']}")
        assert response.status_code == 200
        assert response.json() == listed
    assert "nope" in assert_error(get(admin, http, "/delivery/nope"), 404)["message"]
    assert_error(get(admin, http, f"/delivery/{uuid.uuid4()}"), 404)


def test_a_parked_delivery_is_redelivered(admin: AdminGateway, http: requests.Session) -> None:
    failing, _, _ = parked_and_delivered(admin, http, orders=2)
    first, second = get(admin, http, "/delivery", params={"subscriptionId": failing}).json()

    response = redeliver(admin, http, first["id"])
    assert response.status_code == 200, response.text
    again = response.json()
    assert (again["id"], again["state"], again["attempts"]) == (first["id"], "pending", 0)
    assert again["event"] == first["event"]
    assert get(admin, http, f"/delivery/{first['id']}").json()["state"] == "pending"
    due = admin.due()
    assert first["id"] in due
    assert second["id"] not in due  # still parked

    merge = redeliver(admin, http, second["id"], headers={"Content-Type": "application/merge-patch+json"}, body=None)
    assert merge.status_code == 200, merge.text
    assert "is pending" in assert_error(redeliver(admin, http, first["id"]), 409)["message"]


def test_only_parked_deliveries_can_be_redelivered(admin: AdminGateway, http: requests.Session) -> None:
    _, working, _ = parked_and_delivered(admin, http, orders=1)
    [delivered] = get(admin, http, "/delivery", params={"subscriptionId": working}).json()
    assert "is delivered" in assert_error(redeliver(admin, http, delivered["id"]), 409)["message"]
    assert_error(redeliver(admin, http, str(uuid.uuid4())), 404)
    assert_error(redeliver(admin, http, "nope"), 404)
    assert_error(redeliver(admin, http, delivered["id"], body={"state": "delivered"}), 400)
    assert_error(redeliver(admin, http, delivered["id"], body={"state": "pending", "attempts": 3}), 400)
    assert_error(redeliver(admin, http, delivered["id"], body={}), 400)


def test_a_replay_queues_the_accepted_events_since_a_time(admin: AdminGateway, http: requests.Session) -> None:
    subscription = subscribe(admin, http)
    early = order(admin, http)
    time.sleep(0.01)
    middle = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    late = order(admin, http)
    admin.fan_out()
    admin.settle(park=set())

    since = middle.isoformat().replace("+00:00", "Z")
    response = replay(admin, http, {"subscriptionId": subscription, "since": since})
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["href"] == f"{admin.url}{ADMIN}/replay/{made['id']}" == response.headers["Location"]
    assert (made["subscriptionId"], made["since"], made["count"], made["@type"]) == (subscription, since, 1, "Replay")
    assert made["creationDate"].endswith("Z")
    assert get(admin, http, f"/replay/{made['id']}").json() == made

    pending = get(admin, http, "/delivery", params={"subscriptionId": subscription, "state": "pending"}).json()
    assert [d["event"]["resourceId"] for d in pending] == [late]
    assert {d["id"] for d in pending} <= admin.due()

    everything = replay(admin, http, {"subscriptionId": subscription, "since": "2000-01-01T00:00:00+02:00"})
    assert everything.json()["count"] == 2
    resources = [
        d["event"]["resourceId"] for d in get(admin, http, "/delivery", params={"subscriptionId": subscription}).json()
    ]
    assert sorted(resources) == sorted([early, late, early, late, late])
    future = replay(admin, http, {"subscriptionId": subscription, "since": "2999-01-01T00:00:00Z"})
    assert future.json()["count"] == 0


def test_a_bad_replay_is_400_and_an_unknown_one_404(admin: AdminGateway, http: requests.Session) -> None:
    subscription = subscribe(admin, http)
    unknown = str(uuid.uuid4())
    message = assert_error(replay(admin, http, {"subscriptionId": unknown, "since": "2026-01-01T00:00:00Z"}), 400)
    assert unknown in message["message"]
    assert (
        "since"
        in assert_error(replay(admin, http, {"subscriptionId": subscription, "since": "2026-01-01T00:00:00"}), 400)[
            "message"
        ]
    )
    assert_error(replay(admin, http, {"subscriptionId": subscription, "since": "yesterday"}), 400)
    assert_error(replay(admin, http, {"subscriptionId": subscription}), 400)
    assert_error(
        replay(admin, http, {"subscriptionId": subscription, "since": "2026-01-01T00:00:00Z", "count": 5}), 400
    )
    assert_error(get(admin, http, f"/replay/{uuid.uuid4()}"), 404)


def test_other_clients_are_refused(admin: AdminGateway, http: requests.Session) -> None:
    failing, _, _ = parked_and_delivered(admin, http, orders=1)
    [parked] = get(admin, http, "/delivery", params={"subscriptionId": failing}).json()
    remote = {"X-Forwarded-For": REMOTE}
    calls: list[Callable[[], requests.Response]] = [
        lambda: get(admin, http, "/delivery", headers=remote),
        lambda: get(admin, http, f"/delivery/{parked['id']}", headers=remote),
        lambda: get(admin, http, f"/replay/{uuid.uuid4()}", headers=remote),
        lambda: redeliver(admin, http, parked["id"], headers=remote),
        lambda: replay(admin, http, {"subscriptionId": failing, "since": "2026-01-01T00:00:00Z"}, headers=remote),
    ]
    for call in calls:
        assert REMOTE in assert_error(call(), 403)["message"]
    assert get(admin, http, f"/delivery/{parked['id']}").json()["state"] == "parked"

    # The ordering API itself stays open to everyone.
    assert http.get(f"{admin.url}{ORDERING}/productOrder?limit=1", headers=remote, timeout=10).status_code in (200, 206)

    original = admin.gateway.settings
    admin.gateway.settings = original.with_overrides(admin_hosts="10.1.2.3, 203.0.113.0/24")
    try:
        assert get(admin, http, "/delivery", headers=remote, params={"limit": 1}).status_code in (200, 206)
        assert get(admin, http, "/delivery", headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 403
    finally:
        admin.gateway.settings = original


def test_admin_hosts_must_be_addresses() -> None:
    from tmfgate.app import create_app
    from tmfgate.errors import ConfigurationError
    from tmfgate.settings import CORE_SETTINGS, Settings

    assert Settings.from_env(CORE_SETTINGS, {"TMFGATE_ADMIN_HOSTS": "10.1.2.3, 203.0.113.0/24"}).admin_hosts
    with pytest.raises(ConfigurationError, match="not-an-address"):
        Settings.from_env(CORE_SETTINGS, {"TMFGATE_ADMIN_HOSTS": "10.1.2.3,not-an-address"})
    with pytest.raises(ConfigurationError, match="not-an-address"):  # given directly, checked at start-up
        create_app(Settings(database_url="memory://", admin_hosts="10.1.2.3,not-an-address"))


def test_the_admin_spec_is_served(admin: AdminGateway, http: requests.Session) -> None:
    spec = get(admin, http, "/openapi.json").json()
    assert spec["servers"][0]["url"] == ADMIN
    assert "TMFGATE_ADMIN_HOSTS" in spec["info"]["description"]


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_the_dispatcher_parks_and_an_operator_redelivers(store: str, tmp_path: Path, http: requests.Session) -> None:
    """End to end: a listener that is down gets the event once it is up and an operator redelivers."""
    url = "memory://" if store == "memory" else f"sqlite:///{tmp_path / 'tmfgate.db'}"
    listener = ListenerProcess(tmp_path / "listener.log")  # its port stays closed until started
    with AdminGateway(url, dispatcher=True, delivery_attempts=1) as admin:
        subscription = subscribe(admin, http, listener.callback)
        resource = order(admin, http)
        query = {"subscriptionId": subscription, "state": "parked"}
        parked = wait_for(lambda: get(admin, http, "/delivery", params=query).json(), "the parked delivery")
        assert [d["event"]["resourceId"] for d in parked] == [resource]
        assert parked[0]["attempts"] == 1
        assert "could not be reached" in parked[0]["lastError"]
        with listener:
            assert redeliver(admin, http, parked[0]["id"]).status_code == 200
            [notification] = listener.wait_for(lambda delivered: len(delivered) >= 1)
            assert notification["body"]["event"]["productOrder"]["id"] == resource
            href = f"/delivery/{parked[0]['id']}"
            wait_for(lambda: get(admin, http, href).json()["state"] == "delivered", "the delivered state")


def wait_for(probe: Callable[[], T], what: str, timeout: float = 20) -> T:
    """The first truthy value of ``probe``, polled; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come within {timeout} s")
        time.sleep(0.05)
