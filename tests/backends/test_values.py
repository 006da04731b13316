"""The value formats every store and the query parser share: instants, numbers and regexes."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from backends.queries import Instant
from backends.values import (
    DAY_MICROS,
    NAIVE_INSTANT,
    ZONED_INSTANT,
    as_number,
    instant,
    instant_micros,
    parse_instant,
    regex_search,
)

SECOND = 1_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1970-01-01", (0, True)),
        ("1970-01-02", (DAY_MICROS, True)),
        ("1970-01-01T00:00:01Z", (SECOND, False)),
        ("1970-01-01 00:00:01", (SECOND, False)),  # no zone: UTC
        ("1970-01-01T00:00", (0, False)),
        ("1970-01-01T01:00:00+01:00", (0, False)),
        ("1970-01-01T01:00:00+0100", (0, False)),
        ("1970-01-01T01:00:00+01", (0, False)),
        ("1969-12-31T23:00:00-01:00", (0, False)),
        ("1970-01-01T00:00:00.1234567Z", (123_456, False)),  # beyond microseconds: truncated
        ("2020-02-29", ((dt.datetime(2020, 2, 29) - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1), True)),
        ("2000-02-29", ((dt.datetime(2000, 2, 29) - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1), True)),
    ],
)
def test_instants_parse_to_microseconds_since_the_epoch(text: str, expected: tuple[int, bool]) -> None:
    assert parse_instant(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2019-02-29",  # not a leap year
        "1900-02-29",
        "2019-04-31",
        "0000-01-01",
        "2019-13-01",
        "2019-04-30T24:00:00Z",
        "2019-04-30T08:13:60Z",
        "2019-04-30T08:13:59+15:00",
        "2019-04-30T08:13:59 +01:00",
        "2019-04-30Z",
        "2459000",
        "20190430",
        "",
        "not a date",
    ],
)
def test_what_is_not_an_instant(text: str) -> None:
    assert parse_instant(text) is None
    assert instant(text) is None


def test_the_sql_patterns_accept_what_the_parser_accepts() -> None:
    # PostgreSQL checks stored strings with these patterns before casting them.
    naive, zoned = re.compile(NAIVE_INSTANT), re.compile(ZONED_INSTANT)
    assert naive.match("2019-04-30") and naive.match("2019-04-30 08:13:59.5") and not naive.match("2019-02-29")
    assert zoned.match("2019-04-30T08:13:59Z") and not zoned.match("2019-04-30T08:13:59")


def test_an_instant_is_aware_utc_and_knows_a_whole_day() -> None:
    assert instant("2019-04-30") == Instant(dt.datetime(2019, 4, 30, tzinfo=dt.UTC), whole_day=True)
    assert instant("2019-04-30T10:00:00+02:00") == Instant(dt.datetime(2019, 4, 30, 8, tzinfo=dt.UTC))
    assert instant("0001-01-01T00:00:00+01:00") is None  # before the first representable instant


def test_instant_micros_is_the_inverse_whatever_the_offset() -> None:
    east = dt.timezone(dt.timedelta(hours=5, minutes=30))
    for at in (dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.datetime(2019, 4, 30, 13, 43, 59, 506000, tzinfo=east)):
        parsed = parse_instant(at.isoformat())
        assert parsed is not None and instant_micros(Instant(at)) == parsed[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", Decimal(3)), ("-2.5", Decimal("-2.5")), ("+.5", Decimal("0.5")), ("1e3", Decimal(1000)), ("7.", Decimal(7))],
)
def test_numbers(text: str, expected: Decimal) -> None:
    assert as_number(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "NaN", "inf", "1e999", "1e-400", "0x10", "1_000", " 1", "1" * 61, "--1"])
def test_what_is_not_a_number_every_store_can_compare(text: str) -> None:
    assert as_number(text) is None


def test_zero_with_any_exponent_is_a_number() -> None:
    assert as_number("0e999") == 0


def test_regex_search_is_unanchored_dotall_and_never_raises() -> None:
    assert regex_search("b.c", "ab\ncd")  # "." matches a newline, as on PostgreSQL
    assert regex_search("^a", "abc") and not regex_search("^b", "abc")
    assert not regex_search("(", "(")  # an invalid pattern matches nothing
    assert not regex_search("1", 1) and not regex_search(None, "a")
