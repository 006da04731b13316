"""Polling an upstream without a hub: changes found from a stored watermark, announced once as the
TMF630 events a hub would send, with the gateway's hrefs; nothing lost or repeated across a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from backends import open_backend
from backends.base import Backend, Event, StorageUnavailable
from backends.upstream.store import UpstreamOptions, UpstreamStore
from tests.conftest import TEST_SETTINGS
from tmfgate import polling
from tmfgate.gateway import Gateway
from tmfgate.polling import Poller
from tmfgate.runtime import load_apis
from tmfgate.settings import Settings

pytestmark = pytest.mark.anyio

BASE = "/tmf-api/resourceInventoryManagement/v4"
OSS = "http://oss" + BASE
OURS = "http://gw" + BASE
API = "tmf639_resource_inventory"
APIS = load_apis()


class Inventory:
    """A TMF639 upstream without a hub that stamps ``lastUpdate`` on every change; lists filter on
    ``lastUpdate.gte``, sort by it and page, as a TMF server does."""

    def __init__(self, attribute: str = "lastUpdate") -> None:
        self.resources: dict[str, dict[str, Any]] = {}
        self.attribute = attribute  # the date-time it stamps on every change
        self.clock = 0
        self.down = False
        self.asked: list[list[str]] = []  # the ids of each list by id

    def put(self, id: str, *, stamp: bool = True, **attributes: Any) -> None:
        if stamp:
            self.clock += 1
        doc = self.resources.setdefault(id, {"id": id, "href": f"{OSS}/resource/{id}", "@type": "Resource"})
        doc.update(attributes)
        if stamp:
            doc[self.attribute] = f"2026-01-01T00:00:{self.clock:02d}Z"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        params = request.url.params
        found = sorted(self.resources.values(), key=lambda d: d.get(self.attribute, ""))
        since = params.get(f"{self.attribute}.gte")
        if since is not None:
            since = since.replace("+00:00", "Z")
            found = [d for d in found if d.get(self.attribute, "") >= since]
        if "id" in params:  # TMF630: comma-separated values are alternatives
            self.asked.append(params["id"].split(","))
            found = [d for d in found if d["id"] in self.asked[-1]]
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 100))
        return httpx.Response(200, json=found[offset : offset + limit], headers={"x-total-count": str(len(found))})


@pytest.fixture
def inventory() -> Inventory:
    return Inventory()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'bss.db'}", public_url="http://gw", **TEST_SETTINGS)
    yield Gateway(settings, APIS)


@contextlib.asynccontextmanager
async def running(gateway: Gateway, inventory: Inventory) -> AsyncIterator[tuple[Poller, Backend]]:
    """A poller of the inventory's resources, over a local store opened afresh (as after a restart)."""
    local = open_backend(gateway.settings.database_url)
    store = UpstreamStore(
        UpstreamOptions(url=OSS, retries=0, outward=((OSS, OURS),)), transport=httpx.MockTransport(inventory)
    )
    await local.open()
    await store.open()
    try:
        yield Poller(gateway, local, API, [("resource", store)]), local
    finally:
        await store.close()
        await local.close()


async def announced(local: Backend) -> list[tuple[str, str, dict[str, Any]]]:
    """(event type, resource id, resource) of each event fanned out since the last call."""
    seen: list[Event] = []

    def route(event: Event) -> list[str]:
        seen.append(event)
        return []

    while await local.fan_out(route):
        pass
    return [(e.type, e.resource_id, orjson.loads(e.body)["event"]["resource"]) for e in seen]


async def test_what_was_there_first_is_recorded_and_later_changes_announced(
    gateway: Gateway, inventory: Inventory
) -> None:
    inventory.put("r1", name="olt-1", resourceStatus="available")
    async with running(gateway, inventory) as (poller, local):
        await poller.poll()
        assert await announced(local) == []  # existing before: no change
        inventory.put("r2", name="olt-2")
        inventory.put("r1", resourceStatus="reserved")
        inventory.put("r2", description="spare")
        await poller.poll()
        got = await announced(local)
        assert [(t, i) for t, i, _ in got] == [("ResourceStateChangeEvent", "r1"), ("ResourceCreateEvent", "r2")]
        assert got[1][2]["href"] == f"{OURS}/resource/r2" and got[1][2]["description"] == "spare"
        assert await poller.poll() == 0 and await announced(local) == []


