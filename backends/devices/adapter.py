"""TMF639 ``resource`` documents read from and written to a ``devices`` table through SQLAlchemy
(any URL: MariaDB ``mysql+pymysql://``, PostgreSQL, SQLite); filters, sort and paging run as SQL."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from backends.adapters import AdapterContext
from backends.errors import DuplicateId, NotStored, StorageUnavailable, UnstorableDocument, Unsupported
from backends.queries import Condition, Instant, Op, Page, Query

from .table import COLUMNS, DEVICES, STATUS_CODES, STATUSES, metadata

T = TypeVar("T")
KIND = "resource"
ALWAYS = frozenset({"href", "@type"})  # set by the adapter on every answer, never stored


class DevicesAdapter:
    """The TMF639 ``resource`` kind over the ``devices`` table; made by :func:`devices`."""

    kinds = (KIND,)
    raises_events = False  # the table notifies nobody: the gateway raises the events

    def __init__(self, context: AdapterContext) -> None:
        self.url = context.url
        self.base = context.base
        self.create_table = bool(context.options.get("create_table", False))
        self.engine: sa.Engine | None = None

    async def open(self) -> None:
        self.engine = sa.create_engine(self.url, pool_pre_ping=True)
        if self.create_table:
            await self._run(lambda: metadata.create_all(self._engine()))

    async def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None

    def _engine(self) -> sa.Engine:
        if self.engine is None:
            raise StorageUnavailable(f"The devices adapter at {self.url} is not open.")
        return self.engine

    @staticmethod
    async def _run(work: Callable[[], T]) -> T:
        """Blocking driver work in a thread, its errors as the storage contract's."""
        try:
            return await asyncio.to_thread(work)
        except sa_exc.IntegrityError as exc:
            raise UnstorableDocument(str(exc.orig)) from exc
        except sa_exc.DataError as exc:
            raise UnstorableDocument(str(exc.orig)) from exc
        except sa_exc.SQLAlchemyError as exc:
            raise StorageUnavailable(f"The devices table cannot be used: {exc}") from exc

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[DevicesTransaction]:
        engine = self._engine()
        connection = await self._run(engine.connect)
        await self._run(connection.begin)
        try:
            yield DevicesTransaction(self, connection)
        except BaseException:
            await self._run(connection.rollback)
            raise
        else:
            await self._run(connection.commit)
        finally:
            await self._run(connection.close)

    async def get(self, kind: str, id: str) -> bytes | None:
        async with self.transaction() as tx:
            return await tx.get(kind, id)

    async def query(self, kind: str, query: Query) -> Page:
        async with self.transaction() as tx:
            return await tx.query(kind, query)

    def document(self, row: sa.Row[Any]) -> bytes:
        """The TMF639 resource of a row: mapped columns only, codes and instants translated."""
        doc: dict[str, Any] = {"id": row.device_id, "href": f"{self.base}/{KIND}/{row.device_id}", "@type": "Resource"}
        for name, column in COLUMNS.items():
            value = row._mapping[column.name]
            if value is None or name == "id":
                continue
            if name == "resourceStatus":
                value = STATUSES.get(value, "unknown")
            elif isinstance(value, dt.datetime):
                value = value.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
            doc[name] = value
        return orjson.dumps(doc)


