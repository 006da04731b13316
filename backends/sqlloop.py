"""SQLite run on the event loop's own thread, awaited as SQLAlchemy's async connections are.

aiosqlite runs every statement in a thread of its own and hands the result back to the loop:
two thread switches per statement, which cost several times what SQLite itself spends on the
short statements of this store. Here statements run inline. Measured on this machine kind: a
transaction reading and rewriting one document took 1.34 ms through aiosqlite and takes 0.63 ms
(sqlite3 alone: 0.18 ms); ``benchmarks/fulfilment.py`` went from 11.2 to 19.3 orders/s and an
order alone from 105 to 59 ms; POSTs to one worker on SQLite from 516 to 993 per second.
(Statements built once, :mod:`backends.sqlstatements`, then took that transaction to 0.35 ms.)

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
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.sql.expression import Executable

LOCK_TIMEOUT = 30.0  # seconds a write transaction waits for another process's lock, as busy_timeout did
_FIRST_RETRY, _LONGEST_RETRY = 0.0005, 0.02  # seconds between tries, doubling

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

    async def column_in_thread(self, statement: Executable) -> list[Any]:
        """The first column of every row, computed in a thread: for statements that may scan many
        rows (a list's filters and sorting), so other requests go on meanwhile."""
        return await asyncio.to_thread(lambda: list(self._connection.execute(statement).scalars()))


@asynccontextmanager
async def connected(engine: Engine, *, options: dict[str, Any]) -> AsyncIterator[LoopConnection]:
    """A connection in a transaction (begun by the engine's ``begin`` hook, which reads ``options``):
    committed on normal exit, rolled back on an exception."""
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


def _locked(exc: sa_exc.OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text
