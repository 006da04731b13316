"""The SQL store: JSON documents and the event outbox on SQLite or PostgreSQL, through SQLAlchemy Core."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.expression import Executable

from backends.errors import DuplicateId, NotStored, StorageError, StorageUnavailable, UnstorableDocument
from backends.events import Delivery, DeliveryState, Event, Route
from backends.queries import Owners, Page, Query

from . import migrations, outbox, sqlite
from .grouped import GroupCommit
from .lists import list_statements
from .schema import documents, metadata
from .sqlite import Executing, LoopConnection
from .statements import STATEMENTS

T = TypeVar("T")
# Connections a PostgreSQL store keeps open when not told (the gateway passes its db_pool_size).
DEFAULT_POOL_SIZE = 8
_MANY = 1000  # ids in one read of get_many
# Any constant works; it only has to be the same in every process that creates the schema.
_SCHEMA_LOCK_KEY = 0x746D66676174  # "tmfgat"


class SqlTransaction:
    """Reads and writes on one connection inside one database transaction."""

    def __init__(self, connection: Executing) -> None:
        self._connection = connection
        self._statements = STATEMENTS[connection.dialect.name]
        # PostgreSQL: the events wait for the commit, to go in one message with it (commit()).
        self._pending: list[Event] | None = [] if isinstance(connection, AsyncConnection) else None

    async def add_event(self, event: Event) -> None:
        # On this transaction's connection: the event commits, or rolls back, with the change.
        if self._pending is not None:
            self._pending.append(event)
            return
        with translated_errors():
            await outbox.add_event(self._connection, event)

    async def commit(self) -> None:
        """Commit now, with the events kept for it; the block's end then finds nothing left to do."""
        pending = self._pending
        if pending and isinstance(self._connection, AsyncConnection):
            self._pending = []
            with translated_errors():
                await outbox.add_events_and_commit(self._connection, pending)

    async def get(self, kind: str, id: str, *, for_update: bool = False, owners: Owners = None) -> bytes | None:
        parameters: dict[str, Any] = {"of_kind": kind, "of_id": id}
        if owners is None:
            stmt: Executable = self._statements.get_for_update if for_update else self._statements.get
        else:
            stmt = self._statements.get_owned[(for_update, None in owners)]
            parameters["owners"] = [owner for owner in owners if owner is not None]
        raw = (await self._execute(stmt, parameters)).scalar_one_or_none()
        return None if raw is None else raw.encode()

    async def create(self, kind: str, id: str, doc: bytes, *, owner: str | None = None) -> None:
        values = {"of_kind": kind, "of_id": id, "json": bytes(doc).decode(), "stamp": _now(), "owner": owner}
        try:
            stored = (await self._connection.execute(self._statements.insert, values)).first()
        except sa_exc.IntegrityError as exc:
            raise DuplicateId(f"A {kind} with id {id!r} is already stored.") from exc
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        if stored is None:  # ON CONFLICT DO NOTHING returned no row
            raise DuplicateId(f"A {kind} with id {id!r} is already stored.")

    async def get_many(self, kind: str, ids: Sequence[str], *, for_update: bool = False) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        stmt = self._statements.get_many_for_update if for_update else self._statements.get_many
        ids = sorted(ids) if for_update else ids  # chunks locked one after the other: in id order too
        for start in range(0, len(ids), _MANY):  # bound parameters have a limit (SQLite: 32,766)
            chosen = list(ids[start : start + _MANY])
            rows = await self._execute(stmt, {"of_kind": kind, "of_ids": chosen})
            found.update((str(id), raw.encode()) for id, raw in rows.all())
        return found

    async def create_many(
        self, kind: str, docs: Sequence[tuple[str, bytes]], *, owner: str | None = None
    ) -> list[bytes | None]:
        stamp = _now()
        values = [
            {"of_kind": kind, "of_id": id, "json": bytes(doc).decode(), "stamp": stamp, "owner": owner}
            for id, doc in docs
        ]
        if not values:
            return []
        try:  # one statement: executemany (SQLite, where MAX+1 gives each row its seq), rows of VALUES (PostgreSQL)
            await self._connection.execute(self._statements.insert_many, values)
        except sa_exc.IntegrityError as exc:
            raise DuplicateId(f"A {kind} of these ids is already stored.") from exc
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        return [None] * len(values)

    async def add_events(self, events: Sequence[Event]) -> None:
        if self._pending is not None:
            self._pending.extend(events)
            return
        with translated_errors():
            await outbox.add_events(self._connection, events)

    async def owner(self, kind: str, id: str) -> str | None:
        owner = (await self._execute(self._statements.owner, {"of_kind": kind, "of_id": id})).scalar_one_or_none()
        return None if owner is None else str(owner)

    async def replace(self, kind: str, id: str, doc: bytes) -> None:
        values = {"of_kind": kind, "of_id": id, "json": bytes(doc).decode(), "stamp": _now()}
        if (await self._execute(self._statements.replace, values)).rowcount == 0:
            raise NotStored(f"No {kind} with id {id!r} is stored.")

    async def replace_many(self, kind: str, docs: Sequence[tuple[str, bytes]]) -> None:
        stamp = _now()
        values = [{"of_kind": kind, "of_id": id, "json": bytes(doc).decode(), "stamp": stamp} for id, doc in docs]
        if not values:
            return
        # One executemany (pipelined on PostgreSQL); both drivers add up the rows each update changed.
        if (await self._execute(self._statements.replace, values)).rowcount != len(values):
            raise NotStored(f"A {kind} of these ids is not stored.")

    async def owner_many(self, kind: str, ids: Sequence[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for start in range(0, len(ids), _MANY):
            chosen = list(ids[start : start + _MANY])
            rows = await self._execute(self._statements.owner_many, {"of_kind": kind, "of_ids": chosen})
            found.update((str(id), None if owner is None else str(owner)) for id, owner in rows.all())
        return found

    async def delete(self, kind: str, id: str) -> bool:
        return bool((await self._execute(self._statements.delete, {"of_kind": kind, "of_id": id})).rowcount)

    async def query(self, kind: str, query: Query) -> Page:
        count, page, together, parameters = list_statements(kind, query, self._connection.dialect.name)
        if together is not None:  # one round trip, one statement's snapshot
            total, items = (await self._execute(together, parameters)).one()
            return Page(total=int(total), items=[raw.encode() for raw in items])
        total = int((await self._column(count, parameters))[0])
        if total <= query.offset or query.limit == 0:
            return Page(total=total, items=[])
        return Page(total=total, items=[raw.encode() for raw in await self._column(page, parameters)])

    async def _execute(self, stmt: Executable, parameters: dict[str, Any] | list[dict[str, Any]] | None = None) -> Any:
        with translated_errors():
            return await self._connection.execute(stmt, parameters)

    async def _column(self, stmt: Executable, parameters: dict[str, Any]) -> list[Any]:
        """The first column of every row; off the event loop's thread on SQLite (see :mod:`.sqlite`)."""
        with translated_errors():
            if isinstance(self._connection, LoopConnection):
                return await self._connection.column_in_thread(stmt, parameters)
            return list((await self._connection.execute(stmt, parameters)).scalars())


class _Settle(NamedTuple):
    """One delivery attempt to record (the arguments of ``settle``)."""

    delivery_id: str
    delivered: bool
    error: str | None
    retry_at: dt.datetime | None


class SqlBackend:
    """Documents and the outbox in SQL tables; the same statements on SQLite (on the event loop's thread,
    :mod:`backends.sql.sqlite`) and PostgreSQL (psycopg's async API)."""

    def __init__(self, url: str, *, pool_size: int = DEFAULT_POOL_SIZE, migrate: bool = True) -> None:
        self.url = url
        # Whether open() migrates a store at an older revision, or refuses it (an empty one is always set up).
        self.migrate = migrate
        # SQLite has one writer at a time. Within this process, writers queue on a lock (a busy
        # handler sleeping between tries left the file idle: benchmarks/fulfilment.py measured
        # +60% orders/s with the lock); a writer of another process is waited for on the loop.
        self._sqlite = url.startswith("sqlite")
        # SQLite's statements run on the loop's thread; PostgreSQL's through psycopg's async API.
        self.loop_engine: Engine | None = sqlite.create_loop_engine(url) if self._sqlite else None
        self.engine: AsyncEngine | None = None if self._sqlite else _create_engine(url, pool_size)
        self._settles: GroupCommit[_Settle] = GroupCommit(self._settle_all)
        self._write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    async def open(self) -> None:
        """Set up the schema of an empty store, and migrate an older one when ``migrate`` (else raise
        :class:`~backends.sql.migrations.SchemaMismatch`); two processes may start at once. On SQLite,
        also refresh the planner's statistics (:func:`backends.sql.sqlite.analyze`)."""
        async with self._schema_connection() as connection:
            await connection.run_sync(functools.partial(migrations.prepare, migrate=self.migrate))
            if self._sqlite:  # statistics for the planner, so that pages use the member indexes
                await connection.run_sync(sqlite.analyze)

    async def revision(self) -> str | None:
        """The schema revision of the store; None when empty or made before migrations."""
        async with self._connection(write=False) as connection:
            return await connection.run_sync(migrations.current)

    async def upgrade(self, target: str = "heads") -> None:
        async with self._schema_connection() as connection:
            await connection.run_sync(migrations.upgrade, target)

    async def downgrade(self, target: str) -> None:
        async with self._schema_connection() as connection:
            await connection.run_sync(migrations.downgrade, target)

    @asynccontextmanager
    async def _schema_connection(self) -> AsyncIterator[Executing]:
        """A write transaction that alone may change the schema, whichever process runs it."""
        async with self._connection(write=True) as connection:
            if connection.dialect.name == "postgresql":
                # CREATE TABLE IF NOT EXISTS still races on the catalog; this lock ends with the commit.
                lock = text("SELECT pg_advisory_xact_lock(:key)")
                await connection.execute(lock, {"key": _SCHEMA_LOCK_KEY})
            # On SQLite the BEGIN IMMEDIATE of a write transaction serialises the check and the change.
            yield connection

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()
        if self.loop_engine is not None:
            self.loop_engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        """A write transaction: committed on normal exit, rolled back when the block raises."""
        async with self._connection(write=True) as connection:
            transaction = SqlTransaction(connection)
            yield transaction
            await transaction.commit()  # not reached when the block raises: all rolls back

    async def get(self, kind: str, id: str, *, owners: Owners = None) -> bytes | None:
        return await self._read(lambda tx: tx.get(kind, id, owners=owners))

    async def query(self, kind: str, query: Query) -> Page:
        # COUNT(*) and the page must read one snapshot, or total and items may disagree. SQLite
        # keeps one snapshot per transaction anyway; PostgreSQL asks both in one statement.
        return await self._read(lambda tx: tx.query(kind, query))

    async def _read(self, work: Callable[[SqlTransaction], Awaitable[T]]) -> T:
        """``work`` in a read transaction, done once more on a new connection when its connection
        turned out to be dead (the server restarted): a read may be repeated, and no ping checks
        connections beforehand."""
        retried = False
        while True:
            try:
                async with self._connection(write=False) as connection:
                    return await work(SqlTransaction(connection))
            except StorageUnavailable as exc:
                if retried or not _disconnected(exc):
                    raise
                retried = False

    # The outbox's own bookkeeping (fan-out, claims, settles, pruning) need not reach the disk at
    # once (``durable=False``): lost to a power cut, it is done again, and delivery is at least once.

    async def fan_out(self, route: Route, *, limit: int = 200) -> int:
        async with self._connection(write=True, durable=False) as connection:
            return await outbox.fan_out(connection, route, limit)

    async def claim(self, *, limit: int, lease: float, now: dt.datetime) -> list[Delivery]:
        async with self._connection(write=True, durable=False) as connection:
            return await outbox.claim(connection, limit=limit, lease=lease, now=now)

    async def renew(self, delivery_ids: Sequence[str], *, until: dt.datetime) -> None:
        async with self._connection(write=True, durable=False) as connection:
            await outbox.renew(connection, delivery_ids, until=until)

    async def settle(
        self, delivery_id: str, *, delivered: bool, error: str | None = None, retry_at: dt.datetime | None = None
    ) -> None:
        # Settles arriving while one commits share the next transaction (group commit, .grouped).
        await self._settles.submit(_Settle(delivery_id, delivered, error, retry_at))

    async def _settle_all(self, settles: list[_Settle]) -> None:
        async with self._connection(write=True, durable=False) as connection:
            for one in settles:
                await outbox.settle(
                    connection, one.delivery_id, delivered=one.delivered, error=one.error, retry_at=one.retry_at
                )

    async def deliveries(
        self,
        *,
        state: DeliveryState | None = None,
        subscription_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Delivery]:
        async with self._connection(write=False) as connection:
            return await outbox.list_deliveries(
                connection, state=state, subscription_id=subscription_id, limit=limit, offset=offset
            )

    async def delivery(self, delivery_id: str) -> Delivery | None:
        async with self._connection(write=False) as connection:
            return await outbox.find_delivery(connection, delivery_id)

    async def count_deliveries(self, *, state: DeliveryState | None = None, subscription_id: str | None = None) -> int:
        async with self._connection(write=False) as connection:
            return await outbox.count_deliveries(connection, state=state, subscription_id=subscription_id)

    async def redeliver(self, delivery_id: str, *, now: dt.datetime) -> bool:
        async with self._connection(write=True) as connection:
            return await outbox.redeliver(connection, delivery_id, now=now)

    async def replay(self, subscription_id: str, since: dt.datetime, route: Callable[[Event], bool]) -> int:
        async with self._connection(write=True) as connection:
            return await outbox.replay(connection, subscription_id, since, route)

    async def drop_deliveries(self, subscription_id: str) -> int:
        async with self._connection(write=True) as connection:
            return await outbox.drop_deliveries(connection, subscription_id)

    async def prune(self, before: dt.datetime, *, limit: int = 1000) -> int:
        async with self._connection(write=True, durable=False) as connection:
            return await outbox.prune(connection, before, limit)

    @asynccontextmanager
    async def _connection(self, *, write: bool, durable: bool = True) -> AsyncIterator[Executing]:
        if write and self._sqlite:
            async with self._write_lock(), self._connected(write=True, durable=durable) as connection:
                yield connection
        else:
            async with self._connected(write=write) as connection:
                yield connection

    def _write_lock(self) -> asyncio.Lock:
        """This event loop's lock for SQLite writers (a lock belongs to one loop; tests run several)."""
        loop = asyncio.get_running_loop()
        lock = self._write_locks.get(loop)
        if lock is None:
            lock = self._write_locks[loop] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def _connected(self, *, write: bool, durable: bool = True) -> AsyncIterator[Executing]:
        if self.loop_engine is not None:
            with translated_errors():
                async with sqlite.connected(self.loop_engine, write=write, durable=durable) as inline:
                    yield inline
            return
        assert self.engine is not None
        with translated_errors():
            async with self.engine.connect() as connection, connection.begin():
                yield connection


def _create_engine(url: str, pool_size: int) -> AsyncEngine:
    """PostgreSQL's engine: a fixed pool of ``pool_size`` connections, each opened once and kept.

    No overflow: overflow connections were closed on return, so under more clients than the pool
    each worker opened about 55 connections a second (issue 14); a request past the pool waits for
    a connection instead. No ping on checkout (a round trip per request on a healthy pool): a
    connection that fails as disconnected, after a server restart, is recycled with every connection
    older than it (SQLAlchemy's invalidation on a disconnect error), and reads try once again.
    """
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=30,
        pool_pre_ping=False,
        connect_args={"connect_timeout": 10},
    )


@contextmanager
def translated_errors() -> Iterator[None]:
    """Raise the driver's errors as StorageErrors, keeping the original as the cause."""
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise translate(exc) from exc


def translate(exc: sa_exc.SQLAlchemyError) -> StorageError:
    """The StorageError for a driver error: unavailability unless the request itself was at fault."""
    if isinstance(exc, sa_exc.IntegrityError):
        return StorageError(f"The store refused the write: {exc.orig}")
    if isinstance(exc, sa_exc.DataError):
        return UnstorableDocument(f"The store cannot keep a value of this document: {exc.orig}")
    if isinstance(exc, sa_exc.DBAPIError) and not isinstance(
        exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.InternalError)
    ):
        return StorageError(f"The store refused the statement: {exc.orig}")
    # Connection failures, timeouts, "database is locked", pool exhaustion, deadlocks.
    return StorageUnavailable(f"The store is unavailable: {getattr(exc, 'orig', None) or exc}")


def _disconnected(exc: StorageError) -> bool:
    """Whether the driver found the connection dead, and SQLAlchemy has recycled it."""
    cause = exc.__cause__
    return isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


__all__ = ["SqlBackend", "SqlTransaction", "documents", "metadata", "translate", "translated_errors"]
