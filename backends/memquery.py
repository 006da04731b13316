"""Evaluate a parsed query on in-memory JSON documents, and the value formats every backend shares.

The matching rules are written once in :mod:`backends.sqlquery`; this module is their reference
implementation, and its date, number and regex helpers are the ones the SQLite functions and the
query parser use, so the three evaluators cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from backends.base import Condition, Instant, Kind, Op, SortKey

# ISO 8601 calendar dates that exist (leap years included, year 0000 excluded) and times with an
# optional zone. Written in the syntax shared by Python `re` and PostgreSQL AREs, because the SQL
# side checks stored strings with the same pattern before casting them: an invalid date is "not a
# date" everywhere instead of an error in one store.
_DATE = (
    "(?!0000)(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    "|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)"
)
_TIME = "[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]+)?)?"
_ZONE = "(?:Z|[+-](?:0[0-9]|1[0-4])(?::?[0-5][0-9])?)"
NAIVE_INSTANT = f"^{_DATE}(?:{_TIME})?$"
ZONED_INSTANT = f"^{_DATE}{_TIME}{_ZONE}$"
_NAIVE = re.compile(NAIVE_INSTANT[1:-1])
_ZONED = re.compile(ZONED_INSTANT[1:-1])

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Bounds keep every accepted number finite and exact enough as a double (SQLite) and within
# PostgreSQL's numeric range, so a filter value never becomes a driver error.
_MAX_NUMBER_CHARS = 60
_MAX_EXPONENT = 300

_EPOCH = dt.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)
DAY_MICROS = 86_400_000_000


def parse_instant(text: str) -> tuple[int, bool] | None:
    """Microseconds since 1970-01-01T00:00Z and "date only", or None when not an ISO 8601 instant."""
    zoned = _ZONED.fullmatch(text) is not None
    if not zoned and _NAIVE.fullmatch(text) is None:
        return None
    local = dt.datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]))
    rest = text[10:]
    if not rest:
        return (local - _EPOCH) // _MICROSECOND, True
    clock, offset = _split_zone(rest[1:]) if zoned else (rest[1:], 0)
    hours, minutes, seconds = (clock.split(":") + ["0"])[:3]
    whole, _, fraction = seconds.partition(".")
    # Fractions beyond microseconds are truncated, as the SQL side does before casting.
    micros = int((fraction + "000000")[:6])
    delta = dt.timedelta(hours=int(hours), minutes=int(minutes), seconds=int(whole), microseconds=micros)
    return (local + delta - _EPOCH) // _MICROSECOND - offset, False


def _split_zone(clock: str) -> tuple[str, int]:
    """Split ``HH:MM:SS+02:00`` into the clock and the zone offset in microseconds."""
    if clock.endswith("Z"):
        return clock[:-1], 0
    cut = max(clock.rfind("+"), clock.rfind("-"))
    digits = clock[cut + 1 :].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
    sign = -1 if clock[cut] == "-" else 1
    return clock[:cut], sign * minutes * 60_000_000


def instant_micros(instant: Instant) -> int:
    """An :class:`Instant` as microseconds since the epoch, the unit :func:`parse_instant` uses."""
    return (instant.at.replace(tzinfo=None) - _EPOCH) // _MICROSECOND - _utc_offset(instant)


def _utc_offset(instant: Instant) -> int:
    offset = instant.at.utcoffset()
    return 0 if offset is None else offset // _MICROSECOND


def as_number(text: str) -> Decimal | None:
    """The decimal a filter value spells, or None when it is not a plain finite number."""
    if len(text) > _MAX_NUMBER_CHARS or _NUMBER.fullmatch(text) is None:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
        return None
    if number and abs(number.adjusted()) > _MAX_EXPONENT:
        return None
    return number


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        # DOTALL: PostgreSQL's `~` lets `.` match a newline, so Python must too.
        return re.compile(pattern, re.DOTALL)
    except Exception:  # noqa: BLE001 - a bad pattern simply matches nothing
        return None


def regex_search(pattern: object, value: object) -> bool:
    """Whether ``pattern`` occurs in ``value``; False for non-strings or invalid patterns, never raises."""
    if not isinstance(pattern, str) or not isinstance(value, str):
        return False
    compiled = _compiled(pattern)
    return compiled is not None and compiled.search(value) is not None


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


def _number(value: Any) -> Decimal | int | None:
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
    number, wanted = _number(stored), as_number(value)
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
    if condition.kind is Kind.STRING:
        return _string_matches(op, stored, value)
    if condition.kind is Kind.NUMBER:
        number = _number(stored)
        return number is not None and _compare(op, number, value)
    if condition.kind is Kind.BOOLEAN:
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


def sort_value(doc: Mapping[str, Any], path: Sequence[str]) -> tuple[int, Any] | None:
    """The first value at the path, ranked numbers < strings < booleans; None when not a scalar."""
    stored = next(candidates(doc, path), None)
    if isinstance(stored, bool):
        return 2, stored
    number = _number(stored)
    if number is not None:
        return 0, number
    return (1, stored) if isinstance(stored, str) else None


def sort_documents(docs: list[dict[str, Any]], sort: Sequence[SortKey]) -> list[dict[str, Any]]:
    """Stable sort by the keys; documents without a value for a key come last in both directions."""
    ordered = list(docs)
    for key in reversed(sort):
        keyed = [(sort_value(doc, key.path), doc) for doc in ordered]
        present = [(value, doc) for value, doc in keyed if value is not None]
        present.sort(key=lambda pair: pair[0], reverse=key.descending)
        ordered = [doc for _, doc in present] + [doc for value, doc in keyed if value is None]
    return ordered
