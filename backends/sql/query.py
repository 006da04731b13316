"""Compile a parsed query to SQLAlchemy Core on the stored JSON document, for SQLite and PostgreSQL.

The matching rules, identical here (both dialects) and in :mod:`backends.matching`:

* **Paths.** ``a.b.c`` walks object members. An array met on the way stands for each of its
  elements, one level deep (PostgreSQL's ``lax $."a"."b"[*]``; arrays of arrays are not flattened
  further), so ``relatedParty.id=1`` matches when any related party has id 1 and a filter on an
  array of strings matches when any element does (TMF630 Part 1 dotted filters). A condition holds
  when any value found at the path matches any of its values (``state=a,b`` is OR).
* **STRING** compares stored JSON strings by code point (PostgreSQL with ``COLLATE "C"``).
  Equality also accepts a stored number equal to the filter text read as a number (``priority=1``
  finds ``"priority": 1``) and a stored boolean spelled ``true`` or ``false``; the ordering
  operators see strings only.
* **NUMBER** compares stored JSON numbers numerically; numeric strings are not numbers. SQLite
  compares as doubles, so beyond 15 significant digits it can disagree with the others.
* **BOOLEAN** compares stored JSON ``true``/``false``, ``false < true``.
* **DATETIME** compares stored strings that are ISO 8601 dates or date-times as instants: an
  existing calendar date, optional ``T``/space time, ``Z`` or ``±hh[:mm]`` zone (none means UTC),
  fractions truncated to microseconds. Any other stored value never matches and never raises.
  A date-only ``eq`` (``orderDate=2019-04-30``) means any instant of that UTC day, as the TMF
  reference implementation does; the ordering operators compare with midnight UTC of that day.
* **REGEX** searches stored strings (unanchored, ``.`` matches newlines); other values never match.
  Only the subset of :mod:`tmfgate.regex` is accepted. On PostgreSQL ``\\w`` and ``(?i)``
  follow the database's LC_CTYPE, Unicode-aware like Python with a UTF-8 ctype.
* **NE** is the negation of EQ over the whole attribute: it holds when no value at the path equals
  any of its values, including when the attribute is absent.
* **Sorting** uses the first value at the path, in document order; when it is not a number,
  string or boolean (null, object, nested array) the document has no value. Numbers < strings <
  booleans, each in its natural order; descending reverses that; documents without a value come
  last in both directions. Dates sort as their text.

Every filter value and attribute name is a bound parameter; PostgreSQL paths are quoted jsonpath
strings passed as parameters, and SQLite walks members with ``json_each`` and compares keys, so no
name ever becomes part of the SQL text. Filter values are bound by name (:mod:`backends.sql.bindings`)
and read here from the names alone, so one statement serves every query of its shape.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Integer,
    LargeBinary,
    Numeric,
    Text,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB, JSONPATH

from backends.queries import Condition, ElementCondition, Op, SortKey, ValueType
from backends.values import (
    NAIVE_INSTANT,
    ZONED_INSTANT,
    parse_instant,
    regex_search,
)

from . import containment, members
from .bindings import bind_condition, bind_elements
from .binds import Binds

INSTANT_FUNCTION = "tmfgate_instant"
_NUMERIC_TYPES = ("integer", "real")
_SORTABLE_TYPES = ("integer", "real", "text")
_FRACTION = r"(\.[0-9]{6})[0-9]+"
_Bool = ColumnElement[bool]


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Add ``regexp`` and ``tmfgate_instant`` to a SQLite connection (call from a ``connect`` event)."""
    dbapi_connection.create_function("regexp", 2, _sqlite_regexp, deterministic=True)
    dbapi_connection.create_function(INSTANT_FUNCTION, 1, _sqlite_instant, deterministic=True)


def _sqlite_regexp(pattern: object, value: object) -> int:
    # An exception raised here would abort the whole statement: answer "no match" instead.
    try:
        return int(regex_search(pattern, value))
    except Exception:  # noqa: BLE001
        return 0


def _sqlite_instant(value: object) -> int | None:
    # The same parser as the in-memory store, so both agree on what is a date (julianday() would
    # read "2459000" as a Julian day and roll 2019-02-30 over to March).
    try:
        parsed = parse_instant(value) if isinstance(value, str) else None
    except Exception:  # noqa: BLE001
        return None
    return None if parsed is None else parsed[0]


class _Value(abc.ABC):
    """One value found at a path, seen as each value type; an expression is NULL for other types."""

    text: ColumnElement[Any]
    number: ColumnElement[Any]
    boolean: ColumnElement[Any]
    instant: ColumnElement[Any]

    @abc.abstractmethod
    def regex(self, pattern: ColumnElement[Any]) -> _Bool:
        """Whether the value is a string matching ``pattern`` (each dialect has its own operator)."""


