"""The SQL outbox beyond the contract: row locks between claimers, and claimers in several processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from backends import open_backend
from backends.sql import SqlBackend, outbox
from tests.backends.conftest import opened
from tests.backends.contract.support import LEASE, claim_all, event, fan_out_all, now, record, to

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("sql_url", ["postgresql"], indirect=True)
async def test_a_delivery_locked_by_another_claimer_is_skipped_not_waited_for(sql_url: str, kind: str) -> None:
    from sqlalchemy import select

    from backends.sql.schema import deliveries

    async with opened(sql_url) as backend:
        assert isinstance(backend, SqlBackend) and backend.engine is not None
        await record(backend, event(kind, "o1", 1), event(kind, "o2", 2))
        await fan_out_all(backend, to("s1"))
        [locked, free] = await backend.deliveries()
        async with backend.engine.connect() as connection, connection.begin():
            # Another dispatcher mid-claim: it holds the row lock but has not committed its lease yet.
            lock = select(deliveries.c.id).where(deliveries.c.id == uuid.UUID(locked.id)).with_for_update()
            await connection.execute(lock)
            claimed = await asyncio.wait_for(backend.claim(limit=10, lease=LEASE, now=now()), timeout=10)
            assert [d.id for d in claimed] == [free.id]


def _claim_from_process(url: str, out: str, barrier: Any) -> None:
    """Claim with the other process at the same moment; write the ids claimed, one a line."""

    async def main() -> None:
        backend = open_backend(url)
        await backend.open()
        try:
            barrier.wait()
            ids = await claim_all(backend, limit=3)
        finally:
            await backend.close()
        Path(out).write_text("".join(f"{id}\n" for id in ids))

    asyncio.run(main())


async def test_two_processes_claiming_at_once_never_share_a_delivery(sql_url: str, kind: str, tmp_path: Path) -> None:
    async with opened(sql_url) as backend:
        await record(backend, *(event(kind, f"o{n}", n) for n in range(80)))
        await fan_out_all(backend, to("s1"))
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(2)
        outs = [tmp_path / f"claimed-{n}.txt" for n in range(2)]
        processes = [context.Process(target=_claim_from_process, args=(sql_url, str(out), barrier)) for out in outs]
        for process in processes:
            process.start()
        for process in processes:
            await asyncio.to_thread(process.join, 120)
            assert process.exitcode == 0, "a claimer process failed; its traceback is in the captured stderr"
            process.close()
        claimed = Counter([id for out in outs for id in out.read_text().split()] + await claim_all(backend))
    assert claimed.most_common(1)[0][1] == 1, "a delivery was claimed twice"
    assert len(claimed) == 80


async def test_a_count_and_a_lookup_are_single_statements(sql_url: str, kind: str) -> None:
    """delivery(id) and count_deliveries() ask the database, not a page at a time."""
    from sqlalchemy import event as sa_event

    async with opened(sql_url) as backend:
        assert isinstance(backend, SqlBackend)
        await record(backend, *(event(kind, f"o{n}", n) for n in range(3)))
        await fan_out_all(backend, to("s1", "s2"))
        [last] = await backend.deliveries(offset=5, limit=1)
        engine = backend.loop_engine or (backend.engine.sync_engine if backend.engine else None)
        assert engine is not None
        statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                statements.append(statement)

        sa_event.listen(engine, "before_cursor_execute", seen)
        try:
            assert await backend.delivery(last.id) == last
            assert await backend.count_deliveries(subscription_id="s2") == 3
        finally:
            sa_event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 2


class Unused:
    """A connection no statement may reach."""

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no statement runs for an id that is not a UUID")


async def test_a_delivery_id_that_is_no_uuid_is_found_nowhere_without_a_query() -> None:
    assert await outbox.find_delivery(Unused(), "not-a-uuid") is None  # type: ignore[arg-type]
    assert await outbox.redeliver(Unused(), "not-a-uuid", now=now()) is False  # type: ignore[arg-type]


@pytest.mark.parametrize("sql_url", ["postgresql"], indirect=True)
async def test_a_fan_out_commits_without_waiting_for_the_disk_and_only_it(sql_url: str, kind: str) -> None:
    """Fan-out is bookkeeping a crash may undo (its events are fanned out again): on PostgreSQL its
    transaction, and only it, commits without waiting for the disk (synchronous_commit off, locally)."""
    from sqlalchemy import text

    show = text("SHOW synchronous_commit")
    async with opened(sql_url) as backend:
        assert isinstance(backend, SqlBackend) and backend.engine is not None
        await record(backend, event(kind, "o1", 1))
        async with backend.engine.connect() as connection:
            async with connection.begin():
                assert await outbox.fan_out(connection, to("s1"), 10) == 1
                assert (await connection.execute(show)).scalar_one() == "off"
            async with connection.begin():  # the next transaction on the connection waits for the disk again
                assert (await connection.execute(show)).scalar_one() == "on"
