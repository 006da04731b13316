"""List statements kept per query shape (backends.sql.lists): queries of one shape share their statements and
each finds its own rows (no value of one reaches another), IN lists of any length share one, and the cache is
bounded. Every filter's matches are the contract suite's (tests/backends/contract), which runs on this cache."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from backends import open_backend
from backends.base import Backend, Query
from backends.conditions import where
from backends.queries import Condition, ElementCondition, Instant, Op, SortKey, ValueType
from backends.sql.lists import CACHE_SIZE, built, list_statements
from tests.backends.conftest import SQL_STORES
from tests.backends.contract.support import create_all
from tests.conftest import own_postgres_database

pytestmark = pytest.mark.anyio

SERVICES = [
    {
        "id": f"s-{n}",
        "state": ["active", "designed", "terminated"][n % 3],
        "name": f"name-{n % 4}",
        "priority": n % 5,
        "startDate": f"2026-10-{n % 28 + 1:02d}T10:00:00Z",
        "relatedParty": [{"id": f"c-{n % 6}", "role": "customer"}, {"id": f"t-{n % 2}", "role": "technician"}],
    }
    for n in range(60)
]


@pytest.fixture(params=SQL_STORES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        backend = open_backend(f"sqlite:///{tmp_path}/store.db")
        await backend.open()
        yield backend
        await backend.close()
        return
    with own_postgres_database("tmfgate_lists") as url:
        backend = open_backend(url)
        await backend.open()
        yield backend
        await backend.close()


async def _ids(store: Backend, query: Query) -> tuple[int, list[str]]:
    page = await store.query("service", query)
    return page.total, [orjson.loads(raw)["id"] for raw in page.items]


def _expected(keep: object, *, offset: int = 0, limit: int | None = None) -> tuple[int, list[str]]:
    found = [service["id"] for service in SERVICES if keep(service)]  # type: ignore[operator]
    return len(found), [str(id) for id in found[offset : None if limit is None else offset + limit]]


def _party(service: dict[str, object], party: str) -> bool:
    return any(related["id"] == party for related in service["relatedParty"])  # type: ignore[attr-defined]


def _dialect(store: Backend) -> str:
    return "sqlite" if str(getattr(store, "url", "")).startswith("sqlite") else "postgresql"


def _shares(first: Query, second: Query, dialect: str) -> bool:
    """Whether the two queries run the very same statements (with their own parameters)."""
    one, other = list_statements("service", first, dialect), list_statements("service", second, dialect)
    return one.total is other.total and one.page is other.page and one.parameters != other.parameters


async def test_queries_of_one_shape_share_statements_and_find_their_own_rows(store: Backend) -> None:
    await create_all(store, "service", *map(orjson.dumps, SERVICES))
    dialect = _dialect(store)
    asks = [
        (lambda v: (where("state", eq=v),), ["active", "terminated"], lambda v: lambda s: s["state"] == v),
        (lambda v: (where("name", eq=v),), ["name-1", "name-3"], lambda v: lambda s: s["name"] == v),
        (lambda v: (where("state", ne=v),), ["designed", "active"], lambda v: lambda s: s["state"] != v),
        (
            lambda v: (where("relatedParty.id", eq=v),),
            ["c-2", "c-5"],
            lambda v: lambda s: _party(s, v),
        ),
        (
            lambda v: (Condition(("priority",), Op.GTE, ValueType.NUMBER, (v,)),),
            [Decimal(3), Decimal(1)],
            lambda v: lambda s: s["priority"] >= v,
        ),
        (
            lambda v: (Condition(("name",), Op.REGEX, ValueType.STRING, (v,)),),
            ["-2$", "-0$"],
            lambda v: lambda s: s["name"].endswith(v[1]),
        ),
        (
            lambda v: (Condition(("startDate",), Op.EQ, ValueType.DATETIME, (Instant(v, whole_day=True),)),),
            [dt.datetime(2026, 10, 3, tzinfo=dt.UTC), dt.datetime(2026, 10, 9, tzinfo=dt.UTC)],
            lambda v: lambda s: s["startDate"].startswith(v.date().isoformat()),
        ),
    ]
    for conditions, values, keep in asks:
        first, second = (Query(conditions=conditions(value), limit=3, offset=1) for value in values)
        assert _shares(first, second, dialect), first
        for value, query in zip(values, (first, second, first), strict=False):
            assert await _ids(store, query) == _expected(keep(value), offset=1, limit=3), query


async def test_in_lists_of_any_length_share_one_statement(store: Backend) -> None:
    await create_all(store, "service", *map(orjson.dumps, SERVICES))
    dialect = _dialect(store)
    for path, values in (("name", ["name-0", "name-1", "name-2"]), ("state", ["active", "designed", "terminated"])):
        queries = [Query(conditions=(where(path, eq=values[:length]),)) for length in (1, 2, 3)]
        for length, query in enumerate(queries, 1):
            assert await _ids(store, query) == _expected(lambda s, n=length, p=path, vs=values: s[p] in vs[:n])
        # On PostgreSQL each value is a containment of its own (the GIN index serves one document's @>).
        assert _shares(queries[0], queries[2], dialect) is (dialect == "sqlite")
    owners = [("o-1",), ("o-1", "o-2", None)]
    assert _shares(Query(owners=owners[0]), Query(owners=("o-3",)), dialect)
    assert not _shares(Query(owners=owners[0]), Query(owners=owners[1]), dialect)  # None: also no owner


async def test_a_value_that_changes_the_sql_is_another_shape(store: Backend) -> None:
    """``state=1`` also matches the number 1 (no member index, no column alone): other statements, right rows."""
    services = [{"id": "text", "state": "1"}, {"id": "number", "state": 1}, {"id": "word", "state": "active"}]
    await create_all(store, "service", *map(orjson.dumps, services))
    dialect = _dialect(store)
    word, number = Query(conditions=(where("state", eq="active"),)), Query(conditions=(where("state", eq="1"),))
    assert list_statements("service", word, dialect).total is not list_statements("service", number, dialect).total
    assert (await _ids(store, number)) == (2, ["text", "number"])
    assert (await _ids(store, word)) == (1, ["word"])


async def test_element_conditions_and_sorting_keep_their_values_apart(store: Backend) -> None:
    await create_all(store, "service", *map(orjson.dumps, SERVICES))
    for party, role in (("c-1", "customer"), ("t-0", "technician"), ("t-0", "customer")):
        element = ElementCondition(("relatedParty",), (where("id", eq=party), where("role", eq=role)))
        query = Query(elements=(element,), sort=(SortKey(("name",), descending=True),), limit=4)
        wanted = {"id": party, "role": role}
        chosen = [s for s in SERVICES if wanted in s["relatedParty"]]  # type: ignore[operator]
        ordered = sorted(chosen, key=lambda s: str(s["name"]), reverse=True)  # stable: insertion order in ties
        assert await _ids(store, query) == (len(chosen), [str(s["id"]) for s in ordered[:4]])


def test_the_cache_is_bounded() -> None:
    built.cache_clear()
    for n in range(CACHE_SIZE + 20):
        list_statements("service", Query(conditions=(where(f"a{n}", eq="x"),)), "sqlite")
    info = built.cache_info()
    assert info.currsize == CACHE_SIZE and info.maxsize == CACHE_SIZE
    list_statements("service", Query(conditions=(where(f"a{CACHE_SIZE + 19}", eq="y"),)), "sqlite")
    assert built.cache_info().hits == info.hits + 1  # the latest shape is kept, with any value
