"""The SQL compilation of queries, on SQLite and PostgreSQL, against the table every evaluator shares."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from backends.base import Query
from backends.sql.query import (
    _sqlite_instant,
    _sqlite_regexp,
    elements_clause,
    order_by,
    register_sqlite_functions,
    where_clause,
)
from tests.backends.cases import CASES, DOCS, ELEMENT_CASES, HOSTILE, REGEXES, SORTS, Reference, parse
from tests.backends.conftest import SQL_STORES
from tmfgate.errors import InvalidQuery

REFERENCE = Reference()


class _Sql:
    def __init__(self, engine: sa.Engine, table: sa.Table) -> None:
        self.engine, self.table, self.name = engine, table, engine.dialect.name

    def ids(self, query: Query) -> set[str]:
        clause = sa.and_(
            where_clause(query.conditions, self.table.c.doc, self.name),
            elements_clause(query.elements, self.table.c.doc, self.name),
        )
        with self.engine.connect() as connection:
            return set(connection.scalars(sa.select(self.table.c.id).where(clause)))

    def ordered(self, query: Query) -> list[str]:
        terms = order_by(query.sort, self.table.c.doc, self.name)
        statement = sa.select(self.table.c.id).order_by(*terms, self.table.c.id)
        with self.engine.connect() as connection:
            return list(connection.scalars(statement))


def _table(json_type: Any) -> sa.Table:
    name = f"qtest_{secrets.token_hex(4)}"
    return sa.Table(name, sa.MetaData(), sa.Column("id", sa.Text, primary_key=True), sa.Column("doc", json_type))


def _load(engine: sa.Engine, table: sa.Table) -> None:
    with engine.begin() as connection:
        table.create(connection)
        connection.execute(table.insert(), [{"id": doc["id"], "doc": doc} for doc in DOCS])


@pytest.fixture(scope="module", params=SQL_STORES)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Sql]:
    """A table of the DOCS on each SQL database (PostgreSQL: the session's own database)."""
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('sqlquery') / 'q.db'}")
        sa.event.listen(engine, "connect", lambda connection, _record: register_sqlite_functions(connection))
        table = _table(sa.JSON)
        _load(engine, table)
        yield _Sql(engine, table)
        engine.dispose()
        return
    engine = sa.create_engine(str(request.getfixturevalue("postgres_database")))
    table = _table(JSONB)
    _load(engine, table)
    yield _Sql(engine, table)
    with engine.begin() as connection:
        table.drop(connection)
    engine.dispose()


@pytest.mark.parametrize(("raw", "expected"), CASES, ids=[raw or "<empty>" for raw, _ in CASES])
def test_filter(store: _Sql, raw: str, expected: set[str]) -> None:
    assert store.ids(parse(raw)) == expected


@pytest.mark.parametrize(("raw", "expected"), ELEMENT_CASES, ids=[raw for raw, _ in ELEMENT_CASES])
def test_json_path_filter(store: _Sql, raw: str, expected: set[str]) -> None:
    assert store.ids(parse(raw)) == expected


@pytest.mark.parametrize(("raw", "expected"), SORTS, ids=[raw for raw, _ in SORTS])
def test_sort(store: _Sql, raw: str, expected: list[str]) -> None:
    assert store.ordered(parse(raw)) == expected


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_values_agree_with_memory(store: _Sql, raw: str) -> None:
    query = parse(raw)
    assert store.ids(query) == REFERENCE.ids(query)
    assert store.ordered(query) == REFERENCE.ordered(query)


@pytest.mark.parametrize(
    "raw",
    [
        "orderDate.gt=notadate",
        "orderDate=2019-04-30T01:30:00-23",
        "state='; DROP TABLE x; --",
        "orderDate=2019-02-29",
        "orderDate=0001-01-01T00:00:00%2B01:00",
        "amount=abc",
        "amount=1e999",
        "amount=NaN",
        "active=maybe",
        "state.regex=(",
        "state.regex=(a%2B)%2B",
        "state=%00",
        "%00=1",
    ],
)
def test_hostile_values_rejected_at_parse_time(raw: str) -> None:
    with pytest.raises(InvalidQuery):
        parse(raw)


@pytest.mark.parametrize("pattern", REGEXES)
def test_regex_is_rejected_or_runs_everywhere(store: _Sql, pattern: str) -> None:
    try:
        query = parse(f'name.regex="{quote(pattern, safe="")}"')
    except InvalidQuery:
        return
    assert store.ids(query) == REFERENCE.ids(query)


def test_unknown_dialect_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not supported"):
        where_clause([], sa.column("doc"), "mysql")


def test_empty_conditions_are_true() -> None:
    assert str(where_clause([], sa.column("doc"), "sqlite").compile()) == "true"


def test_sqlite_functions_never_raise() -> None:
    assert _sqlite_regexp("(", "a") == 0
    assert _sqlite_regexp("a", 1) == 0
    assert _sqlite_regexp(None, "a") == 0
    assert _sqlite_regexp("^a", "abc") == 1
    assert _sqlite_instant(b"2019-01-01") is None
    assert _sqlite_instant("2019-02-29") is None
    assert _sqlite_instant("1970-01-01T00:00:01Z") == 1_000_000
