"""The values of a filter, bound by name for the statements :mod:`backends.sql.query` builds.

Each condition's values become parameters under its prefix (``c0_texts``, ``c0_bound``, ...), in the
form each dialect compares them (SQLite: integers or doubles, 0 and 1, instants in microseconds;
PostgreSQL: as they are), and the choices they make about the SQL (an index that applies, a text that
also spells a number, a day with no end) are recorded in the :class:`~backends.sql.binds.Binds`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from backends.queries import Condition, ElementCondition, Instant, Op, ValueType
from backends.values import DAY_MICROS, as_number, instant_micros

from . import containment, members
from .binds import Binds


class Binding:
    """How filter values are bound for PostgreSQL: as they are."""

    def number(self, number: Decimal) -> Any:
        return number

    def boolean(self, flag: bool) -> Any:
        return flag

    def instant(self, instant: Instant, *, day_end: bool = False) -> Any:
        """The bound value comparing with ``instant`` (or the end of its day; None past the calendar)."""
        if not day_end:
            return instant.at
        if instant.at.date() == dt.date.max:
            return None  # the last representable day has no next midnight
        return instant.at + dt.timedelta(days=1)


class _SqliteBinding(Binding):
    def number(self, number: Decimal) -> Any:
        # sqlite3 cannot bind Decimal; integers stay exact, the rest compare as doubles.
        if number == number.to_integral_value() and abs(number) < 2**63:
            return int(number)
        return float(number)

    def boolean(self, flag: bool) -> Any:
        return int(flag)

    def instant(self, instant: Instant, *, day_end: bool = False) -> Any:
        return instant_micros(instant) + (DAY_MICROS if day_end else 0)


BINDINGS = {"sqlite": _SqliteBinding(), "postgresql": Binding()}


def bind_condition(condition: Condition, prefix: str, dialect: str, binds: Binds) -> None:
    """Bind the values of a top-level condition: those its index is asked with (SQLite's member index,
    PostgreSQL's containment) and those of the walk that reads it value by value, where one is kept."""
    if dialect == "sqlite" and binds.choose(f"{prefix}_member", members.applies(condition)):
        members.bind(condition, prefix, binds)
        bind_walk(condition, prefix, dialect, binds)
    elif dialect == "postgresql" and binds.choose(f"{prefix}_contains", containment.applies(condition)):
        containment.bind(condition, prefix, binds)
    else:
        bind_walk(condition, prefix, dialect, binds)


def bind_elements(elements: Sequence[ElementCondition], dialect: str, binds: Binds) -> None:
    for j, element in enumerate(elements):
        for k, condition in enumerate(element.conditions):
            bind_walk(condition, f"e{j}c{k}", dialect, binds)


def bind_walk(condition: Condition, prefix: str, dialect: str, binds: Binds) -> None:
    """Bind the values a walk compares found values with (:func:`_predicate` reads them by name)."""
    binding = BINDINGS[dialect]
    op = Op.EQ if condition.op is Op.NE else condition.op
    values = condition.values
    if op is Op.REGEX:
        for index, pattern in enumerate(values):
            binds.add(f"{prefix}_regex{index}", str(pattern))
        return
    if condition.value_type is ValueType.STRING:
        texts = [str(text) for text in values]
        if op is not Op.EQ:
            binds.add(f"{prefix}_bound", _loosest(op, texts))
            return
        binds.add(f"{prefix}_texts", texts)
        numbers = [binding.number(number) for number in map(as_number, texts) if number is not None]
        if numbers:
            binds.add(f"{prefix}_numbers", numbers)
        flags = [binding.boolean(text == "true") for text in texts if text in ("true", "false")]
        if flags:
            binds.add(f"{prefix}_flags", flags)
    elif condition.value_type is ValueType.NUMBER:
        _bind_ordered(binds, prefix, "numbers", op, [binding.number(v) for v in values if isinstance(v, Decimal)])
    elif condition.value_type is ValueType.BOOLEAN:
        _bind_ordered(binds, prefix, "flags", op, [binding.boolean(bool(v)) for v in values])
    else:
        _bind_instants(binds, prefix, op, binding, [v for v in values if isinstance(v, Instant)])


def _loosest(op: Op, values: list[Any]) -> Any:
    """For an ordering operator, ``expr op any(values)`` is one comparison with the loosest bound."""
    return min(values) if op in (Op.GT, Op.GTE) else max(values)


def _bind_ordered(binds: Binds, prefix: str, name: str, op: Op, values: list[Any]) -> None:
    if op is Op.EQ:
        binds.add(f"{prefix}_{name}", values)
    else:
        binds.add(f"{prefix}_bound", _loosest(op, values))


def _bind_instants(binds: Binds, prefix: str, op: Op, binding: Binding, instants: list[Instant]) -> None:
    if op is not Op.EQ:
        binds.add(f"{prefix}_bound", _loosest(op, [binding.instant(instant) for instant in instants]))
        return
    exact = [binding.instant(instant) for instant in instants if not instant.whole_day]
    if exact:
        binds.add(f"{prefix}_instants", exact)
    for index, day in enumerate(instant for instant in instants if instant.whole_day):
        binds.add(f"{prefix}_day{index}", binding.instant(day))
        end = binding.instant(day, day_end=True)
        if end is not None:
            binds.add(f"{prefix}_end{index}", end)


__all__ = ["BINDINGS", "Binding", "bind_condition", "bind_elements", "bind_walk"]
