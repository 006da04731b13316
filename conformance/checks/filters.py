"""Attribute filtering checks (TMF630 Part 1 §4.4): equality, OR, AND, quotes, date comparisons.

Every check creates its own resources carrying a value unique to the check, and filters on that value
too, so it gives the same answer on a server that already holds data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conformance.checks.base import Check, ResourceCheck
from conformance.checks.common import expect_ids, q
from conformance.context import Context, Skip
from conformance.spec import Resource

# Three instants: two on one UTC day (morning, evening) and one the next day.
MORNING, EVENING, NEXT_DAY = "2031-05-17T08:00:00Z", "2031-05-17T20:00:00Z", "2031-05-18T08:00:00Z"
DAY = "2031-05-17"


def _three(ctx: Context, res: Resource, label: str) -> tuple[str, list[str], list[dict[str, Any]]]:
    """Three resources whose tag attribute holds three distinct values."""
    (attr,) = ctx.require_tag_attr(res)
    tag = ctx.tag(label)
    values = [f"{tag}-a", f"{tag}-b", f"{tag}-c"]
    return attr, values, ctx.create_many(res, [{attr: v} for v in values])


def equality(ctx: Context, res: Resource) -> str:
    """attr=v returns exactly the resources whose attr is v."""
    attr, values, (a, _, _) = _three(ctx, res, "eq")
    return expect_ids(ctx, res, f"{attr}={q(values[0])}", [a])


def comma_or(ctx: Context, res: Resource) -> str:
    """attr=v1,v2 means attr=v1 OR attr=v2."""
    attr, values, (a, b, _) = _three(ctx, res, "comma")
    return expect_ids(ctx, res, f"{attr}={q(values[0])},{q(values[1])}", [a, b])


def repeated_or(ctx: Context, res: Resource) -> str:
    """attr=v1&attr=v2 means attr=v1 OR attr=v2 (a repeated key is an OR, clarified for Part 1 v4.2)."""
    attr, values, (a, b, _) = _three(ctx, res, "repeat")
    return expect_ids(ctx, res, f"{attr}={q(values[0])}&{attr}={q(values[1])}", [a, b])


def quoted(ctx: Context, res: Resource) -> str:
    """attr="v" equals attr=v: the TMF CTK wraps filter values in double quotes."""
    attr, values, (a, _, _) = _three(ctx, res, "quote")
    return expect_ids(ctx, res, f"{attr}={q(chr(34) + values[0] + chr(34))}", [a])


def and_across(ctx: Context, res: Resource) -> str:
    """a=1&b=2 means a=1 AND b=2: conditions on different attributes are ANDed."""
    (attr,) = ctx.require_tag_attr(res)
    if len(res.string_attrs) > 1:
        other, x, y = res.string_attrs[1], ctx.tag("x"), ctx.tag("y")
    elif res.date_attrs:
        other, x, y = res.date_attrs[0], MORNING, NEXT_DAY
    else:
        raise Skip(f"{res.name} has no second attribute to filter on")
    tag, tag2 = ctx.tag("and"), ctx.tag("and")
    a, _, _ = ctx.create_many(res, [{attr: tag, other: x}, {attr: tag, other: y}, {attr: tag2, other: x}])
    return expect_ids(ctx, res, f"{attr}={q(tag)}&{other}={q(x)}", [a])


def _dated(ctx: Context, res: Resource, label: str) -> tuple[str, str, list[dict[str, Any]]]:
    """Three tagged resources dated MORNING, EVENING and NEXT_DAY; returns the base query too."""
    (attr,) = ctx.require_tag_attr(res)
    if not res.date_attrs:
        raise Skip(f"the create schema of {res.name} has no date-time attribute")
    date = res.date_attrs[0]
    tag = ctx.tag(label)
    created = ctx.create_many(res, [{attr: tag, date: d} for d in (MORNING, EVENING, NEXT_DAY)])
    return f"{attr}={q(tag)}", date, created


def _comparison(op: str, pick: tuple[int, ...]) -> Callable[[Context, Resource], str]:
    """A check of ``date.op=...``: ``.gt``/``.gte``/``.lt``/``.lte`` of TMF630 Part 1 §4.4."""

    def check(ctx: Context, res: Resource) -> str:
        base, date, created = _dated(ctx, res, op)
        value = MORNING if op == "gt" else EVENING
        return expect_ids(ctx, res, f"{base}&{date}.{op}={value}", [created[i] for i in pick])

    check.__doc__ = f"{{date}}.{op}= compares chronologically."
    return check


def literal_operators(ctx: Context, res: Resource) -> str:
    """date>=v and date<v (raw and percent-encoded) mean .gte and .lt: the operator replaces the '='."""
    base, date, (morning, evening, next_day) = _dated(ctx, res, "literal")
    expect_ids(ctx, res, f"{base}&{date}>={EVENING}", [evening, next_day])
    expect_ids(ctx, res, f"{base}&{date}<{EVENING}", [morning])
    expect_ids(ctx, res, f"{base}&{date}%3E%3D{EVENING}", [evening, next_day])
    expect_ids(ctx, res, f"{base}&{date}%3C{EVENING}", [morning])
    return f"{date}>=, {date}< and their %3E%3D, %3C forms"


def date_only(ctx: Context, res: Resource) -> str:
    """date=YYYY-MM-DD on a date-time attribute matches any time that day (the TMF RI's prefix match)."""
    base, date, (morning, evening, _) = _dated(ctx, res, "day")
    return expect_ids(ctx, res, f"{base}&{date}={DAY}", [morning, evening])


CHECKS: list[Check] = [
    ResourceCheck("queries.filter-equality", equality),
    ResourceCheck("queries.filter-comma-or", comma_or),
    ResourceCheck("queries.filter-repeated-or", repeated_or),
    ResourceCheck("queries.filter-and", and_across),
    ResourceCheck("queries.filter-quoted", quoted),
    ResourceCheck("queries.filter-date-gt", _comparison("gt", (1, 2))),
    ResourceCheck("queries.filter-date-gte", _comparison("gte", (1, 2))),
    ResourceCheck("queries.filter-date-lt", _comparison("lt", (0,))),
    ResourceCheck("queries.filter-date-lte", _comparison("lte", (0, 1))),
    ResourceCheck("queries.filter-date-literal", literal_operators),
    ResourceCheck("queries.filter-date-only", date_only),
]
