"""Timestamps as the TMF APIs write them: UTC, ISO 8601, milliseconds, ending in ``Z``."""

from __future__ import annotations

import datetime as dt
import time

_ZERO = dt.timedelta(0)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Each order and event is stamped, and within one second only the milliseconds change: the last
# second is kept formatted, as (second since the epoch, its text, its fields). One tuple, replaced
# whole, so a thread never sees the text of one second with the number of another.
_Fields = tuple[int, int, int, int, int, int]  # year, month, day, hour, minute, second
_last: tuple[int, str, _Fields] = (-1, "", (1970, 1, 1, 0, 0, 0))
_MILLISECONDS = [f".{n:03d}Z" for n in range(1000)]


def now() -> str:
    """The current instant, e.g. ``2026-11-25T18:40:00.123Z``."""
    second, micro = divmod(time.time_ns() // 1000, 1_000_000)
    last = _last if _last[0] == second else _second(second)
    return last[1] + _MILLISECONDS[micro // 1000]


def instant() -> tuple[dt.datetime, str]:
    """The current instant, aware in UTC, and as :func:`stamp` writes it: the same moment twice."""
    second, micro = divmod(time.time_ns() // 1000, 1_000_000)
    last = _last if _last[0] == second else _second(second)
    return dt.datetime(*last[2], micro, dt.UTC), last[1] + _MILLISECONDS[micro // 1000]


def stamp(moment: dt.datetime) -> str:
    """Format an aware datetime in UTC with millisecond precision and a ``Z``."""
    if moment.utcoffset() != _ZERO:
        moment = moment.astimezone(dt.UTC)
    # isoformat is several times faster than strftime.
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse(text: str) -> dt.datetime:
    """A stored ISO 8601 date-time as an aware datetime in UTC (no zone means UTC); ValueError if it is none."""
    moment = dt.datetime.fromisoformat(text)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _second(second: int) -> tuple[int, str, _Fields]:
    global _last
    moment = _EPOCH + dt.timedelta(seconds=second)
    fields: _Fields = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    _last = (second, moment.replace(tzinfo=None).isoformat(), fields)
    return _last
