"""Equality filters as JSONB containment: which conditions qualify, the documents they ask for, and that
PostgreSQL answers a list and its count through the GIN index. Their matches are the contract suite's
(tests/backends/test_sql_query.py and tests/backends/contract run every filter on PostgreSQL)."""

from __future__ import annotations

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from backends import open_backend
from backends.base import Query
from backends.conditions import where
from backends.queries import Condition, Op, ValueType
from backends.sql import SqlBackend
from backends.sql.binds import Binds
from backends.sql.containment import MAX_DEPTH, MAX_SHAPES, applies, bind, contains
from backends.sql.lists import list_statements
from backends.sql.query import where_clause
from backends.sql.schema import documents
from tests.backends.contract.support import create_all

pytestmark = pytest.mark.anyio


def _asked(condition: Condition) -> set[str]:
    """The JSON documents the containment asks for, and ``name ->> text`` for the texts compared so."""
    binds = Binds()
    bind(condition, "c0", binds)
    compiled = contains(condition, "c0", documents.c.doc, binds).compile(dialect=postgresql.dialect())
    asked, params = set(), compiled.params
    for value in params.values():
        if isinstance(value, list):
            asked |= {f"{condition.path[0]} ->> {text}" for text in value}
        elif value.startswith("{"):
            asked.add(orjson.dumps(orjson.loads(value)).decode())
    return asked


def test_a_path_is_asked_in_every_shape_of_objects_and_arrays() -> None:
    asked = _asked(where("relatedParty.id", eq="14", type=ValueType.NUMBER))
    assert asked == {
        '{"relatedParty":{"id":14}}',
        '{"relatedParty":{"id":[14]}}',
        '{"relatedParty":[{"id":14}]}',
        '{"relatedParty":[{"id":[14]}]}',
    }


def test_a_string_also_asks_for_the_number_and_the_boolean_it_spells() -> None:
    assert _asked(where("priority", eq=["1.0", "true"])) == {
        '{"priority":"1.0"}',
        '{"priority":["1.0"]}',
        '{"priority":1.0}',
        '{"priority":[1.0]}',
        '{"priority":"true"}',
        '{"priority":["true"]}',
        '{"priority":true}',
        '{"priority":[true]}',
    }


def test_an_indexed_attribute_is_asked_as_its_text() -> None:
    assert _asked(where("state", eq=["1.0", "true", "[x"])) == {
        '{"state":"1.0"}',  # a number's spellings are many: containment compares by value
        '{"state":["1.0"]}',
        '{"state":1.0}',
        '{"state":[1.0]}',
        "state ->> true",  # the string "true" and the boolean true (spelled so) alike
        '{"state":["true"]}',
        '{"state":true}',
        '{"state":[true]}',
        '{"state":"[x"}',  # an array's text begins with [: not asked as text
        '{"state":["[x"]}',
    }


def test_a_deeper_path_is_never_asked_as_text() -> None:
    assert _asked(where("a.b", eq="x")) == {
        '{"a":{"b":"x"}}',
        '{"a":{"b":["x"]}}',
        '{"a":[{"b":"x"}]}',
        '{"a":[{"b":["x"]}]}',
    }


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (where("state", eq="active"), True),
        (where("state", ne="active"), True),
        (where("amount", gt="10", type=ValueType.NUMBER), False),
        (where("state", regex="act"), False),
        (where("orderDate", eq="2019-04-30", type=ValueType.DATETIME), False),
        (where("name", eq="a\x00b"), False),  # JSONB cannot hold NUL
        (where(["a\x00"], eq="x"), False),
        (where(["a"] * MAX_DEPTH, eq="x"), True),
        (where(["a"] * (MAX_DEPTH + 1), eq="x"), False),
        (where("tags", eq=[str(n) for n in range(MAX_SHAPES)]), False),
    ],
)
def test_which_conditions_are_asked_as_containment(condition: Condition, expected: bool) -> None:
    assert applies(condition) is expected


def test_only_equality_of_plain_values_qualifies() -> None:
    regex = Condition(("a",), Op.REGEX, ValueType.STRING, ("x",))
    assert not applies(regex)
    assert not applies(Condition((), Op.EQ, ValueType.STRING, ("x",)))


