"""Equality on SQLite's indexed top-level members: which conditions qualify, that they match exactly as
the walk does (every stored shape of the member), and that a list and its count read the member's index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from backends import open_backend
from backends.base import Query
from backends.conditions import where
from backends.queries import Condition, Op, ValueType
from backends.sql.lists import list_statements
from backends.sql.members import SELECTIVE, applies
from tests.backends.contract.support import create_all

pytestmark = pytest.mark.anyio

# Every shape a member may have: the walk matches a string, an array holding it, a number the text spells
# and a boolean; the index alone sees strings.
SHAPES: dict[str, object] = {
    "plain": "active",
    "other": "designed",
    "array": ["designed", "active"],
    "array-other": ["designed"],
    "bracketed": "[active",
    "number": 1,
    "boolean": True,
    "object": {"active": "active"},
    "null": None,
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (where("state", eq="active"), True),
        (where("state", ne=["active", "designed"]), True),
        (where("id", eq="s-1"), True),
        (where("externalId", eq="E-9"), True),
        (where("state", eq="1"), False),  # also matches the number 1: left to the walk
        (where("state", eq="true"), False),  # also matches the boolean
        (where("state", eq="[active"), False),  # json_extract spells arrays with '[' first
        (where("state", eq="{x"), False),
        (where("name", eq="active"), False),  # no index
        (where("relatedParty.id", eq="p"), False),  # not top-level
        (where("state", eq="1", type=ValueType.NUMBER), False),
        (Condition(("state",), Op.REGEX, ValueType.STRING, ("act",)), False),
        (Condition(("state",), Op.GT, ValueType.STRING, ("a",)), False),
    ],
)
def test_which_conditions_go_through_a_member_index(condition: Condition, expected: bool) -> None:
    assert applies(condition) is expected


@pytest.fixture
async def stores(tmp_path: Path) -> list[object]:
    """The same documents in an SQLite store and in memory, whose matching is the reference."""
    documents = [orjson.dumps({"id": name, "state": shape}) for name, shape in SHAPES.items()]
    documents.append(orjson.dumps({"id": "absent"}))
    found = []
    for url in (f"sqlite:///{tmp_path}/store.db", "memory://"):
        backend = open_backend(url)
        await backend.open()
        await create_all(backend, "service", *documents)
        found.append(backend)
    return found


@pytest.mark.parametrize(
    "condition",
    [
        where("state", eq="active"),
        where("state", ne="active"),
        where("state", eq=["active", "designed"]),
        where("state", ne=["designed", "nothing"]),
        where("id", eq="array"),
    ],
)
async def test_an_indexed_member_matches_every_shape_as_the_walk_does(
    stores: list[object], condition: Condition
) -> None:
    assert applies(condition)
    answers = []
    for backend in stores:
        page = await backend.query("service", Query(conditions=(condition,)))  # type: ignore[attr-defined]
        answers.append(sorted(orjson.loads(raw)["id"] for raw in page.items))
        assert page.total == len(page.items)
        await backend.close()  # type: ignore[attr-defined]
    sqlite, memory = answers
    assert sqlite == memory and sqlite


@pytest.mark.parametrize(
    ("condition", "index"),
    [
        (where("state", eq="active"), "ix_tmf_document_json_state"),
        (where("status", eq="inactive"), "ix_tmf_document_json_status"),
        (where("id", eq="s-7"), "ix_tmf_document_json_id"),
        (where("externalId", eq="E-7"), "ix_tmf_document_json_externalId"),
        (where("resourceStatus", eq="reserved"), "ix_tmf_document_json_resourceStatus"),
    ],
)
async def test_a_count_and_a_selective_page_read_the_member_index(
    tmp_path: Path, condition: Condition, index: str
) -> None:
    """A count reads the index in any store, as a sum the planner cannot miss; so does the page of an id or
    externalId, and of any member once ANALYZE told SQLite it is selective (a page of state=active rather
    walks in insertion order)."""
    url = f"sqlite:///{tmp_path}/store.db"
    backend = open_backend(url)
    await backend.open()
    name = condition.path[0]
    await create_all(backend, "service", *(orjson.dumps({"id": f"s-{n}", name: f"v-{n}"}) for n in range(300)))
    await backend.close()
    engine = sa.create_engine(url)
    statements = list_statements("service", Query(conditions=(condition,), limit=10), "sqlite")

    def plan(statement: sa.Select[Any]) -> str:
        statement = statement.params(statements.parameters)  # this query's values, not the shape's first
        sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
        with engine.connect() as connection:
            return " | ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))

    counted = plan(statements.total)
    assert f"USING INDEX {index} (kind=? AND <expr>=?)" in counted and "SCAN tmf_document" not in counted, counted
    if condition.path in SELECTIVE:  # nearly one document a value: the page reads the index without statistics
        paged = plan(statements.page)
        assert f"USING INDEX {index} (kind=? AND <expr>=?)" in paged and "SCAN tmf_document" not in paged, paged
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    paged = plan(statements.page)
    assert f"USING INDEX {index} (kind=? AND <expr>=?)" in paged and "SCAN tmf_document" not in paged, paged
    engine.dispose()


async def test_a_count_of_an_indexed_member_with_other_filters_is_exact(tmp_path: Path) -> None:
    backend = open_backend(f"sqlite:///{tmp_path}/store.db")
    await backend.open()
    services = [{"id": f"s-{n}", "state": ["active", "designed"][n % 2], "name": f"n-{n % 3}"} for n in range(60)]
    services.append({"id": "s-array", "state": ["active"], "name": "n-0"})
    await create_all(backend, "service", *map(orjson.dumps, services))
    query = Query(conditions=(where("state", eq="active"), where("name", eq="n-0")), limit=3)
    assert str(list_statements("service", query, "sqlite").total).count("json_extract") >= 2  # the sum of halves
    page = await backend.query("service", query)
    assert page.total == 11  # s-0, s-6, ... s-54, and the array
    assert [orjson.loads(raw)["id"] for raw in page.items] == ["s-0", "s-6", "s-12"]
    await backend.close()
