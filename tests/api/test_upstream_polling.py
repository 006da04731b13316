"""An upstream without a hub, polled over real HTTP: its changes and the gateway's own reach the
gateway's subscribers once each, with the gateway's hrefs, and a restart loses and repeats nothing."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import RunningGateway, free_port, in_thread
from tests.listeners import ListenerProcess

BASE = "/tmf-api/resourceInventoryManagement/v4"
PUBLIC = "http://gw.example"


class Inventory:
    """A TMF639 server on loopback with no hub, stamping ``lastUpdate`` on each change; lists filter on
    ``lastUpdate.gte``, sort by it and page."""

    def __init__(self) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{BASE}"
        self.resources: dict[str, dict[str, Any]] = {}
        self.ticks = itertools.count(1)
        routes = [
            Route(BASE + "/hub", self.no_hub, methods=["GET", "POST"]),
            Route(BASE + "/resource", self.collection, methods=["GET", "POST"]),
            Route(BASE + "/resource/{id}", self.one, methods=["GET", "PATCH", "DELETE"]),
        ]
        self.server = uvicorn.Server(uvicorn.Config(Starlette(routes=routes), port=self.port, log_level="warning"))

    def change(self, id: str, **attributes: Any) -> dict[str, Any]:
        doc = self.resources.setdefault(id, {"id": id, "href": f"{self.url}/resource/{id}", "@type": "Resource"})
        doc.update(attributes, lastUpdate=f"2026-01-01T00:{next(self.ticks):02d}:00Z")
        return doc

    async def no_hub(self, request: Request) -> Response:
        return JSONResponse({"code": "60", "reason": "Not found", "message": "no hub here"}, 404)

    async def collection(self, request: Request) -> Response:
        if request.method == "POST":
            return JSONResponse(self.change(uuid.uuid4().hex, **await request.json()), 201)
        found = sorted(self.resources.values(), key=lambda d: d["lastUpdate"])
        since = request.query_params.get("lastUpdate.gte")
        if since is not None:
            found = [d for d in found if d["lastUpdate"] >= since.replace("+00:00", "Z")]
        if "id" in request.query_params:  # TMF630: comma-separated values are alternatives
            found = [d for d in found if d["id"] in request.query_params["id"].split(",")]
        offset, limit = int(request.query_params.get("offset", 0)), int(request.query_params.get("limit", 100))
        return JSONResponse(found[offset : offset + limit], headers={"x-total-count": str(len(found))})

    async def one(self, request: Request) -> Response:
        id = request.path_params["id"]
        if id not in self.resources:
            return JSONResponse({"code": "60", "reason": "Not found", "message": id}, 404)
        if request.method == "PATCH":
            return JSONResponse(self.change(id, **await request.json()))
        if request.method == "DELETE":
            del self.resources[id]
            return Response(status_code=204)
        return JSONResponse(self.resources[id])


@pytest.fixture
def inventory() -> Iterator[Inventory]:
    running = Inventory()
    with in_thread(running.server):
        yield running


def gateway(inventory: Inventory, folder: Path, **settings: Any) -> RunningGateway:
    config = folder / "tmfgate.yaml"
    config.write_text(f"apis:\n  tmf639: {{upstream: {{url: '{inventory.url}'}}}}\n")
    # The same public URL across the restart (a new port each time): the copies kept compare equal.
    return RunningGateway(
        f"sqlite:///{folder / 'bss.db'}",
        config=str(config),
        fulfilment=False,
        upstream_poll=0.2,
        public_url=PUBLIC,
        **settings,
    )


def types(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["body"]["eventType"], e["body"]["event"]["resource"]["id"]) for e in entries]


def test_changes_there_and_here_are_announced_once_across_a_restart(inventory: Inventory, tmp_path: Path) -> None:
    inventory.change("old", name="there before")
    with ListenerProcess(tmp_path / "listener.jsonl") as listener:
        with gateway(inventory, tmp_path) as running:
            hub = requests.post(f"{running.url}{BASE}/hub", json={"callback": listener.callback}, timeout=10)
            assert hub.status_code == 201, hub.text
            time.sleep(0.5)  # the first poll records what is there
            made = requests.post(f"{running.url}{BASE}/resource", json={"name": "olt-1"}, timeout=10)
            assert made.status_code == 201, made.text
            id = made.json()["id"]
            listener.wait_for(lambda d: len(d) >= 1, what="the create")  # changes within one poll are one
            inventory.change(id, resourceStatus="reserved")  # changed at the upstream, not through us
            got = listener.wait_for(lambda d: len(d) >= 2, what="the create and the state change")
            assert types(got) == [("ResourceCreateEvent", id), ("ResourceStateChangeEvent", id)]
            assert got[0]["body"]["event"]["resource"]["href"] == f"{PUBLIC}{BASE}/resource/{id}"
        inventory.change("old", description="changed while the gateway was down")
        with gateway(inventory, tmp_path):
            got = listener.wait_for(lambda d: len(d) >= 3, what="the change made while it was down")
            time.sleep(1.0)  # a few more polls: nothing more
        assert types(listener.delivered())[2:] == [("ResourceAttributeValueChangeEvent", "old")]


def test_deletions_there_and_here_are_announced_once(inventory: Inventory, tmp_path: Path) -> None:
    inventory.change("there", name="deleted at the upstream")
    inventory.change("here", name="deleted through the gateway")
    inventory.change("kept", name="stays")
    with ListenerProcess(tmp_path / "listener.jsonl") as listener:
        with gateway(inventory, tmp_path, upstream_poll_deletions=0.2) as running:
            hub = requests.post(f"{running.url}{BASE}/hub", json={"callback": listener.callback}, timeout=10)
            assert hub.status_code == 201, hub.text
            time.sleep(0.5)  # the first poll records what is there
            assert requests.delete(f"{running.url}{BASE}/resource/here", timeout=10).status_code == 204
            del inventory.resources["there"]
            got = listener.wait_for(lambda d: len(d) >= 2, what="both deletions")
            time.sleep(0.6)  # a few more sweeps: nothing more
        assert sorted(types(listener.delivered())) == [
            ("ResourceDeleteEvent", "here"),
            ("ResourceDeleteEvent", "there"),
        ]
        assert {e["body"]["event"]["resource"]["href"] for e in got} == {
            f"{PUBLIC}{BASE}/resource/here",
            f"{PUBLIC}{BASE}/resource/there",
        }
