"""SQLite run on the event loop's own thread, awaited as SQLAlchemy's async connections are.

aiosqlite runs every statement in a thread of its own and hands the result back to the loop:
two thread switches per statement, which cost several times what SQLite itself spends on the
short statements of this store. Here statements run inline. Measured on this machine kind: a
transaction reading and rewriting one document took 1.34 ms through aiosqlite and takes 0.63 ms
(sqlite3 alone: 0.18 ms); ``benchmarks/fulfilment.py`` went from 11.2 to 19.3 orders/s and an
order alone from 105 to 59 ms; POSTs to one worker on SQLite from 516 to 993 per second.
(Statements built once, :mod:`backends.sql.statements`, then took that transaction to 0.35 ms.)

Only a list query (filters and sorting over a whole kind, which may read many rows) still goes to
a thread, once per statement, so that other requests go on while it runs.

The one thing that could make the loop wait is the lock of another process that writes to the
same file (``--workers``, ``tmfgate dispatch``). So the busy handler is off (``busy_timeout``
0): a write transaction's ``BEGIN IMMEDIATE`` either gets the lock at once or fails, and
:func:`connected` then yields to the loop and tries again, for up to ``LOCK_TIMEOUT`` seconds.
In WAL mode nothing else waits for a lock: readers never block, and neither does a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect, Engine, create_engine
from sqlalchemy.sql.expression import Executable

from .query import register_sqlite_functions
from .schema import documents

ANALYSIS_LIMIT = 1000  # rows of each index ANALYZE reads when a store opens (an estimate from a sample)
LOCK_TIMEOUT = 30.0  # seconds a write transaction waits for another process's lock, as busy_timeout did
_FIRST_RETRY, _LONGEST_RETRY = 0.0005, 0.02  # seconds between tries, doubling
# Connection options read by the "begin" hook: write transactions take the lock up front; a
# transaction that is not durable commits without waiting for the disk (synchronous NORMAL: in
# WAL mode it may be lost to a power cut, never to a crash of the process, and the next durable
# commit takes it to the disk with itself). Every change a client or a reaction makes is durable.
_WRITE = "tmfgate_write"
_DURABLE = "tmfgate_durable"
_PRAGMAS = (
    "busy_timeout = 30000",  # first, so switching to WAL waits for other processes too
    "journal_mode = WAL",  # readers never block the writer, nor the writer them
    "synchronous = FULL",  # a 201 must survive a power cut, not only a crash of the process
    "foreign_keys = ON",
    "busy_timeout = 0",  # then a locked file fails at once: connected() waits for it without blocking the loop
)

T = TypeVar("T")


class Executing(Protocol):
    """What the store's statements need of a connection: SQLAlchemy's AsyncConnection has it."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, statement: Executable, parameters: Any = None) -> Any: ...

    async def run_sync(self, fn: Callable[..., T], *args: Any) -> T: ...


class LoopConnection:
    """A synchronous SQLAlchemy connection, awaited like an AsyncConnection."""

    __slots__ = ("_connection",)

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def dialect(self) -> Dialect:
        return self._connection.dialect

    async def execute(self, statement: Executable, parameters: Any = None) -> Any:
        return self._connection.execute(statement, parameters)

    async def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(self._connection, *args)

    async def column_in_thread(self, statement: Executable, parameters: Any = None) -> list[Any]:
        """The first column of every row, computed in a thread: for statements that may scan many
        rows (a list's filters and sorting), so other requests go on meanwhile.

        Cancelled (a client gone, a loop shutting down), it interrupts SQLite and waits for the
        thread to let go of the connection: the transaction's end would otherwise roll back and
        close the connection while SQLite still runs on it, which crashes the process."""
        running = asyncio.get_running_loop().run_in_executor(
            None, lambda: list(self._connection.execute(statement, parameters).scalars())
        )
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            driver = self._connection.connection.driver_connection
            if driver is not None:
                driver.interrupt()  # thread-safe: the statement ends with "interrupted"
            while not running.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait({running})
            running.exception()  # retrieved: the interruption is the expected end, not news
            raise


