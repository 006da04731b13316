"""The reference evaluation of query conditions on parsed JSON documents (the memory store, hub filters).

The rules are written once in :mod:`backends.sql.query`; SQL must agree with this module case by
case (``tests/backends/cases.py`` holds the table both run).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from .queries import Condition, ElementCondition, Instant, Op, ValueType
from .values import DAY_MICROS, as_number, instant_micros, parse_instant, regex_search


def candidates(doc: Mapping[str, Any], path: Sequence[str]) -> Iterator[Any]:
    """The values at a dotted path; an array met on the way (one level deep) yields each element.

    This mirrors PostgreSQL's ``lax $."a"."b"[*]``: arrays of arrays are not flattened further.
    """
    current: list[Any] = [doc]
    for depth, name in enumerate(path, 1):
        found: list[Any] = []
        for item in current:
            if isinstance(item, Mapping) and name in item:
                value = item[name]
                found.extend(value if isinstance(value, list) else [value])
        last = depth == len(path)
        current = found if last else [item for item in found if isinstance(item, Mapping)]
    yield from current


def stored_number(value: Any) -> Decimal | int | None:
    """A stored JSON number; floats go through their shortest text, as PostgreSQL stores them."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return Decimal(repr(value)) if isinstance(value, float) else value


def _compare(op: Op, left: Any, right: Any) -> bool:
    if op is Op.EQ:
        return bool(left == right)
    if op is Op.GT:
        return bool(left > right)
    if op is Op.GTE:
        return bool(left >= right)
    if op is Op.LT:
        return bool(left < right)
    return bool(left <= right)


def _string_matches(op: Op, stored: Any, value: str) -> bool:
    if isinstance(stored, str):
        return _compare(op, stored, value)
    if op is not Op.EQ:
        return False
    # A stored number or boolean equals a string condition that spells it (priority=1 finds 1).
    if isinstance(stored, bool):
        return value == ("true" if stored else "false")
    number, wanted = stored_number(stored), as_number(value)
    return number is not None and wanted is not None and number == wanted


def _datetime_matches(op: Op, stored: Any, value: Instant) -> bool:
    parsed = parse_instant(stored) if isinstance(stored, str) else None
    if parsed is None:
        return False
    micros, start = parsed[0], instant_micros(value)
    if op is Op.EQ and value.whole_day:
        return start <= micros < start + DAY_MICROS
    return _compare(op, micros, start)


def _value_matches(condition: Condition, op: Op, stored: Any, value: Any) -> bool:
    if op is Op.REGEX:
        return regex_search(value, stored)
    if condition.value_type is ValueType.STRING:
        return _string_matches(op, stored, value)
    if condition.value_type is ValueType.NUMBER:
        number = stored_number(stored)
        return number is not None and _compare(op, number, value)
    if condition.value_type is ValueType.BOOLEAN:
        return isinstance(stored, bool) and _compare(op, stored, value)
    return _datetime_matches(op, stored, value)


def condition_holds(condition: Condition, doc: Mapping[str, Any]) -> bool:
    """Whether one condition holds; ``ne`` is the negation of ``eq`` over the whole attribute."""
    op = Op.EQ if condition.op is Op.NE else condition.op
    found = any(
        _value_matches(condition, op, stored, value)
        for stored in candidates(doc, condition.path)
        for value in condition.values
    )
    return not found if condition.op is Op.NE else found


def matches(conditions: Sequence[Condition], doc: Mapping[str, Any]) -> bool:
    """Whether a document satisfies every condition (TMF630: different attributes are ANDed)."""
    return all(condition_holds(condition, doc) for condition in conditions)


def element_holds(element: ElementCondition, doc: Mapping[str, Any]) -> bool:
    """Whether some object at the element's path satisfies all its conditions (TMF630 Part 6)."""
    return any(
        isinstance(item, Mapping) and matches(element.conditions, item) for item in candidates(doc, element.path)
    )


def elements_hold(elements: Sequence[ElementCondition], doc: Mapping[str, Any]) -> bool:
    """Whether every element condition holds (they are ANDed with each other and with the conditions)."""
    return all(element_holds(element, doc) for element in elements)


__all__ = ["candidates", "condition_holds", "element_holds", "elements_hold", "matches", "stored_number"]