async def test_a_first_poll_of_many_pages_announces_nothing(
    gateway: Gateway, inventory: Inventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(polling, "PAGE", 2)
    for n in range(5):
        inventory.put(f"r{n}")
    async with running(gateway, inventory) as (poller, local):
        assert await poller.poll() == 0 and await announced(local) == []
        inventory.put("r2", name="changed")
        await poller.poll()
        assert [(t, i) for t, i, _ in await announced(local)] == [("ResourceAttributeValueChangeEvent", "r2")]


async def test_an_attribute_change_names_the_attribute(gateway: Gateway, inventory: Inventory) -> None:
    inventory.put("r1", name="olt-1")
    async with running(gateway, inventory) as (poller, local):
        await poller.poll()
        inventory.put("r1", name="olt-1b")
        await poller.poll()
        (event,) = [e for e in await announced(local)]
        assert event[0] == "ResourceAttributeValueChangeEvent"


async def test_a_restart_resumes_from_the_stored_watermark(gateway: Gateway, inventory: Inventory) -> None:
    inventory.put("r1", name="a")
    async with running(gateway, inventory) as (poller, local):
        await poller.poll()
        inventory.put("r1", name="b")
        await poller.poll()
        assert len(await announced(local)) == 1
    inventory.put("r2", name="made while the gateway was down")
    async with running(gateway, inventory) as (poller, local):  # a new process on the same store
        await poller.poll()
        assert [(t, i) for t, i, _ in await announced(local)] == [("ResourceCreateEvent", "r2")]


async def test_changes_in_one_instant_beyond_a_page_are_all_found_once(
    gateway: Gateway, inventory: Inventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(polling, "PAGE", 2)
    inventory.put("r0")
    async with running(gateway, inventory) as (poller, local):
        await poller.poll()
        inventory.clock += 1
        for n in range(1, 6):  # five changes with the same lastUpdate
            inventory.put(f"r{n}", stamp=False, lastUpdate=f"2026-01-01T00:00:{inventory.clock:02d}Z")
        await poller.poll()
        assert sorted(i for _, i, _ in await announced(local)) == ["r1", "r2", "r3", "r4", "r5"]
        await poller.poll()
        assert await announced(local) == []


async def test_resources_without_the_attribute_are_said_unpollable(
    gateway: Gateway, inventory: Inventory, caplog: pytest.LogCaptureFixture
) -> None:
    inventory.put("r1", stamp=False, name="no date")
    async with running(gateway, inventory) as (poller, _):
        with caplog.at_level(logging.WARNING, "tmfgate.upstream"):
            await poller.poll()
    assert "resource of tmf639_resource_inventory carry no lastUpdate" in caplog.text


async def test_an_upstream_down_fails_one_pass_and_the_next_finds_what_changed(
    gateway: Gateway, inventory: Inventory
) -> None:
    inventory.put("r1")
    async with running(gateway, inventory) as (poller, local):
        await poller.poll()
        inventory.down = True
        with pytest.raises(StorageUnavailable):
            await poller.poll()
        inventory.down = False
        inventory.put("r1", name="back")
        await poller.poll()
        assert [t for t, _, _ in await announced(local)] == ["ResourceAttributeValueChangeEvent"]


async def test_a_deletion_at_the_upstream_is_found_by_the_sweep_and_announced_once(
    gateway: Gateway, inventory: Inventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(polling, "PAGE", 2)
    for n in range(5):
        inventory.put(f"r{n}", name=f"olt-{n}")
    async with running(gateway, inventory) as (poller, local):
        await poller.poll()
        assert await poller.sweep() == 0 and await announced(local) == []
        del inventory.resources["r1"], inventory.resources["r4"]
        inventory.asked.clear()
        assert await poller.sweep() == 2
        got = await announced(local)
        assert [(t, i) for t, i, _ in got] == [("ResourceDeleteEvent", "r1"), ("ResourceDeleteEvent", "r4")]
        assert got[0][2]["name"] == "olt-1" and got[0][2]["href"] == f"{OURS}/resource/r1"
        assert inventory.asked == [["r0", "r1"], ["r2", "r3"], ["r4"]]  # a page of ids per call
        assert await poller.sweep() == 0 and await poller.poll() == 0 and await announced(local) == []
        inventory.put("r1", name="olt-1 again")  # made anew after its deletion: a create
        await poller.poll()
        assert [(t, i) for t, i, _ in await announced(local)] == [("ResourceCreateEvent", "r1")]


async def test_a_sweep_of_an_upstream_down_announces_nothing(gateway: Gateway, inventory: Inventory) -> None:
    inventory.put("r1")
    async with running(gateway, inventory) as (poller, local):
        await poller.poll()
        inventory.down = True
        with pytest.raises(StorageUnavailable):
            await poller.sweep()
        inventory.down = False
        assert await poller.sweep() == 0 and await announced(local) == []


async def test_the_upstream_s_own_poll_attribute_is_used_for_its_kinds(tmp_path: Path) -> None:
    config = tmp_path / "tmfgate.yaml"
    config.write_text(f"apis:\n  tmf639: {{upstream: {{url: '{OSS}', poll_attribute: {{resource: changedAt}}}}}}\n")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'bss.db'}", public_url="http://gw", config=str(config), **TEST_SETTINGS
    )
    inventory = Inventory(attribute="changedAt")
    inventory.put("r1", name="a")
    async with running(Gateway(settings, APIS), inventory) as (poller, local):
        assert poller.attributes == {"resource": "changedAt"}
        await poller.poll()
        inventory.put("r1", name="b")
        await poller.poll()
        assert [(t, i) for t, i, _ in await announced(local)] == [("ResourceAttributeValueChangeEvent", "r1")]


async def test_a_started_poller_polls_on_its_own_and_says_when_it_cannot(
    tmp_path: Path, inventory: Inventory, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'bss.db'}", upstream_poll=0.02, **TEST_SETTINGS)
    inventory.put("r1")
    async with running(Gateway(settings, APIS), inventory) as (poller, local):
        await poller.poll()
        inventory.down = True
        with caplog.at_level(logging.WARNING, "tmfgate.upstream"):
            poller.start()
            while "cannot poll tmf639_resource_inventory for changes" not in caplog.text:
                await asyncio.sleep(0.01)
        inventory.down = False
        inventory.put("r1", name="seen by the loop")
        while not (got := await announced(local)):
            await asyncio.sleep(0.01)
        await poller.stop()
    assert [i for _, i, _ in got] == ["r1"]
