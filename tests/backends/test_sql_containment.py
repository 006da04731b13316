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
from backends.sql.containment import MAX_DEPTH, MAX_SHAPES, applies, contains
from backends.sql.schema import documents
from backends.sql.store import list_statements
from tests.backends.contract.support import create_all

pytestmark = pytest.mark.anyio


def _asked(condition: Condition) -> set[str]:
    """The JSON documents the containment asks for, as compiled for PostgreSQL."""
    compiled = contains(condition, documents.c.doc).compile(dialect=postgresql.dialect())
    return {orjson.dumps(orjson.loads(value)).decode() for value in compiled.params.values()}


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


async def test_a_list_and_its_count_use_the_index(postgres_url: str, kind: str) -> None:
    backend = open_backend(postgres_url)
    assert isinstance(backend, SqlBackend) and backend.engine is not None
    await backend.open()
    try:
        people = [{"id": f"p{n}", "role": "customer"} for n in range(30)]
        services = ({"id": f"s{n}", "relatedParty": people[n % 30 : n % 30 + 2]} for n in range(600))
        await create_all(backend, kind, *(orjson.dumps(service) for service in services))
        async with backend.engine.connect() as connection:  # the GIN's pending entries into the index
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(sa.text("VACUUM ANALYZE tmf_document"))
        query = Query(conditions=(where("relatedParty.id", eq="p2"),), limit=5, offset=2)
        statement = list_statements(kind, query, "postgresql").together
        assert statement is not None
        sql = str(statement.compile(dialect=backend.engine.dialect, compile_kwargs={"literal_binds": True}))
        async with backend.engine.begin() as connection:  # as a store too large to read whole is read
            await connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
            await connection.execute(sa.text("SET LOCAL enable_indexscan = off"))
            plan = "\n".join((await connection.execute(sa.text(f"EXPLAIN {sql}"))).scalars())
        count_plan, page_plan = plan.split("InitPlan")[1:]
        assert "Index Scan on ix_tmf_document_doc" in count_plan, plan
        assert "Index Scan on ix_tmf_document_doc" in page_plan, plan
        page = await backend.query(kind, query)
        assert page.total == 40  # s1, s2, s31, s32, ...: p2 and the one before
        assert [orjson.loads(raw)["id"] for raw in page.items] == ["s31", "s32", "s61", "s62", "s91"]
        beyond = await backend.query(kind, Query(conditions=query.conditions, offset=40))
        assert beyond.total == 40 and beyond.items == []
    finally:
        await backend.close()
