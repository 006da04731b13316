"""The SQL store beyond the contract: several processes, a killed writer, its schema, and driver errors."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
from typing import Any

import orjson
import pytest
from sqlalchemy import exc as sa_exc

from backends import open_backend
from backends.base import DuplicateId, Query, StorageError, StorageUnavailable, UnstorableDocument
from backends.sql.store import translate
from tests.backends.conftest import opened
from tests.backends.contract.support import create_all, doc, increment

pytestmark = pytest.mark.anyio


def _write_from_process(url: str, kind: str, worker: int, barrier: Any) -> None:
    """Open the store (racing the other process to create it) and write to it."""

    async def main() -> None:
        backend = open_backend(url)
        barrier.wait()  # open and write at the same moment as the other process
        await backend.open()
        try:
            with contextlib.suppress(DuplicateId):  # the other process created it first
                await create_all(backend, kind, doc("counter", n=0))
            for i in range(25):
                await create_all(backend, kind, doc(f"p{worker}-{i}"))
                await increment(backend, kind, "counter")
        finally:
            await backend.close()

    asyncio.run(main())


async def test_two_processes_write_one_store(sql_url: str, kind: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    processes = [context.Process(target=_write_from_process, args=(sql_url, kind, n, barrier)) for n in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        await asyncio.to_thread(process.join, 120)
        assert process.exitcode == 0, "a writer process failed; its traceback is in the captured stderr"
        process.close()
    async with opened(sql_url) as backend:
        assert orjson.loads(await backend.get(kind, "counter") or b"")["n"] == 50
        assert (await backend.query(kind, Query())).total == 51


def _create_and_hang(url: str, kind: str, committed: Any) -> None:
    async def main() -> None:
        backend = open_backend(url)
        await backend.open()
        await create_all(backend, kind, doc("durable"))
        committed.set()
        await asyncio.sleep(120)  # killed here, connections and WAL left as they are

    asyncio.run(main())


async def test_a_committed_document_survives_sigkill(sql_url: str, kind: str) -> None:
    context = multiprocessing.get_context("spawn")
    committed = context.Event()
    process = context.Process(target=_create_and_hang, args=(sql_url, kind, committed))
    process.start()
    assert await asyncio.to_thread(committed.wait, 60), "the child process never committed"
    os.kill(process.pid or 0, signal.SIGKILL)
    await asyncio.to_thread(process.join, 30)
    assert process.exitcode == -signal.SIGKILL
    process.close()
    async with opened(sql_url) as backend:
        assert orjson.loads(await backend.get(kind, "durable") or b"") == {"id": "durable"}


async def test_open_is_idempotent(sql_url: str, kind: str) -> None:
    async with opened(sql_url) as backend:
        await create_all(backend, kind, doc("1"))
        async with opened(sql_url) as again:
            assert await again.get(kind, "1") is not None


async def test_an_unreachable_database_is_unavailable(anyio_backend: str) -> None:
    backend = open_backend("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StorageUnavailable):
        await backend.open()
    await backend.close()


class _DriverError(Exception):
    """Stands for the driver's own exception, kept as ``orig``."""


@pytest.mark.parametrize(
    ("error", "translated"),
    [
        (sa_exc.IntegrityError, StorageError),
        (sa_exc.DataError, UnstorableDocument),
        (sa_exc.ProgrammingError, StorageError),
        (sa_exc.OperationalError, StorageUnavailable),
        (sa_exc.InterfaceError, StorageUnavailable),
        (sa_exc.InternalError, StorageUnavailable),
    ],
)
def test_driver_errors_are_translated_by_whose_fault_they_are(
    error: type[sa_exc.DBAPIError], translated: type[StorageError]
) -> None:
    result = translate(error("SELECT 1", {}, _DriverError("what the driver said")))
    assert type(result) is translated
    assert "what the driver said" in str(result)


def test_a_pool_timeout_is_unavailability() -> None:
    assert type(translate(sa_exc.TimeoutError("QueuePool limit reached"))) is StorageUnavailable


