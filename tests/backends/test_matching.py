"""The reference evaluation of conditions: the shared table of filter cases, and paths into arrays."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from backends.base import Condition, Op, ValueType
from backends.matching import candidates, condition_holds, matches, stored_number
from tests.backends.cases import ALL, CASES, DOCS, ELEMENT_CASES, HOSTILE, REGEXES, Reference, parse
from tmfgate.errors import InvalidQuery

REFERENCE = Reference()


@pytest.mark.parametrize(("raw", "expected"), CASES, ids=[raw or "<empty>" for raw, _ in CASES])
def test_filter(raw: str, expected: set[str]) -> None:
    assert REFERENCE.ids(parse(raw)) == expected


@pytest.mark.parametrize(("raw", "expected"), ELEMENT_CASES, ids=[raw for raw, _ in ELEMENT_CASES])
def test_json_path_filter(raw: str, expected: set[str]) -> None:
    assert REFERENCE.ids(parse(raw)) == expected


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_values_never_raise(raw: str) -> None:
    assert REFERENCE.ids(parse(raw)) <= ALL


@pytest.mark.parametrize("pattern", REGEXES)
def test_regex_is_rejected_or_runs(pattern: str) -> None:
    try:
        query = parse(f'name.regex="{quote(pattern, safe="")}"')
    except InvalidQuery:
        return
    assert REFERENCE.ids(query) <= ALL


def test_an_array_on_the_path_stands_for_each_element_one_level_deep() -> None:
    doc = {"a": [{"b": 1}, {"b": [2, 3]}, [{"b": 4}], {"c": 5}], "s": "x"}
    assert list(candidates(doc, ("a", "b"))) == [1, 2, 3]
    assert list(candidates(doc, ("s",))) == ["x"]
    assert list(candidates(doc, ("s", "deeper"))) == []
    assert list(candidates(doc, ("missing",))) == []


def test_stored_numbers_are_json_numbers_only() -> None:
    assert stored_number(3) == 3
    assert str(stored_number(0.1)) == "0.1"  # the shortest text, not the binary fraction
    assert stored_number(True) is None and stored_number("3") is None and stored_number(None) is None


def test_ne_is_the_negation_of_eq_over_the_whole_attribute() -> None:
    eq = Condition(("tags",), Op.EQ, ValueType.STRING, ("red",))
    ne = Condition(("tags",), Op.NE, ValueType.STRING, ("red",))
    for doc in DOCS:
        assert condition_holds(ne, doc) is not condition_holds(eq, doc)
    assert matches([], DOCS[0]) and not matches([eq, ne], DOCS[0])
