"""Date ranges on ``usageDate`` go through the partial index of usage (backends.sql.ranges) and find
exactly what the filter's own comparison finds, whatever the zone or shape of the stored value."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from backends import open_backend
from backends.base import Query
from backends.conditions import where
from backends.queries import Condition, Instant, Op, ValueType
from backends.sql.lists import list_statements
from backends.sql.query import register_sqlite_functions
from backends.sql.ranges import applies
from backends.sql.schema import range_index
from tests.backends.conftest import SQL_STORES
from tests.backends.contract.support import create_all
from tests.conftest import own_postgres_database

pytestmark = pytest.mark.anyio

INDEX = range_index("usage", "usageDate")


def day(date: dt.datetime, *, whole: bool) -> Condition:
    """``usageDate`` equal to an instant, or to any of its day (``usageDate=2026-10-03``)."""
    return Condition(("usageDate",), Op.EQ, ValueType.DATETIME, (Instant(date, whole),))


OCTOBER_3 = dt.datetime(2026, 10, 3, tzinfo=dt.UTC)
OCTOBER = (
    where("usageDate", gte=dt.datetime(2026, 10, 1, tzinfo=dt.UTC)),
    where("usageDate", lt=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
)


@pytest.fixture(params=SQL_STORES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
    else:
        with own_postgres_database("tmfgate_ranges") as database:
            yield database


@pytest.mark.parametrize(
    ("kind", "condition", "expected"),
    [
        ("usage", OCTOBER[0], True),
        ("usage", OCTOBER[1], True),
        ("usage", day(OCTOBER_3, whole=True), True),
        ("usage", day(OCTOBER_3, whole=False), True),
        ("usage", Condition(("usageDate",), Op.NE, ValueType.DATETIME, (Instant(OCTOBER_3),)), False),
        ("usage", where("usageDate", eq="2026-10-03"), False),  # a text, compared as a text
        ("bill", OCTOBER[0], False),
        ("usage", where("ratedProductUsage.ratingDate", gte=dt.datetime(2026, 10, 1, tzinfo=dt.UTC)), False),
    ],
)
def test_which_conditions_narrow_through_the_range_index(kind: str, condition: Condition, expected: bool) -> None:
    assert applies(kind, condition) is expected


def plan(engine: sa.Engine, statement: sa.Select[Any]) -> str:
    sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            return " | ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        connection.exec_driver_sql("SET enable_seqscan = off")  # a small table: ask whether the index serves
        return " | ".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}"))


async def test_a_month_of_usage_is_read_through_the_usage_date_index(url: str) -> None:
    store = open_backend(url)
    await store.open()
    start = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
    stamps = [(start + dt.timedelta(hours=7 * n)).strftime("%Y-%m-%dT%H:%M:%SZ") for n in range(600)]
    await create_all(store, "usage", *(orjson.dumps({"id": f"u-{n}", "usageDate": at}) for n, at in enumerate(stamps)))
    await create_all(store, "bill", *(orjson.dumps({"id": f"b-{n}", "usageDate": at}) for n, at in enumerate(stamps)))
    page = await store.query("usage", Query(conditions=OCTOBER, limit=1000))
    assert page.total == sum(1 for at in stamps if at.startswith("2026-10")) == len(page.items)
    await store.close()
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", lambda connection, _: register_sqlite_functions(connection))
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    statements = list_statements("usage", Query(conditions=OCTOBER, limit=100), engine.dialect.name)
    for statement in (statements.total, statements.page):
        found = plan(engine, statement.params(statements.parameters))
        assert INDEX in found, found
        assert "SCAN tmf_document " not in found and "Seq Scan" not in found, found
    engine.dispose()


async def test_the_range_keeps_every_zone_and_shape_the_comparison_matches(url: str) -> None:
    """Stored with offsets up to 14 hours, as a date only, or not a date: the same matches
    as the in-memory store, which compares without any index."""
    values: list[Any] = [
        "2026-10-01T00:00:00Z",
        "2026-09-30T23:59:59Z",
        "2026-10-01T13:30:00+14:00",  # 2026-09-30T23:30Z: before
        "2026-10-01T14:30:00+14:00",  # 2026-10-01T00:30Z: in
        "2026-09-30T12:00:00-12:30",  # 2026-10-01T00:30Z: in, though its text is September's
        "2026-10-31T23:00:00-02:00",  # 2026-11-01T01:00Z: after
        "2026-11-01T10:00:00+14:00",  # 2026-10-31T20:00Z: in, though its text is November's
        "2026-10-15",
        "2026-11-01",
        "not a date",
        20261005,
        None,
    ]
    docs = [orjson.dumps({"id": f"u-{n}", "usageDate": value}) for n, value in enumerate(values)]
    memory = open_backend("memory://")
    for store in (sql := open_backend(url), memory):
        await store.open()
        await create_all(store, "usage", *docs)
    conditions = [
        OCTOBER,
        (OCTOBER[0],),
        (OCTOBER[1],),
        (where("usageDate", gt=dt.datetime(2026, 10, 31, 12, tzinfo=dt.UTC)),),
        (where("usageDate", lte=dt.datetime(2026, 10, 1, tzinfo=dt.UTC)),),
        (
            Condition(
                ("usageDate",), Op.EQ, ValueType.DATETIME, (Instant(dt.datetime(2026, 10, 1, tzinfo=dt.UTC), True),)
            ),
        ),
    ]
    for chosen in conditions:
        query = Query(conditions=chosen, limit=100)
        got, wanted = await sql.query("usage", query), await memory.query("usage", query)
        ids = [sorted(orjson.loads(item)["id"] for item in page.items) for page in (got, wanted)]
        assert ids[0] == ids[1] and got.total == wanted.total, chosen
    for store in (sql, memory):
        await store.close()
