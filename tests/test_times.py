"""Timestamps: UTC, milliseconds, ``Z``; the fast path writes what ``stamp`` writes."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest

from tmfgate import times

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_now_and_instant() -> None:
    before = dt.datetime.now(dt.UTC)
    moment, text = times.instant()
    after = dt.datetime.now(dt.UTC)
    assert before <= moment <= after and moment.utcoffset() == dt.timedelta(0)
    assert text == times.stamp(moment) and STAMP.fullmatch(text)
    assert STAMP.fullmatch(times.now())


def test_the_cached_second_writes_what_stamp_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    for micros in [
        0,
        999_999,
        1_000_000,
        951_782_400_000_000,
        951_782_400_999_000,
        *(rng.randrange(0, 4_102_444_800_000_000) for _ in range(2000)),
    ]:
        monkeypatch.setattr(times.time, "time_ns", lambda micros=micros: micros * 1000 + 999)
        expected = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)
        assert times.instant() == (expected, times.stamp(expected))
        assert times.now() == times.stamp(expected)


def test_stamp_converts_to_utc() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    assert times.stamp(dt.datetime(2025, 1, 6, 9, 0, 0, 123456, tzinfo=paris)) == "2025-01-06T08:00:00.123Z"


def test_parse_reads_a_stored_instant_in_utc() -> None:
    expected = dt.datetime(2026, 11, 25, 17, 40, tzinfo=dt.UTC)
    assert times.parse("2026-11-25T18:40:00+01:00") == expected
    assert times.parse("2026-11-25T17:40:00Z") == expected
    assert times.parse("2026-11-25T17:40:00") == expected  # no zone: UTC
    assert times.parse(times.stamp(expected)) == expected
    with pytest.raises(ValueError):
        times.parse("25/11/2026")