class _SqliteValue(_Value):
    """A ``json_each`` row: ``value`` is the SQL scalar, ``type`` the JSON type name."""

    def __init__(self, value: ColumnElement[Any], type_: ColumnElement[Any]) -> None:
        self.type = type_
        self.text = case((type_ == "text", value))
        self.number = case((type_.in_(_NUMERIC_TYPES), value))
        self.boolean = case((type_.in_(("true", "false")), value))
        self.instant = type_coerce(getattr(func, INSTANT_FUNCTION)(self.text), Integer)

    def regex(self, pattern: ColumnElement[Any]) -> _Bool:
        return func.regexp(pattern, self.text) == 1


class _PostgresValue(_Value):
    """One ``jsonb`` item from ``jsonb_path_query``; casts are guarded so they never raise."""

    def __init__(self, item: ColumnElement[Any]) -> None:
        typeof = func.jsonb_typeof(item)
        string = item.op("#>>", return_type=Text)(literal_column("'{}'::text[]"))
        self.string = case((typeof == "string", string))
        # Code point order, as SQLite and Python compare; the database collation might not.
        self.text = self.string.collate("C")
        self.number = case((typeof == "number", cast(item, Numeric)))
        self.boolean = case((typeof == "boolean", cast(item, Boolean)))
        self.instant = case((typeof == "string", _pg_instant(string)))

    def regex(self, pattern: ColumnElement[Any]) -> _Bool:
        # Not under COLLATE "C", which would make \w and (?i) ASCII-only, unlike Python.
        return self.string.op("~", return_type=Boolean)(pattern)


def _pg_instant(text: ColumnElement[Any]) -> ColumnElement[Any]:
    """The stored text as ``timestamptz``, or NULL unless it passes the shared ISO 8601 pattern."""
    trimmed = func.regexp_replace(text, literal(_FRACTION), literal(r"\1"))
    zoned = cast(trimmed, DateTime(timezone=True))
    naive = func.timezone(literal("UTC"), cast(trimmed, DateTime()))
    return case(
        (text.op("~", return_type=Boolean)(literal(ZONED_INSTANT)), zoned),
        (text.op("~", return_type=Boolean)(literal(NAIVE_INSTANT)), naive),
        else_=None,
    ).cast(DateTime(timezone=True))


def where_clause(
    conditions: Sequence[Condition],
    doc: ColumnElement[Any],
    dialect: str,
    binds: Binds | None = None,
    prefixes: Sequence[str] | None = None,
) -> _Bool:
    """A WHERE clause holding all the conditions; ``true()`` when there are none.

    The values of the ``i``-th condition are bound under the prefix ``prefixes[i]`` (``c<i>`` when
    not given) in ``binds`` (:func:`bind_condition`); without ``binds`` they are bound here first."""
    candidates = _candidates_for(dialect)
    if not conditions:
        return true()
    names = list(prefixes) if prefixes is not None else [f"c{index}" for index in range(len(conditions))]
    if binds is None:
        binds = Binds()
        for condition, prefix in zip(conditions, names, strict=True):
            bind_condition(condition, prefix, dialect, binds)
    return and_(
        *(
            _top_level(condition, prefix, doc, candidates, dialect, binds)
            for condition, prefix in zip(conditions, names, strict=True)
        )
    )


def _top_level(
    condition: Condition, prefix: str, doc: ColumnElement[Any], candidates: _Candidates, dialect: str, binds: Binds
) -> _Bool:
    """A condition on the document itself: on SQLite an indexed member's equality goes through its index."""
    if dialect != "sqlite" or not binds.chose(f"{prefix}_member"):
        return _condition(condition, prefix, doc, candidates, dialect, binds)
    found = members.equal(condition, prefix, doc, equality_walk(condition, prefix, doc, dialect, binds), binds)
    # json_extract is NULL where the member is absent: that is no match, not unknown.
    return found if condition.op is Op.EQ else not_(func.coalesce(found, false()))


def elements_clause(
    elements: Sequence[ElementCondition], doc: ColumnElement[Any], dialect: str, binds: Binds | None = None
) -> _Bool:
    """A WHERE clause holding every element condition: some object at the path satisfies all of its own.

    The ``k``-th condition of the ``j``-th element binds its values as ``e<j>c<k>`` (:func:`bind_elements`)."""
    candidates = _candidates_for(dialect)
    if binds is None:
        binds = Binds()
        bind_elements(elements, dialect, binds)
    walk = _sqlite_element if dialect == "sqlite" else _pg_element
    return and_(true(), *(walk(element, f"e{j}", doc, candidates, binds) for j, element in enumerate(elements)))


