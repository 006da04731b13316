"""The parsed query's value types: what makes two queries the same (the SQL store caches by it)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from backends.queries import Condition, Op, Page, Query, SortKey, ValueType

STATE = Condition(("state",), Op.EQ, ValueType.STRING, ("open",))


def test_queries_that_differ_only_in_fields_are_the_same_query() -> None:
    # The store never projects (the core does), so a list asked with other fields= reuses its statements.
    plain, projected = Query((STATE,), limit=5), Query((STATE,), limit=5, fields=(("id",),))
    assert plain == projected and hash(plain) == hash(projected)
    assert plain != Query((STATE,), limit=6) and plain != Query((STATE,), (SortKey(("state",)),), limit=5)


def test_conditions_are_values() -> None:
    again = Condition(("state",), Op.EQ, ValueType.STRING, ("open",))
    assert again == STATE and hash(again) == hash(STATE)
    assert Condition(("n",), Op.GT, ValueType.NUMBER, (Decimal(1),)) != Condition(
        ("n",), Op.GT, ValueType.STRING, ("1",)
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        STATE.op = Op.NE  # type: ignore[misc]


def test_str_valued_enums_compare_with_the_text_stored_in_documents() -> None:
    assert ValueType.DATETIME == "datetime" and Op("regex") is Op.REGEX
    assert Page(total=0, items=[]) == Page(0, [])
