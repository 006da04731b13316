"""Filter values bound by name (backends.sql.bindings): in each dialect's form, with the choices they make."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from backends.conditions import where
from backends.queries import Condition, ElementCondition, Instant, Op, ValueType
from backends.sql.bindings import bind_condition, bind_elements, bind_walk
from backends.sql.binds import Binds

DAY = dt.datetime(2026, 10, 3, tzinfo=dt.UTC)


def _bound(condition: Condition, dialect: str) -> dict[str, object]:
    binds = Binds()
    bind_walk(condition, "c0", dialect, binds)
    return binds.values


def test_a_text_is_also_bound_as_the_number_and_boolean_it_spells() -> None:
    assert _bound(where("a", eq=["x", "2", "true"]), "sqlite") == {
        "c0_texts": ["x", "2", "true"],
        "c0_numbers": [2],
        "c0_flags": [1],
    }
    assert _bound(where("a", eq=["x", "2.5"]), "postgresql") == {
        "c0_texts": ["x", "2.5"],
        "c0_numbers": [Decimal("2.5")],
    }
    assert _bound(where("a", eq="x"), "sqlite") == {"c0_texts": ["x"]}  # the shape has no number, no flag


def test_an_ordering_binds_its_loosest_bound_and_a_regex_each_pattern() -> None:
    numbers = Condition(("a",), Op.GT, ValueType.NUMBER, (Decimal(3), Decimal("1.5")))
    assert _bound(numbers, "sqlite") == {"c0_bound": 1.5}
    assert _bound(Condition(("a",), Op.LTE, ValueType.STRING, ("b", "c")), "postgresql") == {"c0_bound": "c"}
    assert _bound(Condition(("a",), Op.REGEX, ValueType.STRING, ("x", "y")), "sqlite") == {
        "c0_regex0": "x",
        "c0_regex1": "y",
    }


def test_a_whole_day_binds_its_start_and_end_unless_the_calendar_ends() -> None:
    days = (Instant(DAY, whole_day=True), Instant(dt.datetime.max.replace(tzinfo=dt.UTC), whole_day=True))
    bound = _bound(Condition(("d",), Op.EQ, ValueType.DATETIME, (*days, Instant(DAY))), "postgresql")
    assert bound == {
        "c0_instants": [DAY],
        "c0_day0": DAY,
        "c0_end0": DAY + dt.timedelta(days=1),
        "c0_day1": days[1].at,
    }


def test_an_index_that_applies_is_a_choice_of_the_shape() -> None:
    member, walked = Binds(), Binds()
    bind_condition(where("state", eq="active"), "c0", "sqlite", member)
    bind_condition(where("state", eq="1"), "c0", "sqlite", walked)  # also the number 1: walked
    assert member.chose("c0_member") and member.values["c0_member_texts"] == ["active"]
    assert not walked.chose("c0_member") and "c0_member_texts" not in walked.values
    contained = Binds()
    bind_condition(where("relatedParty.id", eq="p"), "c0", "postgresql", contained)
    assert contained.chose("c0_contains") and contained.names("c0_json") == [
        "c0_json0",
        "c0_json1",
        "c0_json2",
        "c0_json3",
    ]


def test_element_conditions_are_bound_by_element_and_position() -> None:
    binds = Binds()
    element = ElementCondition(("note",), (where("author", eq="Ann"), where("text", eq="hi")))
    bind_elements([element, element], "sqlite", binds)
    assert sorted(binds.values) == ["e0c0_texts", "e0c1_texts", "e1c0_texts", "e1c1_texts"]