class DevicesTransaction:
    """One connection and one database transaction."""

    def __init__(self, adapter: DevicesAdapter, connection: sa.Connection) -> None:
        self.adapter = adapter
        self.connection = connection

    async def _one(self, statement: sa.Select[Any]) -> sa.Row[Any] | None:
        return await self.adapter._run(lambda: self.connection.execute(statement).first())

    async def get(self, kind: str, id: str, *, for_update: bool = False) -> bytes | None:
        statement = sa.select(DEVICES).where(DEVICES.c.device_id == id)
        row = await self._one(statement.with_for_update() if for_update else statement)
        return None if row is None else self.adapter.document(row)

    async def create(self, kind: str, id: str, doc: bytes) -> bytes:
        values = row_values(orjson.loads(doc))
        if await self._one(sa.select(DEVICES.c.device_id).where(DEVICES.c.device_id == id)) is not None:
            raise DuplicateId(f"A device with id {id!r} is already stored.")
        await self.adapter._run(lambda: self.connection.execute(sa.insert(DEVICES).values(values)))
        return await self._stored(id)

    async def replace(self, kind: str, id: str, doc: bytes) -> bytes:
        values = row_values(orjson.loads(doc))
        values = {**{column.name: None for column in COLUMNS.values()}, **values}
        update = sa.update(DEVICES).where(DEVICES.c.device_id == id).values(values)
        if (await self.adapter._run(lambda: self.connection.execute(update))).rowcount == 0:
            raise NotStored(f"No device with id {id!r} is stored.")
        return await self._stored(id)

    async def _stored(self, id: str) -> bytes:
        row = await self._one(sa.select(DEVICES).where(DEVICES.c.device_id == id))
        if row is None:
            raise NotStored(f"No device with id {id!r} is stored.")
        return self.adapter.document(row)

    async def delete(self, kind: str, id: str) -> bool:
        statement = sa.delete(DEVICES).where(DEVICES.c.device_id == id)
        return bool((await self.adapter._run(lambda: self.connection.execute(statement))).rowcount)

    async def query(self, kind: str, query: Query) -> Page:
        if query.elements:
            raise Unsupported("The devices table has no arrays to match by element; use attribute filters.")
        clauses = [clause(condition) for condition in query.conditions]
        count = sa.select(sa.func.count()).select_from(DEVICES).where(*clauses)
        select = sa.select(DEVICES).where(*clauses)
        for key in query.sort:
            column = mapped(key.path, "sort on")
            select = select.order_by(column.is_(None), column.desc() if key.descending else column.asc())
        select = select.order_by(DEVICES.c.device_id).offset(query.offset)
        if query.limit is not None:
            select = select.limit(query.limit)

        def run() -> tuple[int, list[sa.Row[Any]]]:
            return int(self.connection.execute(count).scalar_one()), list(self.connection.execute(select))

        total, rows = await self.adapter._run(run)
        return Page(total, [self.adapter.document(row) for row in rows])

    async def add_event(self, event: object) -> None:
        raise Unsupported("The devices table keeps no events; the gateway's outbox does.")


def row_values(doc: dict[str, Any]) -> dict[str, Any]:
    """The columns of a TMF639 resource; an attribute with no column is refused, nothing stored."""
    extra = sorted(set(doc) - set(COLUMNS) - ALWAYS)
    if extra:
        raise UnstorableDocument(f"the devices table has no column for {', '.join(extra)}")
    values: dict[str, Any] = {}
    for name, value in doc.items():
        if name in ALWAYS:
            continue
        if name == "resourceStatus":
            value = STATUS_CODES[value]
        elif name == "startOperatingDate":
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC).replace(tzinfo=None)
        values[COLUMNS[name].name] = value
    return values


def mapped(path: tuple[str, ...], what: str) -> sa.Column[Any]:
    column = COLUMNS.get(".".join(path))
    if column is None:
        raise Unsupported(
            f"The devices table cannot {what} {'.'.join(path)}; it can {what} {', '.join(sorted(COLUMNS))}."
        )
    return column


def clause(condition: Condition) -> sa.ColumnElement[bool]:
    """One TMF630 condition as SQL on the mapped column (values OR-ed, ``ne`` as the negation of ``eq``)."""
    column = mapped(condition.path, "filter on")
    if condition.op is Op.REGEX:
        raise Unsupported("The devices table cannot filter with regular expressions.")
    values = [_column_value(condition.path, value) for value in condition.values]
    if condition.op in (Op.EQ, Op.NE):
        equal = sa.or_(*(_equal(column, value) for value in values))
        return equal if condition.op is Op.EQ else sa.or_(column.is_(None), sa.not_(equal))
    compare = {Op.GT: column.__gt__, Op.GTE: column.__ge__, Op.LT: column.__lt__, Op.LTE: column.__le__}[condition.op]
    return sa.or_(
        *(compare(value.at.replace(tzinfo=None) if isinstance(value, Instant) else value) for value in values)
    )


def _column_value(path: tuple[str, ...], value: Any) -> Any:
    if path == ("resourceStatus",):
        return STATUS_CODES.get(str(value), "---")  # an unknown status matches no row
    return value


def _equal(column: sa.Column[Any], value: Any) -> sa.ColumnElement[bool]:
    if isinstance(value, Instant):
        at = value.at.astimezone(dt.UTC).replace(tzinfo=None)
        if value.whole_day:
            return sa.and_(column >= at, column < at + dt.timedelta(days=1))
        return column == at
    return column == sa.literal(value)


def devices(context: AdapterContext) -> DevicesAdapter:
    """The entry point of the ``tmfgate.adapters`` group."""
    return DevicesAdapter(context)
