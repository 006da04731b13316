"""SQLite on the event loop: waiting for another process's lock without stopping the loop, and durability."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.dialects import sqlite as sqlite_dialect

from backends.base import Query
from backends.conditions import where
from backends.sql import SqlBackend
from backends.sql.lists import list_statements
from backends.sql.query import register_sqlite_functions
from backends.sql.sqlite import LoopConnection, connected, create_loop_engine
from tests.backends.conftest import opened
from tests.backends.contract.support import create_all, doc

pytestmark = pytest.mark.anyio


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/store.db"


async def test_a_writer_waits_for_another_process_s_lock_without_stopping_the_loop(
    url: str, tmp_path: Path, kind: str
) -> None:
    async with opened(url) as backend:
        await create_all(backend, kind, doc("before"))
        other = sqlite3.connect(str(tmp_path / "store.db"), isolation_level=None)  # as another process's writer
        other.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        try:
            writing = asyncio.create_task(create_all(backend, kind, doc("waited")))
            await asyncio.sleep(0.5)
            assert not writing.done()  # it waits for the lock...
            assert ticks >= 20  # ...while the loop runs on
            assert orjson.loads(await backend.get(kind, "before") or b"") == {"id": "before"}  # readers never wait
            other.execute("COMMIT")
            await asyncio.wait_for(writing, timeout=5)
        finally:
            ticker.cancel()
            other.close()
        assert orjson.loads(await backend.get(kind, "waited") or b"") == {"id": "waited"}


async def test_changes_wait_for_the_disk_and_only_the_outbox_bookkeeping_may_not(url: str) -> None:
    async with opened(url) as backend:
        assert isinstance(backend, SqlBackend)

        async def synchronous(durable: bool) -> int:
            async with backend._connection(write=True, durable=durable) as connection:
                return int((await connection.execute(text("PRAGMA synchronous"))).scalar_one())

        # Alternating, so every pooled connection serves both kinds in turn: the setting never leaks.
        seen = [(await synchronous(True), await synchronous(False)) for _ in range(12)]
        assert set(seen) == {(2, 1)}  # FULL for changes, NORMAL for fan-out, claims, settles, pruning
        async with backend.transaction() as tx:
            assert int((await tx._connection.execute(text("PRAGMA synchronous"))).scalar_one()) == 2


async def test_sqlite_connections_are_durable_and_patient(url: str) -> None:
    async with opened(url) as backend:
        assert isinstance(backend, SqlBackend) and backend.loop_engine is not None
        with backend.loop_engine.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
    # busy_timeout 0: a writer waiting for another process's lock waits on the event loop.
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "busy_timeout": 0, "foreign_keys": 1}


async def test_a_block_that_raises_rolls_back_and_one_that_ends_commits(url: str) -> None:
    engine = create_loop_engine(url)
    try:
        async with connected(engine, write=True) as connection:
            assert isinstance(connection, LoopConnection)
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        with pytest.raises(RuntimeError, match="boom"):
            async with connected(engine, write=True) as connection:
                await connection.execute(text("INSERT INTO t VALUES (1)"))
                raise RuntimeError("boom")
        async with connected(engine, write=True) as connection:
            await connection.execute(text("INSERT INTO t VALUES (2)"))
        async with connected(engine, write=False) as connection:
            assert await connection.column_in_thread(text("SELECT n FROM t")) == [2]
            # The shared value formats are registered on every connection.
            instant = text("SELECT tmfgate_instant('1970-01-01T00:00:01Z'), regexp('^a', 'abc')")
            assert list((await connection.execute(instant)).one()) == [1_000_000, 1]
    finally:
        engine.dispose()


@pytest.mark.timeout(60)  # before the fix it hung: the connection closed under the running thread
async def test_a_list_query_cancelled_in_its_thread_lets_go_of_the_connection_before_it_closes(url: str) -> None:
    engine = create_loop_engine(url)
    # Counts to a billion: SQLite would run for minutes unless interrupted.
    endless = text(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c"
    )

    async def scan() -> list[object]:
        async with connected(engine, write=False) as connection:
            return await connection.column_in_thread(endless)

    task = asyncio.create_task(scan())
    await asyncio.sleep(0.2)
    started = asyncio.get_running_loop().time()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncio.get_running_loop().time() - started < 5  # interrupted, not run to its end
    async with connected(engine, write=False) as connection:  # the pool's connections still work
        assert await connection.column_in_thread(text("SELECT 42")) == [42]
    engine.dispose()


async def test_a_store_opened_again_has_statistics_and_its_pages_read_a_member_index(tmp_path: Path) -> None:
    """Without statistics a page of ``status=...`` reads the kind in insertion order, testing every document;
    opening the store analyzes it (a sample of ANALYSIS_LIMIT rows an index), and the page then reads the index."""
    url = f"sqlite:///{tmp_path}/store.db"
    store = SqlBackend(url)
    await store.open()
    await create_all(store, "service", *(orjson.dumps({"id": f"s-{n}", "status": f"v-{n}"}) for n in range(300)))
    statements = list_statements("service", Query(conditions=(where("status", eq="v-7"),), limit=10), "sqlite")
    sql = str(
        statements.page.params(statements.parameters).compile(
            dialect=sqlite_dialect.dialect(), compile_kwargs={"literal_binds": True}
        )
    )

    def plan(database: sqlite3.Connection) -> str:
        return " | ".join(row[-1] for row in database.execute(f"EXPLAIN QUERY PLAN {sql}"))

    def with_functions() -> sqlite3.Connection:
        database = sqlite3.connect(f"{tmp_path}/store.db")
        register_sqlite_functions(database)
        return database

    database = with_functions()
    assert "USING INDEX ix_tmf_document_kind_seq" in plan(database)  # opened empty: no statistics of these rows
    database.close()
    await store.close()
    again = SqlBackend(url)
    await again.open()
    database = with_functions()
    assert "USING INDEX ix_tmf_document_json_status (kind=? AND <expr>=?)" in plan(database), plan(database)
    assert database.execute("PRAGMA analysis_limit").fetchone() == (0,)  # the limit is the store's connections' own
    database.close()
    assert (await again.query("service", Query(conditions=(where("status", eq="v-7"),)))).total == 1
    await again.close()