@asynccontextmanager
async def connected(engine: Engine, *, write: bool, durable: bool = True) -> AsyncIterator[LoopConnection]:
    """A connection in a transaction of an engine from :func:`create_loop_engine`: committed on
    normal exit, rolled back on an exception. Only a ``write`` transaction may write."""
    options = {_WRITE: write, _DURABLE: durable}
    deadline = time.monotonic() + LOCK_TIMEOUT
    pause = _FIRST_RETRY
    while True:
        connection = engine.connect().execution_options(**options)
        try:
            transaction = connection.begin()
            break
        except sa_exc.OperationalError as exc:
            connection.close()
            if not _locked(exc) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(pause)  # another process writes: let this one's requests go on meanwhile
        pause = min(pause * 2, _LONGEST_RETRY)
    try:
        yield LoopConnection(connection)
    except BaseException:
        transaction.rollback()
        raise
    else:
        transaction.commit()
    finally:
        connection.close()


def analyze(connection: Connection) -> None:
    """Refresh the planner's statistics of the documents, reading at most ``ANALYSIS_LIMIT`` rows an index.

    Without statistics SQLite takes any index to match a few rows a value and reads a page in insertion
    order, testing every document, even where an expression index (revision 0003) finds the page at
    once (:mod:`backends.sql.members`); a store is opened once a process, so its statistics are at most
    a process old, and the limit keeps the cost to milliseconds whatever the store's size.
    """
    connection.exec_driver_sql(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
    connection.exec_driver_sql(f"ANALYZE {documents.name}")


def _locked(exc: sa_exc.OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


def create_loop_engine(url: str) -> Engine:
    """The synchronous engine whose connections run on the event loop, set up for this store."""
    # A checkout must never wait: it would block the loop, and with it the tasks that would give a
    # connection back. So the pool keeps 5 and opens more as needed (writers queue on the write
    # lock before they take one; readers hold one while a list query runs in a thread). Any thread
    # may use a connection (list queries, and tests run loops in several), one at a time.
    engine = create_engine(url, pool_size=5, max_overflow=-1, connect_args={"check_same_thread": False})
    sa_event.listen(engine, "connect", _configure)
    sa_event.listen(engine, "begin", _begin)
    return engine


def _pragma(cursor: Any, pragma: str) -> None:
    """Run a PRAGMA, retrying while another process holds the lock.

    Switching a new file to WAL needs an exclusive lock and SQLite answers "database is locked"
    at once, without waiting for busy_timeout, when two processes open the same new store together.
    """
    deadline = time.monotonic() + 30
    while True:
        try:
            cursor.execute(f"PRAGMA {pragma}")
            return
        except Exception as exc:  # the driver adapter re-raises sqlite3 errors as its own classes
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _configure(dbapi_connection: Any, _record: Any) -> None:
    # Stop the driver from emitting its own (deferred) BEGIN; _begin emits ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in _PRAGMAS:
        _pragma(cursor, pragma)
    cursor.close()
    register_sqlite_functions(dbapi_connection)


def _begin(connection: Connection) -> None:
    options = connection.get_execution_options()
    synchronous = "FULL" if options.get(_DURABLE, True) else "NORMAL"
    info = connection.connection.info  # kept with the database connection across checkouts
    if info.get("synchronous") != synchronous:
        connection.exec_driver_sql(f"PRAGMA synchronous = {synchronous}")  # outside a transaction
        info["synchronous"] = synchronous
    # A deferred write transaction that upgrades its read lock fails with "database is locked"
    # when another process wrote meanwhile; IMMEDIATE takes the lock first (connected() waits for it).
    connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_WRITE, False) else "BEGIN")


__all__ = [
    "ANALYSIS_LIMIT",
    "LOCK_TIMEOUT",
    "analyze",
    "Executing",
    "LoopConnection",
    "connected",
    "create_loop_engine",
]