@pytest.mark.parametrize(
    ("condition", "index"),
    [
        (where("relatedParty.id", eq="p2"), "ix_tmf_document_doc"),
        (where("externalIdentifier.id", eq=["E1", "E2"]), "ix_tmf_document_doc"),
        (where("state", eq="active"), "ix_tmf_document_doc_state"),
        (where("status", eq="1"), "ix_tmf_document_doc"),  # a number: by containment
        (where("id", eq="s1"), "ix_tmf_document_doc"),
    ],
)
async def test_an_equality_is_found_through_an_index(
    postgres_url: str, kind: str, condition: Condition, index: str
) -> None:
    backend = open_backend(postgres_url)
    assert isinstance(backend, SqlBackend) and backend.engine is not None
    await backend.open()
    try:
        matched = (
            sa.select(sa.func.count())
            .select_from(documents)
            .where(where_clause([condition], documents.c.doc, "postgresql"))
        )
        sql = str(matched.compile(dialect=backend.engine.dialect, compile_kwargs={"literal_binds": True}))
        async with backend.engine.begin() as connection:  # as a store too large to read whole is read
            await connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join((await connection.exec_driver_sql(f"EXPLAIN {sql}")).scalars())
        assert f"Index Scan on {index}" in plan, plan
    finally:
        await backend.close()


async def test_a_page_and_its_count_come_in_one_statement(postgres_url: str, kind: str) -> None:
    backend = open_backend(postgres_url)
    assert isinstance(backend, SqlBackend) and backend.engine is not None
    await backend.open()
    try:
        people = [{"id": f"p{n}", "role": "customer"} for n in range(30)]
        services = ({"id": f"s{n}", "relatedParty": people[n % 30 : n % 30 + 2]} for n in range(600))
        await create_all(backend, kind, *(orjson.dumps(service) for service in services))
        query = Query(conditions=(where("relatedParty.id", eq="p2"),), limit=5, offset=2)
        assert list_statements(kind, query, "postgresql").together is not None
        page = await backend.query(kind, query)
        assert page.total == 40  # s1, s2, s31, s32, ...: p2 and the one before
        assert [orjson.loads(raw)["id"] for raw in page.items] == ["s31", "s32", "s61", "s62", "s91"]
        beyond = await backend.query(kind, Query(conditions=query.conditions, offset=40))
        assert beyond.total == 40 and beyond.items == []
    finally:
        await backend.close()


async def test_a_count_of_state_reads_the_index_alone(postgres_url: str, kind: str) -> None:
    """X-Total-Count of state=active (60 % of the rows) is an index-only count of the stored column,
    plus the range of arrays; the page keeps the same matches, arrays included."""
    backend = open_backend(postgres_url)
    assert isinstance(backend, SqlBackend) and backend.engine is not None
    await backend.open()
    try:
        states = ["active", "active", "active", "designed", "terminated"]
        services = [{"id": f"s{n}", "state": states[n % 5]} for n in range(2000)]
        services += [{"id": "listed", "state": ["designed", "active"]}, {"id": "number", "state": 1}]
        await create_all(backend, kind, *map(orjson.dumps, services))
        query = Query(conditions=(where("state", eq="active"),), limit=2)
        statements = list_statements(kind, query, "postgresql")
        statement = statements.total.params(statements.parameters)
        sql = str(statement.compile(dialect=backend.engine.dialect, compile_kwargs={"literal_binds": True}))
        async with backend.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM ANALYZE tmf_document")  # as autovacuum does
            plan = "\n".join((await connection.exec_driver_sql(f"EXPLAIN {sql}")).scalars())
        assert "Index Only Scan using ix_tmf_document_doc_state" in plan, plan
        assert "Seq Scan" not in plan, plan
        page = await backend.query(kind, query)
        assert page.total == 1201 and len(page.items) == 2
        listed = await backend.query(kind, Query(conditions=query.conditions, offset=1199))
        assert [orjson.loads(raw)["id"] for raw in listed.items] == ["s1997", "listed"]
    finally:
        await backend.close()
