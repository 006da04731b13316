"""Date ranges on an indexed member of one kind (``usageDate`` of usage), served by a partial index.

A date filter compares stored strings as instants (:mod:`backends.sql.query`), an expression no index
holds. For the members of :data:`~backends.sql.schema.RANGE_INDEXED` a list also asks a looser range
on the member's text, in the form of its partial index: the index finds the candidates, the exact
comparison decides. The looser range keeps every match among date strings. An ISO 8601 instant the
rules accept starts with its local calendar date ``YYYY-MM-DD``, at most 14:59 hours from UTC, so a day
either side of the UTC dates of the bounds covers any zone; text sorts by that prefix (code point
order on both databases). Only members that the kind's handler keeps a date-time string are indexed
so: ``usageDate`` is checked on receipt (handlers.usage.records) and cannot be patched. (An array
there would have JSON text past every date; reading that range too, with OR, made SQLite's planner
leave the index.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, func, literal_column, true

from backends.queries import Condition, Instant, Op, ValueType

from .binds import Binds
from .schema import RANGE_INDEXED, documents


def member_text(name: str, dialect: str) -> ColumnElement[Any]:
    """The member's text exactly as its partial index spells it (a literal path, not a parameter)."""
    if dialect == "sqlite":
        return func.json_extract(documents.c.doc, literal_column(f"'$.{name}'"), type_=Text)
    return documents.c.doc.op("->>", return_type=Text)(literal_column(f"'{name}'")).collate("C")


def kind_clause(kind: str) -> ColumnElement[bool]:
    """``kind = '<kind>'`` with the kind written out, so that the planner sees the partial index applies."""
    assert kind in {k for k, _ in RANGE_INDEXED}, kind
    return documents.c.kind == literal_column(f"'{kind}'")


def applies(kind: str, condition: Condition) -> bool:
    """Whether ``condition`` is an ordering or equality of dates on a member indexed for ``kind``."""
    if (kind, condition.path[0] if len(condition.path) == 1 else None) not in RANGE_INDEXED:
        return False
    return condition.value_type is ValueType.DATETIME and condition.op not in (Op.NE, Op.REGEX)


def bind(kind: str, conditions: Sequence[Condition], binds: Binds) -> None:
    """Bind the looser range of each indexed member the conditions compare (all of its bounds together):
    ``range_<name>_low`` and ``range_<name>_high``, each when there is one."""
    bounds: dict[str, tuple[str | None, str | None]] = {}
    for condition in conditions:
        if applies(kind, condition):
            low, high = bounds.get(condition.path[0], (None, None))
            more_low, more_high = _bounds(condition)
            bounds[condition.path[0]] = (_pick(max, low, more_low), _pick(min, high, more_high))
    for name, (low, high) in sorted(bounds.items()):
        if low is not None:
            binds.add(f"range_{name}_low", low)
        if high is not None:
            binds.add(f"range_{name}_high", high)


def narrowed(kind: str, conditions: Sequence[Condition], dialect: str, binds: Binds) -> list[ColumnElement[bool]]:
    """The ranges :func:`bind` bound, and the kind written out; nothing when no condition applies."""
    names = sorted({condition.path[0] for condition in conditions if applies(kind, condition)})
    if not names:
        return []
    return [kind_clause(kind), *(_range(member_text(name, dialect), name, binds) for name in names)]


def _bounds(condition: Condition) -> tuple[str | None, str | None]:
    """The lowest and the first past highest date text of the values the condition may match."""
    instants = [value.at for value in condition.values if isinstance(value, Instant)]
    low = _day(min(instants), -1) if condition.op in (Op.GT, Op.GTE, Op.EQ) else None
    high = _day(max(instants), +2) if condition.op in (Op.LT, Op.LTE, Op.EQ) else None
    return low, high


def _pick(choose: Any, one: str | None, other: str | None) -> str | None:
    return other if one is None else one if other is None else str(choose(one, other))


def _range(text: ColumnElement[Any], name: str, binds: Binds) -> ColumnElement[bool]:
    low, high = f"range_{name}_low", f"range_{name}_high"
    return and_(
        text >= binds.bind(low, Text()) if binds.has(low) else true(),
        text < binds.bind(high, Text()) if binds.has(high) else true(),
    )


def _day(at: dt.datetime, days: int) -> str | None:
    """The UTC date of ``at`` moved by ``days``, as text; None past the calendar (no bound then)."""
    try:
        return (at.astimezone(dt.UTC).date() + dt.timedelta(days=days)).isoformat()
    except OverflowError:
        return None