def _sqlite_element(
    element: ElementCondition, prefix: str, doc: ColumnElement[Any], candidates: _Candidates, binds: Binds
) -> _Bool:
    walk = _SqliteWalk(doc, element.path)
    inner = [
        _walked(condition, f"{prefix}c{k}", walk.raw, candidates, binds)
        for k, condition in enumerate(element.conditions)
    ]
    return exists(select(literal(1)).select_from(walk.source).where(walk.keys, walk.value.type == "object", *inner))


def _pg_element(
    element: ElementCondition, prefix: str, doc: ColumnElement[Any], candidates: _Candidates, binds: Binds
) -> _Bool:
    item = func.jsonb_path_query(doc, _pg_path(element.path), type_=JSONB).column_valued("e")
    inner = [
        _walked(condition, f"{prefix}c{k}", item, candidates, binds) for k, condition in enumerate(element.conditions)
    ]
    return exists(select(literal(1)).where(func.jsonb_typeof(item) == "object", *inner))


_Candidates = Callable[[ColumnElement[Any], tuple[str, ...], Callable[[_Value], _Bool]], _Bool]


def _candidates_for(dialect: str) -> _Candidates:
    if dialect == "sqlite":
        return _sqlite_exists
    if dialect == "postgresql":
        return _pg_exists
    raise ValueError(f"The SQL dialect {dialect!r} is not supported; use 'sqlite' or 'postgresql'.")


def equality_walk(condition: Condition, prefix: str, doc: ColumnElement[Any], dialect: str, binds: Binds) -> _Bool:
    """The EQ of ``condition`` (an EQ or NE) read value by value, through no index."""
    return _candidates_for(dialect)(doc, condition.path, lambda value: _predicate(value, condition, prefix, binds))


def _condition(
    condition: Condition, prefix: str, doc: ColumnElement[Any], candidates: _Candidates, dialect: str, binds: Binds
) -> _Bool:
    if dialect == "postgresql" and binds.chose(f"{prefix}_contains"):
        found = containment.contains(condition, prefix, doc, binds)  # the same matches, through the indexes
        # doc ->> name is NULL where the attribute is absent: no match, not unknown
        return not_(func.coalesce(found, false())) if condition.op is Op.NE else found
    return _walked(condition, prefix, doc, candidates, binds)


def _walked(condition: Condition, prefix: str, doc: ColumnElement[Any], candidates: _Candidates, binds: Binds) -> _Bool:
    found = candidates(doc, condition.path, lambda value: _predicate(value, condition, prefix, binds))
    return not_(found) if condition.op is Op.NE else found


def _predicate(value: _Value, condition: Condition, prefix: str, binds: Binds) -> _Bool:
    """Whether one found value matches any of the condition's values (bound by :func:`bind_walk`)."""
    op = Op.EQ if condition.op is Op.NE else condition.op
    if op is Op.REGEX:
        return or_(*(value.regex(binds.bind(name, Text())) for name in binds.names(f"{prefix}_regex")))
    if condition.value_type is ValueType.DATETIME:
        return _instant_predicate(value, op, prefix, binds)
    if op is not Op.EQ:
        expr = {ValueType.STRING: value.text, ValueType.NUMBER: value.number}.get(condition.value_type, value.boolean)
        return _ordered(expr, op, binds.bind(f"{prefix}_bound", expr.type))
    alternatives: list[_Bool] = []
    for name, expr in (("texts", value.text), ("numbers", value.number), ("flags", value.boolean)):
        if binds.has(f"{prefix}_{name}"):
            alternatives.append(expr.in_(binds.bind(f"{prefix}_{name}", expr.type, expanding=True)))
    return or_(*alternatives)


def _ordered(expr: ColumnElement[Any], op: Op, bound: ColumnElement[Any]) -> _Bool:
    """``expr op bound``, the bound typed like the stored side (PostgreSQL compares timestamptz and booleans)."""
    if op is Op.GT:
        return expr > bound
    if op is Op.GTE:
        return expr >= bound
    return expr < bound if op is Op.LT else expr <= bound