async def test_the_pool_opens_its_connections_once_under_more_clients(postgres_url: str, kind: str) -> None:
    from sqlalchemy import event as sa_event

    from backends.sql import SqlBackend

    backend = open_backend(postgres_url, pool_size=4)
    assert isinstance(backend, SqlBackend) and backend.engine is not None
    opened_connections: list[object] = []
    sa_event.listen(backend.engine.sync_engine.pool, "connect", lambda *_: opened_connections.append(1))
    await backend.open()
    try:
        await create_all(backend, kind, doc("pooled"))
        for _ in range(3):  # 64 clients at once, three times: a request past the pool waits for a connection
            found = await asyncio.gather(*(backend.get(kind, "pooled") for _ in range(64)))
            assert all(raw is not None for raw in found)
            await asyncio.gather(*(backend.query(kind, Query(limit=1)) for _ in range(64)))
    finally:
        await backend.close()
    assert len(opened_connections) <= 4  # overflow connections, closed on return, were opened again and again


async def test_a_read_survives_its_connections_being_killed(postgres_url: str, kind: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    backend = open_backend(postgres_url, pool_size=2)
    await backend.open()
    killer = create_async_engine(postgres_url)
    try:
        await create_all(backend, kind, doc("survivor"))
        await asyncio.gather(*(backend.get(kind, "survivor") for _ in range(4)))  # both pooled connections
        async with killer.connect() as connection:  # as a server restart would
            killed = await connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            assert killed.scalar_one() >= 1
        assert await backend.get(kind, "survivor") is not None  # no ping beforehand: tried again
        assert (await backend.query(kind, Query())).total == 1
        await create_all(backend, kind, doc("after"))  # the dead connections were recycled
    finally:
        await killer.dispose()
        await backend.close()


async def _stored_events(backend: Any) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from backends.sql.schema import events

    async with backend.engine.connect() as connection:
        return [
            (id, body)
            for id, body in await connection.execute(select(events.c.id, events.c.body).order_by(events.c.seq))
        ]


async def test_postgresql_commits_a_change_with_its_events_or_neither(postgres_url: str, kind: str) -> None:
    """On PostgreSQL the events of a transaction go with its COMMIT (backends.sql.outbox.add_events_and_commit):
    they are stored in their order with the change, and a COMMIT whose events fail does not commit the change."""
    from tests.backends.contract.support import event

    async with opened(postgres_url) as backend:
        first, second = event(kind, "with-events", 1), event(kind, "with-events", 2)
        # Bound by the client in this path: quotes, backslashes and any character arrive as they were.
        first = first._replace(head=orjson.dumps({"eventId": first.id, "note": 'it\'s \\ "quoted" \u00e9 \u2713 %s'}))
        stored = [(first.id, first.body.decode()), (second.id, second.body.decode())]
        async with backend.transaction() as tx:
            await tx.create(kind, "with-events", doc("with-events"))
            await tx.add_event(first)
            await tx.add_events([second])
        assert await backend.get(kind, "with-events") is not None
        assert await _stored_events(backend) == stored
        with pytest.raises(StorageError):  # an event id is unique: this one is stored already
            async with backend.transaction() as tx:
                await tx.create(kind, "refused", doc("refused"))
                await tx.add_event(event(kind, "refused")._replace(id=first.id))
        assert await backend.get(kind, "refused") is None
        with pytest.raises(RuntimeError):
            async with backend.transaction() as tx:
                await tx.create(kind, "rolled-back", doc("rolled-back"))
                await tx.add_event(event(kind, "rolled-back"))
                raise RuntimeError("the block fails after its event")
        assert await backend.get(kind, "rolled-back") is None
        assert await _stored_events(backend) == stored
        async with backend.transaction() as tx:  # the connections are usable after both
            await tx.create(kind, "after", doc("after"))
        assert await backend.get(kind, "after") is not None
