"""Events of an upstream re-published: the gateway subscribes to the upstream's hub (a second tmfgate
server), its subscribers get the upstream's events with the gateway's hrefs, once each."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests

from tests.conftest import RunningGateway
from tests.listeners import ListenerProcess
from tmfgate.notifications.posts import signature
from tmfgate.relay import PREFIX, Relay

BASE = "/tmf-api/resourceInventoryManagement/v4"
API = "tmf639_resource_inventory"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("oss")
    with RunningGateway(f"sqlite:///{folder / 'oss.db'}", fulfilment=False) as oss:  # HTTP on a port of its own
        yield oss.url


def running(upstream: str, folder: Path) -> RunningGateway:
    config = folder / "tmfgate.yaml"
    config.write_text(f"apis:\n  tmf639: {{upstream: {{url: '{upstream}{BASE}'}}}}\n")
    return RunningGateway(f"sqlite:///{folder / 'bss.db'}", config=str(config), fulfilment=False)


def relay_of(gateway: RunningGateway) -> Relay:
    relay = gateway.server.config.app.relay
    assert isinstance(relay, Relay)
    return relay


def subscribe(gateway: RunningGateway, listener: ListenerProcess) -> None:
    response = requests.post(f"{gateway.url}{BASE}/hub", json={"callback": listener.callback}, timeout=10)
    assert response.status_code == 201, response.text


def test_upstream_events_reach_our_subscribers_once_with_our_hrefs(upstream: str, tmp_path: Path) -> None:
    with running(upstream, tmp_path) as gateway, ListenerProcess(tmp_path / "listener.jsonl") as listener:
        subscribe(gateway, listener)
        made = requests.post(f"{gateway.url}{BASE}/resource", json={"name": "olt-9"}, timeout=10).json()
        requests.patch(
            f"{upstream}{BASE}/resource/{made['id']}",  # a change made at the upstream, not through us
            json={"resourceStatus": "reserved"},
            headers={"content-type": "application/merge-patch+json"},
            timeout=10,
        )
        got = listener.wait_for(lambda d: len(d) >= 2, what="the create and the state change")
        types = [entry["body"]["eventType"] for entry in got]
        assert types[:2] == ["ResourceCreateEvent", "ResourceStateChangeEvent"]
        hrefs = [entry["body"]["event"]["resource"]["href"] for entry in got]
        assert hrefs[:2] == [f"{gateway.url}{BASE}/resource/{made['id']}"] * 2
        assert len(got) == 2 and len({entry["body"]["eventId"] for entry in got}) == 2


def test_a_retried_notification_is_republished_once(upstream: str, tmp_path: Path) -> None:
    with running(upstream, tmp_path) as gateway, ListenerProcess(tmp_path / "listener.jsonl") as listener:
        subscribe(gateway, listener)
        relay = relay_of(gateway)
        body = orjson.dumps(
            {
                "eventId": "e-1",
                "eventType": "ResourceAttributeValueChangeEvent",
                "event": {"resource": {"id": "r-7", "href": f"{upstream}{BASE}/resource/r-7"}},
            }
        )
        url = f"{gateway.url}{PREFIX}{API}/{relay_of(gateway).secret}/listener"
        headers = {
            "x-hub-signature-256": signature(relay.secret, body, int(time.time())),
            "content-type": "application/json",
        }
        assert [requests.post(url, data=body, headers=headers, timeout=10).status_code for _ in range(2)] == [202, 200]
        got = listener.wait_for(lambda d: len(d) >= 1)
        assert got[0]["body"]["event"]["resource"]["href"] == f"{gateway.url}{BASE}/resource/r-7"
        assert len(listener.delivered()) == 1


@pytest.mark.parametrize(
    ("path", "signed", "status"),
    [(API, False, 403), ("tmf622_product_ordering", True, 404), (API, "bad body", 400)],
)
def test_a_notification_we_cannot_take_is_a_tmf_error(
    upstream: str, tmp_path: Path, path: str, signed: object, status: int
) -> None:
    with running(upstream, tmp_path) as gateway:
        body = b"not json" if signed == "bad body" else b'{"eventId": "x"}'
        headers = {"x-hub-signature-256": signature(relay_of(gateway).secret, body, int(time.time()))} if signed else {}
        token = relay_of(gateway).secret if signed else "guessed"
        response = requests.post(
            f"{gateway.url}{PREFIX}{path}/{token}/listener", data=body, headers=headers, timeout=10
        )
    assert response.status_code == status and response.json()["@type"] == "Error"


def test_a_clean_stop_unsubscribes(upstream: str, tmp_path: Path) -> None:
    with running(upstream, tmp_path) as gateway:
        relay = relay_of(gateway)
        id = relay.subscriptions[API]  # the id of the upstream's 201
    assert requests.delete(f"{upstream}{BASE}/hub/{id}", timeout=10).status_code == 404  # gone already


def test_a_replayed_notification_is_refused(upstream: str, tmp_path: Path) -> None:
    with running(upstream, tmp_path) as gateway:
        body = b'{"eventId": "old", "eventType": "ResourceDeleteEvent", "event": {"resource": {"id": "r"}}}'
        stale = signature(relay_of(gateway).secret, body, int(time.time()) - 3600)
        url = f"{gateway.url}{PREFIX}{API}/{relay_of(gateway).secret}/listener"
        response = requests.post(url, data=body, headers={"x-hub-signature-256": stale}, timeout=10)
    assert response.status_code == 403 and response.json()["@type"] == "Error"
