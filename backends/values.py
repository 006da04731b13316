"""The value formats every store shares with the core's query parser: instants, numbers and regexes.

One definition each, so the in-memory evaluation, the SQLite functions, the PostgreSQL patterns and
the parser of ``?orderDate.gt=...`` cannot disagree on what is a date or a number.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from . import regexes
from .queries import Instant

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
_UTC_EPOCH = _EPOCH.replace(tzinfo=dt.UTC)
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


def instant(text: str) -> Instant | None:
    """The :class:`Instant` an ISO 8601 date (``whole_day``) or date-time spells; no zone means UTC."""
    parsed = parse_instant(text)
    if parsed is None:
        return None
    try:
        return Instant(_UTC_EPOCH + dt.timedelta(microseconds=parsed[0]), whole_day=parsed[1])
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00, before the first representable instant
        return None


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


def regex_search(pattern: object, value: object) -> bool:
    """Whether ``pattern`` occurs in ``value``, in linear time (RE2); False for non-strings or patterns
    RE2 cannot run, never raises."""
    if not isinstance(pattern, str) or not isinstance(value, str):
        return False
    compiled = regexes.compiled(pattern)
    return compiled is not None and compiled.search(value) is not None


__all__ = [
    "DAY_MICROS",
    "NAIVE_INSTANT",
    "ZONED_INSTANT",
    "as_number",
    "instant",
    "instant_micros",
    "parse_instant",
    "regex_search",
]
