"""Timestamps as the TMF APIs write them: UTC, ISO 8601, milliseconds, ending in ``Z``."""

from __future__ import annotations

import datetime as dt

_ZERO = dt.timedelta(0)


def now() -> str:
    """The current instant, e.g. ``2026-11-25T18:40:00.123Z``."""
    return stamp(dt.datetime.now(dt.UTC))


def stamp(moment: dt.datetime) -> str:
    """Format an aware datetime in UTC with millisecond precision and a ``Z``."""
    if moment.utcoffset() != _ZERO:
        moment = moment.astimezone(dt.UTC)
    # isoformat is several times faster than strftime, and this runs for every event.
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