def _instant_predicate(value: _Value, op: Op, prefix: str, binds: Binds) -> _Bool:
    instant = value.instant
    if op is not Op.EQ:
        return _ordered(instant, op, binds.bind(f"{prefix}_bound", instant.type))
    alternatives: list[_Bool] = []
    if binds.has(f"{prefix}_instants"):
        alternatives.append(instant.in_(binds.bind(f"{prefix}_instants", instant.type, expanding=True)))
    for day in binds.names(f"{prefix}_day"):
        in_day = instant >= binds.bind(day, instant.type)
        end = day.replace("_day", "_end")
        alternatives.append(and_(in_day, instant < binds.bind(end, instant.type)) if binds.has(end) else in_day)
    return or_(*alternatives)


def _sqlite_exists(doc: ColumnElement[Any], path: tuple[str, ...], test: Callable[[_Value], _Bool]) -> _Bool:
    walk = _SqliteWalk(doc, path)
    return exists(select(literal(1)).select_from(walk.source).where(walk.keys, test(walk.value)))


class _SqliteWalk:
    """The ``json_each`` joins that reach every value at a path.

    Step ``i`` lists the members of the previous object and keeps the one named ``path[i]``
    (compared as a bound parameter, so any character is safe); a second ``json_each`` unwraps it
    when it is an array and yields one dummy row otherwise, so a single join chain covers both.
    """

    def __init__(self, doc: ColumnElement[Any], path: tuple[str, ...]) -> None:
        source: Any = None
        keys: list[_Bool] = []
        self.order: list[ColumnElement[Any]] = []
        current: ColumnElement[Any] = doc
        for name in path:
            member = func.json_each(current).table_valued("key", "value", "type", "id").alias()
            is_array = member.c.type == "array"
            element = func.json_each(case((is_array, member.c.value), else_=literal("[0]")))
            item = element.table_valued("value", "type", "id").alias()
            source = member if source is None else source.join(member, true())
            source = source.join(item, true())
            keys.append(member.c.key == literal(name, Text))
            self.order += [member.c.id, item.c.id]
            value = case((is_array, item.c.value), else_=member.c.value)
            type_ = case((is_array, item.c.type), else_=member.c.type)
            current = case((type_ == "object", value), else_=literal("{}"))
        self.source, self.keys = source, and_(*keys)
        self.value = _SqliteValue(value, type_)
        self.raw = value


def _pg_exists(doc: ColumnElement[Any], path: tuple[str, ...], test: Callable[[_Value], _Bool]) -> _Bool:
    items = func.jsonb_path_query(doc, _pg_path(path), type_=JSONB).column_valued("v")
    return exists(select(literal(1)).where(test(_PostgresValue(items))))


def _pg_path(path: tuple[str, ...]) -> ColumnElement[Any]:
    """``lax $."a"."b"[*]`` with every name quoted as a jsonpath string, bound as a parameter."""
    text = "lax $" + "".join("." + _jsonpath_string(name) for name in path) + "[*]"
    return cast(literal(text, Text), JSONPATH)


def _jsonpath_string(name: str) -> str:
    escaped = []
    for char in name:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def order_by(sort: Sequence[SortKey], doc: ColumnElement[Any], dialect: str) -> list[ColumnElement[Any]]:
    """ORDER BY terms for the sort keys (see the module rules); add a unique tie-breaker yourself."""
    _candidates_for(dialect)
    terms: list[ColumnElement[Any]] = []
    for key in sort:
        columns = _sqlite_sort(doc, key.path) if dialect == "sqlite" else _pg_sort(doc, key.path)
        for column in columns:
            ordered = column.desc() if key.descending else column.asc()
            terms.append(ordered.nulls_last())
    return terms


def _sqlite_sort(doc: ColumnElement[Any], path: tuple[str, ...]) -> list[ColumnElement[Any]]:
    # SQLite already orders numbers < text < blobs, so booleans become the blobs x'00' and x'01'.
    walk = _SqliteWalk(doc, path)
    type_ = walk.value.type
    key = case(
        (type_.in_(_SORTABLE_TYPES), walk.raw),
        (type_ == "true", literal(b"\x01", LargeBinary)),
        (type_ == "false", literal(b"\x00", LargeBinary)),
    )
    first = select(key).select_from(walk.source).where(walk.keys)
    return [first.order_by(*walk.order).limit(1).scalar_subquery()]


def _pg_sort(doc: ColumnElement[Any], path: tuple[str, ...]) -> list[ColumnElement[Any]]:
    item = func.jsonb_path_query_first(doc, _pg_path(path), type_=JSONB)
    value = _PostgresValue(item)
    typeof = func.jsonb_typeof(item)
    rank = case((typeof == "number", 0), (typeof == "string", 1), (typeof == "boolean", 2))
    return [rank, value.number, value.text, value.boolean]
