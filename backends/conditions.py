"""Build query conditions from Python values: ``where("relatedParty.id", eq="cust-1")``.

The value type follows the values (str text, bool a boolean, int, float or Decimal a number, an
aware datetime or Instant an instant, a date any instant of that UTC day), or ``type=`` gives it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from decimal import Decimal

from .queries import Condition, Instant, Op, Value, ValueType
from .values import as_number, instant

Given = str | bool | int | float | Decimal | dt.date | Instant
Alternatives = Given | Sequence[Given] | AbstractSet[Given]  # tuples, lists and sets are alternatives

_MIDNIGHT = dt.time(tzinfo=dt.UTC)


def where(
    path: str | Sequence[str],
    *,
    eq: Alternatives | None = None,
    ne: Alternatives | None = None,
    gt: Alternatives | None = None,
    gte: Alternatives | None = None,
    lt: Alternatives | None = None,
    lte: Alternatives | None = None,
    regex: str | Sequence[str] | AbstractSet[str] | None = None,
    type: ValueType | None = None,
) -> Condition:
    """One condition on a dotted path (or a sequence of names); a tuple, list or set of values is OR.

    ``type=`` converts the values (``where("orderDate", gt="2019-04-30", type=ValueType.DATETIME)``).
    A value that cannot have the type raises ValueError, a Python type with no JSON counterpart
    TypeError: check values that come from a client first.
    """
    operators: dict[Op, Alternatives | None] = {
        Op.EQ: eq,
        Op.NE: ne,
        Op.GT: gt,
        Op.GTE: gte,
        Op.LT: lt,
        Op.LTE: lte,
        Op.REGEX: regex,
    }
    chosen = [(op, given) for op, given in operators.items() if given is not None]
    if len(chosen) != 1:
        named = ", ".join(op.value for op, _ in chosen) or "none"
        raise TypeError(f"where() takes exactly one operator, such as eq=... or ne=...; it was given {named}.")
    op, given = chosen[0]
    names = _path(path)
    alternatives = _alternatives(given)
    if op is Op.REGEX:
        patterns = tuple(dict.fromkeys(value for value in alternatives if isinstance(value, str)))
        if type not in (None, ValueType.STRING) or len(patterns) < len(set(alternatives)):
            raise TypeError("A regex condition takes str patterns and compares text (ValueType.STRING).")
        return Condition(names, op, ValueType.STRING, patterns)
    value_type = type if type is not None else _inferred(alternatives)
    values = tuple(dict.fromkeys(_converted(value, value_type) for value in alternatives))
    return Condition(names, op, value_type, values)


def _path(path: str | Sequence[str]) -> tuple[str, ...]:
    names = tuple(path.split(".")) if isinstance(path, str) else tuple(path)
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ValueError(f"A condition needs an attribute path such as 'relatedParty.id', not {path!r}.")
    return names


def _alternatives(given: Alternatives) -> tuple[Given, ...]:
    values = tuple(given) if isinstance(given, tuple | list | set | frozenset) else (given,)
    if not values:
        raise ValueError("A condition needs at least one value; an empty list would match nothing or everything.")
    return values


def _type_of(value: Given) -> ValueType:
    if isinstance(value, bool):  # before int: bool is an int in Python, not a number in JSON
        return ValueType.BOOLEAN
    if isinstance(value, int | float | Decimal):
        return ValueType.NUMBER
    if isinstance(value, dt.date | Instant):
        return ValueType.DATETIME
    if isinstance(value, str):
        return ValueType.STRING
    raise TypeError(f"A condition cannot compare {value!r}; use str, bool, a number, a date or a datetime.")


def _inferred(values: tuple[Given, ...]) -> ValueType:
    types = {_type_of(value) for value in values}
    if len(types) > 1:
        listed = ", ".join(sorted(value_type.value for value_type in types))
        raise TypeError(f"The values {values!r} mix {listed}; pass type= to say how they compare.")
    return types.pop()


def _converted(value: Given, value_type: ValueType) -> Value:
    if value_type is ValueType.STRING:
        return _text(value)
    if value_type is ValueType.NUMBER:
        return _number(value)
    if value_type is ValueType.BOOLEAN:
        return _boolean(value)
    return _instant(value)


def _text(value: Given) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(_number(value))
    raise TypeError(f"{value!r} has no text form to compare; format it as a string first.")


def _number(value: Given) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise TypeError(f"{value!r} is not a number.")
    # A float goes through its shortest text, as stored JSON numbers are compared.
    number = as_number(value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value))
    if number is None:
        raise ValueError(f"{value!r} is not a finite number that every store can compare.")
    return number


def _boolean(value: Given) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise TypeError(f"{value!r} is not a boolean; use True or False.")


def _instant(value: Given) -> Instant:
    if isinstance(value, Instant):
        moment = _aware(value.at)
        return value if moment is value.at else Instant(moment, value.whole_day)
    if isinstance(value, dt.datetime):
        return Instant(_aware(value))
    if isinstance(value, dt.date):
        return Instant(dt.datetime.combine(value, _MIDNIGHT), whole_day=True)
    parsed = instant(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError(f"{value!r} is not an ISO 8601 date or date-time, such as 2019-04-30T08:13:59Z.")
    return parsed


def _aware(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC; a naive datetime is refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone; use an aware datetime such as datetime.now(datetime.UTC).")
    return moment if moment.tzinfo is dt.UTC else moment.astimezone(dt.UTC)


__all__ = ["where"]
