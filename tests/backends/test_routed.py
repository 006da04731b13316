"""The routed backend: routed kinds read and written in their own store, the rest and every event
in the local one; partner-limited reads of a store that records no owner are a declared 501."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

import orjson
import pytest

from backends import open_backend
from backends.base import Backend, Event, Page, Query, Unsupported
from backends.routed import RemoteTransaction, RoutedBackend
from tests.backends.contract.support import doc, fan_out_all, to

pytestmark = pytest.mark.anyio


class Remote:
    """Another system's store, played by a memory store: it records no owner and may raise its own events."""

    def __init__(self, raises_events: bool) -> None:
        self.url = "http://oss"
        self.raises_events = raises_events
        self.inner = open_backend("memory://")
        self.opened = self.closed = 0

    async def open(self) -> None:
        self.opened += 1
        await self.inner.open()

    async def close(self) -> None:
        self.closed += 1
        await self.inner.close()

    def transaction(self) -> AbstractAsyncContextManager[RemoteTransaction]:
        return self.inner.transaction()

    async def get(self, kind: str, id: str) -> bytes | None:
        return await self.inner.get(kind, id)

    async def query(self, kind: str, query: Query) -> Page:
        return await self.inner.query(kind, query)


@contextlib.asynccontextmanager
async def routed(raises_events: bool = True) -> AsyncIterator[tuple[RoutedBackend, Backend, Remote]]:
    local, remote = open_backend("memory://"), Remote(raises_events)
    backend = RoutedBackend(local, {"resource": remote, "resourceSpecification": remote})
    await backend.open()
    try:
        yield backend, local, remote
    finally:
        await backend.close()


def event(kind: str) -> Event:
    return Event("e-" + kind, "resourceInventory", kind, "1", f"{kind}CreateEvent", dt.datetime.now(dt.UTC), b"{}")


async def test_each_store_is_opened_and_closed_once() -> None:
    async with routed() as (_, _, remote):
        assert remote.opened == 1
    assert remote.closed == 1


async def test_routed_kinds_live_in_their_store_and_the_rest_locally() -> None:
    async with routed() as (backend, local, remote):
        async with backend.transaction() as tx:
            await tx.create("resource", "r1", doc("r1", name="olt"))
            await tx.create("individual", "p1", doc("p1"), owner="partner-a")
            assert await tx.get("resource", "r1") is not None
        assert await remote.get("resource", "r1") is not None and await local.get("resource", "r1") is None
        assert await local.get("individual", "p1") is not None and await remote.get("individual", "p1") is None
        assert (await backend.query("resource", Query())).total == 1
        assert orjson.loads(await backend.get("resource", "r1") or b"")["name"] == "olt"
        async with backend.transaction() as tx:
            await tx.replace("resource", "r1", doc("r1", name="ont"))
            assert (await tx.query("resource", Query())).total == 1
            assert await tx.owner("resource", "r1") is None  # the other system's documents are the operator's
            assert await tx.owner("individual", "p1") == "partner-a"
            assert await tx.delete("resource", "r1") is True
        assert await remote.get("resource", "r1") is None


async def test_a_partner_limited_read_of_a_routed_kind_is_unsupported() -> None:
    async with routed() as (backend, _, _):
        with pytest.raises(Unsupported, match="records no owner"):
            await backend.get("resource", "r1", owners=frozenset({"partner-a"}))
        with pytest.raises(Unsupported, match="records no owner"):
            await backend.query("resource", Query(owners=frozenset({"partner-a"})))
        async with backend.transaction() as tx:
            with pytest.raises(Unsupported):
                await tx.get("resource", "r1", owners=frozenset({"partner-a"}))
        assert (await backend.query("individual", Query(owners=frozenset({"partner-a"})))).total == 0


@pytest.mark.parametrize("raises_events", [True, False])
async def test_events_of_a_kind_whose_store_has_a_hub_are_left_to_that_hub(raises_events: bool) -> None:
    async with routed(raises_events) as (backend, _, _):
        async with backend.transaction() as tx:
            await tx.add_event(event("resource"))
            await tx.add_event(event("individual"))
        kinds: list[str] = []

        def route(e: Event) -> list[str]:
            kinds.append(e.kind)
            return ["s1"]

        await fan_out_all(backend, route)
        assert sorted(kinds) == (["individual"] if raises_events else ["individual", "resource"])


async def test_the_outbox_is_the_local_store_s() -> None:
    async with routed(raises_events=False) as (backend, local, _):
        async with backend.transaction() as tx:
            await tx.add_event(event("resource"))
        assert await fan_out_all(backend, to("s1")) == 1
        (claimed,) = await backend.claim(limit=10, lease=30, now=dt.datetime.now(dt.UTC))
        assert await local.delivery(claimed.id) is not None
        await backend.settle(claimed.id, delivered=False, error="listener down")
        assert await backend.count_deliveries(state="parked", subscription_id="s1") == 1
        assert [d.id for d in await backend.deliveries(subscription_id="s1")] == [claimed.id]
        assert await backend.redeliver(claimed.id, now=dt.datetime.now(dt.UTC))
        assert await backend.drop_deliveries("s1") == 1
