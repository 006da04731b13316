"""The condition builder: paths, operators, and value types from Python values or given."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from backends.conditions import where
from backends.matching import matches
from backends.queries import Condition, Instant, Op, ValueType

UTC = dt.UTC
DAY = dt.date(2019, 4, 30)
MIDNIGHT = Instant(dt.datetime(2019, 4, 30, tzinfo=UTC))
WHOLE_DAY = Instant(MIDNIGHT.at, whole_day=True)
EIGHT = Instant(dt.datetime(2019, 4, 30, 8, tzinfo=UTC))


def test_a_dotted_path_and_one_value() -> None:
    assert where("relatedParty.id", eq="cust-1") == Condition(
        ("relatedParty", "id"), Op.EQ, ValueType.STRING, ("cust-1",)
    )
    assert where(("note", "a.b"), eq="x").path == ("note", "a.b")  # a name holding a dot


def test_a_collection_of_values_is_alternatives() -> None:
    condition = where("state", ne=("cancelled", "terminated", "cancelled"))
    assert condition == Condition(("state",), Op.NE, ValueType.STRING, ("cancelled", "terminated"))
    assert where("state", eq=["a"]).values == ("a",)


@pytest.mark.parametrize(
    ("given", "value_type", "values"),
    [
        ("x", ValueType.STRING, ("x",)),
        (True, ValueType.BOOLEAN, (True,)),
        (3, ValueType.NUMBER, (Decimal(3),)),
        (Decimal("2.50"), ValueType.NUMBER, (Decimal("2.50"),)),
        (0.1, ValueType.NUMBER, (Decimal("0.1"),)),
        ((1, 2.5), ValueType.NUMBER, (Decimal(1), Decimal("2.5"))),
        (dt.datetime(2019, 4, 30, 10, tzinfo=dt.timezone(dt.timedelta(hours=2))), ValueType.DATETIME, (EIGHT,)),
        (DAY, ValueType.DATETIME, (WHOLE_DAY,)),
        (MIDNIGHT, ValueType.DATETIME, (MIDNIGHT,)),
    ],
)
def test_the_value_type_follows_the_python_values(given: Any, value_type: ValueType, values: tuple[Any, ...]) -> None:
    condition = where("x", gt=given)
    assert (condition.op, condition.value_type, condition.values) == (Op.GT, value_type, values)


@pytest.mark.parametrize(
    ("given", "value_type", "values"),
    [
        (42, ValueType.STRING, ("42",)),
        (False, ValueType.STRING, ("false",)),
        ("2.5", ValueType.NUMBER, (Decimal("2.5"),)),
        ("true", ValueType.BOOLEAN, (True,)),
        ("2019-04-30", ValueType.DATETIME, (WHOLE_DAY,)),
        ("2019-04-30T08:00:00Z", ValueType.DATETIME, (EIGHT,)),
        ((1, "high"), ValueType.STRING, ("1", "high")),
    ],
)
def test_a_given_type_converts_the_values(given: Any, value_type: ValueType, values: tuple[Any, ...]) -> None:
    condition = where("x", eq=given, type=value_type)
    assert (condition.value_type, condition.values) == (value_type, values)


def test_every_operator() -> None:
    for name, op in [("eq", Op.EQ), ("ne", Op.NE), ("gt", Op.GT), ("gte", Op.GTE), ("lt", Op.LT), ("lte", Op.LTE)]:
        assert where("n", **{name: 1}).op is op
    assert where("name", regex="^a") == Condition(("name",), Op.REGEX, ValueType.STRING, ("^a",))


def test_the_conditions_match_as_parsed_ones_do() -> None:
    order = {"state": "inProgress", "relatedParty": [{"id": "cust-1"}], "priority": 2, "orderDate": "2019-04-30T08:00Z"}
    assert matches([where("relatedParty.id", eq="cust-1"), where("state", ne=("cancelled", "completed"))], order)
    assert matches([where("priority", gte=2), where("orderDate", eq=DAY)], order)
    assert not matches([where("priority", lt=2)], order)


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({}, TypeError),  # no operator
        ({"eq": "a", "ne": "b"}, TypeError),  # two
        ({"eq": ()}, ValueError),  # no value
        ({"eq": ("a", 1)}, TypeError),  # mixed types
        ({"eq": object()}, TypeError),
        ({"eq": b"bytes"}, TypeError),
        ({"gt": dt.datetime(2019, 4, 30)}, ValueError),  # naive
        ({"eq": float("nan")}, ValueError),
        ({"eq": "abc", "type": ValueType.NUMBER}, ValueError),
        ({"eq": True, "type": ValueType.NUMBER}, TypeError),
        ({"eq": 1, "type": ValueType.BOOLEAN}, TypeError),
        ({"eq": "2019-02-29", "type": ValueType.DATETIME}, ValueError),
        ({"eq": DAY, "type": ValueType.STRING}, TypeError),
        ({"regex": 1}, TypeError),
        ({"regex": "a", "type": ValueType.NUMBER}, TypeError),
    ],
)
def test_what_cannot_be_a_condition(arguments: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        where("x", **arguments)


@pytest.mark.parametrize("path", ["", "a..b", ()])
def test_a_path_needs_names(path: Any) -> None:
    with pytest.raises(ValueError, match="attribute path"):
        where(path, eq="x")
