"""Group commit: writes queued during a commit share the next transaction, and each caller returns
once its own write committed; on the SQL stores, settles of many deliveries take few transactions."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event as sa_event

from backends.base import DeliveryState
from backends.sql import SqlBackend
from backends.sql.grouped import GroupCommit
from tests.backends.conftest import opened
from tests.backends.contract.support import claim_all, event, fan_out_all, record, to

pytestmark = pytest.mark.anyio


async def test_writes_queued_during_a_commit_go_together_in_the_next() -> None:
    groups: list[list[int]] = []

    async def commit(items: list[int]) -> None:
        groups.append(items)
        await asyncio.sleep(0.01)  # the commit takes a while: the others queue meanwhile

    grouped: GroupCommit[int] = GroupCommit(commit)
    first = asyncio.ensure_future(grouped.submit(0))
    while not groups:  # its commit has begun
        await asyncio.sleep(0)
    await asyncio.gather(*(grouped.submit(n) for n in range(1, 10)))
    await first
    assert groups == [[0], list(range(1, 10))]
    await grouped.submit(10)  # alone: no wait for company
    assert groups[-1] == [10]


async def test_every_caller_of_a_failed_group_gets_its_error_and_the_next_group_runs() -> None:
    calls: list[list[str]] = []

    async def commit(items: list[str]) -> None:
        calls.append(items)
        await asyncio.sleep(0.01)
        if "bad" in items:
            raise RuntimeError("the transaction failed")

    grouped: GroupCommit[str] = GroupCommit(commit)
    first = asyncio.ensure_future(grouped.submit("first"))
    while not calls:
        await asyncio.sleep(0)
    results = await asyncio.gather(grouped.submit("bad"), grouped.submit("other"), return_exceptions=True)
    assert [type(result) for result in results] == [RuntimeError, RuntimeError]
    await first
    await grouped.submit("later")
    assert calls == [["first"], ["bad", "other"], ["later"]]


async def test_many_settles_take_few_transactions(sql_url: str, kind: str) -> None:
    async with opened(sql_url) as backend:
        assert isinstance(backend, SqlBackend)
        await record(backend, *(event(kind, f"o{n}", n) for n in range(1, 41)))
        await fan_out_all(backend, to("s1"))
        claimed = await claim_all(backend, limit=40)
        assert len(claimed) == 40
        commits: list[object] = []
        engine = backend.engine.sync_engine if backend.engine is not None else backend.loop_engine
        assert engine is not None
        sa_event.listen(engine, "commit", lambda *_: commits.append(1))
        await asyncio.gather(*(backend.settle(delivery_id, delivered=True) for delivery_id in claimed))
        assert len(commits) < 10  # one each before group commit
        delivered = await backend.deliveries(state=DeliveryState.DELIVERED, limit=100)
        assert {delivery.id for delivery in delivered} == set(claimed)
