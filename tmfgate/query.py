"""Parse a TMF630 list query string into a :class:`backends.base.Query`, and apply ``fields=``.

The grammar (TMF630 Part 1 §4.3–4.7): ``&`` separates parameters and ANDs different attributes;
the string is then percent-decoded (``+`` is a space), so ``%3E`` is ``>``; ``;`` separates
complete conditions on one attribute and operator (OR) and ``,`` separates alternative values
(OR), except inside a value wrapped in double quotes (``name="a,b"``), whose quotes are removed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from backends.base import Condition, ElementCondition, Instant, Op, Query, SortKey, Value, ValueType
from backends.values import as_number, parse_instant
from tmfgate import jsonpath
from tmfgate.errors import InvalidQuery
from tmfgate.regex import portability_problem

AttributeKind = Callable[[tuple[str, ...]], ValueType | None]
# Whether the resource's schema describes a path (None: the resource has no schema to tell).
AttributeKnown = Callable[[tuple[str, ...]], bool | None]

# Bounds that keep any accepted query inside SQLite's limits (64 joined tables, bound parameters,
# expression depth), so a hostile query is a 400 here and never a 500 in a backend.
MAX_CONDITIONS = 50
MAX_VALUES = 200
MAX_DEPTH = 10
MAX_SORT_KEYS = 10
MAX_FIELDS = 200
MAX_INTEGER = 2**63 - 1

_SUFFIXES = {op.value: op for op in Op}
_NOT_OPERATORS = frozenset("!~")  # what ends a key in "state!=x" or "name~=x": an operator, not a name
_JSON_PATH_OPS = {"==": Op.EQ, "!=": Op.NE, ">": Op.GT, ">=": Op.GTE, "<": Op.LT, "<=": Op.LTE, "=~": Op.REGEX}
_LITERALS = {"=": Op.EQ, "==": Op.EQ, ">": Op.GT, ">=": Op.GTE, "<": Op.LT, "<=": Op.LTE}
_UNSUPPORTED = {
    "depth": "The depth parameter is not supported; references are returned as stored.",
    "expand": "The expand parameter is not supported; references are returned as stored.",
}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# An unencoded "+02:00" offset arrives as " 02:00" because "+" decodes to a space (TMF630 §4.7).
_SPACED_OFFSET = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+) ([0-9]{2}(?::?[0-9]{2})?)")


@dataclass(frozen=True)
class _Raw:
    """A filter value as written; a quoted value is a string whatever it looks like."""

    text: str
    quoted: bool = False


@dataclass
class _Collected:
    """What the parameters said so far; repeated filters on one path and operator merge (OR)."""

    filters: dict[tuple[tuple[str, ...], Op], list[_Raw]] = field(default_factory=dict)
    fields: list[tuple[str, ...]] | None = None
    json_paths: list[jsonpath.JsonPath] = field(default_factory=list)
    sort: list[SortKey] = field(default_factory=list)
    paging: dict[str, int] = field(default_factory=dict)


def parse_query(
    raw: str,
    *,
    attribute_kind: AttributeKind,
    attribute_known: AttributeKnown | None = None,
    max_limit: int | None = None,
) -> Query:
    """Parse a raw query string (without or with its leading ``?``) into a :class:`Query`.

    With ``attribute_known``, what cannot mean anything for the resource is a 400 rather than an
    empty answer: an operator suffix TMF630 does not define on a value (``state.neq=``), a sort
    key that is not a value of the resource, a ``fields`` selection naming no attribute of it.
    """
    collected = _Collected()
    for part in parameters(raw):
        _parse_part(unquote_plus(part), collected)
    if attribute_known is not None:
        _check_known(collected, attribute_kind, attribute_known)
    if len(collected.filters) + len(collected.json_paths) > MAX_CONDITIONS:
        raise InvalidQuery(f"A query can have at most {MAX_CONDITIONS} different filters.")
    if sum(len(values) for values in collected.filters.values()) > MAX_VALUES:
        raise InvalidQuery(f"A query can compare with at most {MAX_VALUES} filter values in all.")
    conditions = tuple(_condition(path, op, raws, attribute_kind) for (path, op), raws in collected.filters.items())
    limit = collected.paging.get("limit")
    if max_limit is not None:  # no limit asked for is the largest page (F-20: never the whole collection)
        limit = max_limit if limit is None else min(limit, max_limit)
    fields = None if collected.fields is None else tuple(_unique(collected.fields))
    elements = tuple(_unique(element_condition(expression, attribute_kind) for expression in collected.json_paths))
    return Query(conditions, tuple(collected.sort), collected.paging.get("offset", 0), limit, fields, elements=elements)


def parameters(raw: str) -> list[str]:
    """The ``&``-separated parameters of a raw query string, still encoded.

    A JSON Path ``filter=`` keeps the ``&&`` of its predicate, which clients send unencoded as the
    TMF630 Part 6 examples are written: its parameter runs on until its brackets close.
    """
    found: list[str] = []
    for part in raw.removeprefix("?").split("&"):
        if found and _open_filter(found[-1]):
            found[-1] += "&" + part
        elif part:
            found.append(part)
    return found


def _open_filter(part: str) -> bool:
    text = unquote_plus(part)
    return text.startswith("filter=") and text.count("[") > text.count("]")


def element_condition(expression: jsonpath.JsonPath, attribute_kind: AttributeKind) -> ElementCondition:
    """A JSON Path filter (TMF630 Part 6) as the storage contract's same-element condition."""
    comparisons = expression.predicate or ()
    conditions = []
    for comparison in comparisons:
        full = expression.path + comparison.path
        name = ".".join(full)
        op = _JSON_PATH_OPS[comparison.op]
        given = comparison.value
        if comparison.regex:
            conditions.append(Condition(comparison.path, op, ValueType.STRING, (_regex(name, str(given)),)))
            continue
        value: Value = given
        if isinstance(given, bool):
            kind = ValueType.BOOLEAN
        elif not isinstance(given, str):
            kind, value = ValueType.NUMBER, _convert(name, ValueType.NUMBER, str(given))
        elif attribute_kind(full) is ValueType.DATETIME and _instant(given) is not None:
            kind = ValueType.DATETIME
            value = _convert(name, kind, given)
        else:
            kind = ValueType.STRING
        conditions.append(Condition(comparison.path, op, kind, (value,)))
    return ElementCondition(expression.path, tuple(conditions))


def _check_known(collected: _Collected, kind: AttributeKind, known: AttributeKnown) -> None:
    for path, _ in collected.filters:
        if len(path) > 1 and known(path) is False and kind(path[:-1]) is not None:
            name = ".".join(path[:-1])
            raise InvalidQuery(
                f"{_shown(path[-1])} is not a filter operator, and {_shown(name)} has no attribute of that name; "
                f"use {name}.eq, .ne, .gt, .gte, .lt, .lte or .regex (or {name}=, >, >=, <, <=)."
            )
    for key in collected.sort:
        name = ".".join(key.path)
        if known(key.path) is False:
            raise InvalidQuery(f"Cannot sort by {_shown(name)}: the resource has no such attribute.")
        if known(key.path) and kind(key.path) is None:
            raise InvalidQuery(f"Cannot sort by {_shown(name)}: it is not a single value (a number, text or date).")
    if collected.fields and not any(known(path[:1]) is not False for path in collected.fields):
        names = ", ".join(_shown(".".join(path)) for path in collected.fields[:5])
        raise InvalidQuery(f"The fields parameter names no attribute of the resource: {names}.")


def _parse_part(text: str, collected: _Collected) -> None:
    """One ``&``-separated parameter: a reserved parameter, or conditions joined by ``;``."""
    _check_text(text, "The query")
    key = text[: _key_end(text, 0)]
    if key in _UNSUPPORTED:
        raise InvalidQuery(_UNSUPPORTED[key])
    if key in ("fields", "sort", "offset", "limit", "filter"):
        if text[len(key) : len(key) + 1] != "=" or text[len(key) : len(key) + 2] == "==":
            raise InvalidQuery(f"Write the {key} parameter as {key}=value.")
        _reserved(key, text[len(key) + 1 :], collected)
        return
    parsed = [_filter_key(key, op) + (values,) for key, op, values in _conditions(text)]
    if len({(path, op) for path, op, _ in parsed}) > 1:
        raise InvalidQuery(
            f"The ';' in {_shown(text)} joins conditions on different attributes or operators; "
            "use '&' between different attributes and ';' only between conditions on the same "
            "attribute, as in state=acknowledged;state=rejected."
        )
    for path, op, values in parsed:
        collected.filters.setdefault((path, op), []).extend(values)


def _key_end(text: str, start: int) -> int:
    """Where the attribute name starting at ``start`` ends: at an operator, ``;`` or the end."""
    for index in range(start, len(text)):
        if text[index] in "<>=;":
            return index
    return len(text)


def _conditions(text: str) -> list[tuple[str, str, list[_Raw]]]:
    """Split ``key op values[;key op values...]`` into its conditions."""
    found: list[tuple[str, str, list[_Raw]]] = []
    index = 0
    while index < len(text):
        end = _key_end(text, index)
        key = text[index:end]
        if end == len(text) or text[end] == ";":
            if key and found:
                previous = found[-1][0]
                raise InvalidQuery(
                    f"After ';' comes a whole condition, as in {previous}=a;{previous}=b, not {_shown(key)}; "
                    f"for alternative values write {previous}=a,b."
                )
            if key:
                raise InvalidQuery(f"The filter {_shown(key)} has no operator; write it as {_shown(key + '=value')}.")
            index = end + 1  # an empty condition, as in "state=a;"
            continue
        op = text[end] + ("=" if text[end + 1 : end + 2] == "=" else "")
        if len(key) > 1 and key[-1] in _NOT_OPERATORS:
            # "state!=x" or "orderDate~=x": an operator TMF630 does not define, not an attribute name.
            raise InvalidQuery(
                f"{_shown(key[-1] + op)} in {_shown(key + op)} is not a TMF630 operator; use "
                f"{key[:-1]}.ne=, .eq=, .gt=, .gte=, .lt=, .lte=, .regex= or =, >, >=, <, <=."
            )
        values, index = _values(text, end + len(op), key)
        found.append((key, op, values))
    return found


def _values(text: str, index: int, key: str) -> tuple[list[_Raw], int]:
    """Read comma-separated values up to ``;`` or the end; return them and the next position."""
    values: list[_Raw] = []
    while True:
        if text.startswith('"', index):
            close = text.find('"', index + 1)
            # The closing quote is the first one followed by a separator, so "a"b" is a"b.
            while close != -1 and close + 1 < len(text) and text[close + 1] not in ",;":
                close = text.find('"', close + 1)
            if close == -1:
                raise InvalidQuery(f"A value of the filter {_shown(key)} opens a double quote it never closes.")
            values.append(_Raw(text[index + 1 : close], quoted=True))
            index = close + 1
        else:
            end = min(
                (pos for pos in (text.find(",", index), text.find(";", index)) if pos != -1),
                default=len(text),
            )
            values.append(_Raw(text[index:end]))
            index = end
        if index >= len(text):
            return values, len(text)
        if text[index] == ";":
            return values, index + 1
        index += 1  # a comma: another alternative value follows


def _filter_key(key: str, literal: str) -> tuple[tuple[str, ...], Op]:
    """The attribute path and operator of ``orderDate.gt=`` or ``orderDate>``."""
    names = key.split(".")
    op = _LITERALS[literal]
    if len(names) > 1 and names[-1] in _SUFFIXES:
        if literal != "=":
            raise InvalidQuery(
                f"The filter {_shown(key + literal)} gives two operators; write "
                f"{'.'.join(names[:-1])}.{names[-1]}=value or {'.'.join(names[:-1])}{literal}value."
            )
        op = _SUFFIXES[names.pop()]
    return _path(names, "filter"), op


def _path(names: list[str], usage: str) -> tuple[str, ...]:
    """A dotted attribute path; every name must be non-empty."""
    dotted = ".".join(names)
    if not dotted:
        raise InvalidQuery(f"A {usage} needs an attribute name, as in state=completed.")
    if any(not name for name in names):
        raise InvalidQuery(f"The attribute path {_shown(dotted)} in a {usage} has an empty name between dots.")
    if len(names) > MAX_DEPTH:
        raise InvalidQuery(f"The attribute path {_shown(dotted)} is deeper than {MAX_DEPTH} names.")
    return tuple(names)


def _reserved(key: str, value: str, collected: _Collected) -> None:
    if key == "filter":
        collected.json_paths.append(jsonpath.parse(value))
    elif key == "fields":
        selected = _fields(value)
        if selected is not None:
            collected.fields = (collected.fields or []) + selected
    elif key == "sort":
        collected.sort += _sort(value)
        if len(collected.sort) > MAX_SORT_KEYS:
            raise InvalidQuery(f"A query can sort by at most {MAX_SORT_KEYS} attributes.")
    elif key in collected.paging:
        raise InvalidQuery(f"The {key} parameter is given more than once; give it once.")
    else:
        collected.paging[key] = _integer(key, value)


def _fields(value: str) -> list[tuple[str, ...]] | None:
    """``fields=id,state`` (TMF630 §4.3; spaces after commas tolerated) or ``fields=none``.

    Selection is lenient: an empty ``fields=`` selects nothing (the whole resource is returned, as
    without the parameter) and empty names between dots or commas are skipped; a name that matches
    no attribute simply selects nothing.
    """
    paths = [tuple(part for part in name.strip().split(".") if part) for name in value.split(",")]
    paths = [path for path in paths if path]
    if not paths:
        return None
    if paths == [("none",)]:
        return []  # only the attributes always returned (id, href)
    if len(paths) > MAX_FIELDS:
        raise InvalidQuery(f"The fields parameter can select at most {MAX_FIELDS} attributes.")
    return paths


def _sort(value: str) -> list[SortKey]:
    """``sort=-orderDate,+id`` (TMF630 §4.7); an unencoded ``+`` arrives as a space: ascending."""
    keys = []
    for item in value.split(","):
        name = item.strip()
        if not name:
            continue
        descending = name.startswith("-")
        if name[0] in "+-":
            name = name[1:].strip()
        keys.append(SortKey(_path(name.split("."), "sort"), descending))
    if not keys:
        raise InvalidQuery("The sort parameter needs attribute names, as in sort=-orderDate,id.")
    return keys


def _integer(key: str, value: str) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        raise InvalidQuery(
            f"The {key} parameter must be a whole number of zero or more, as in {key}=20, not {_shown(value)}."
        )
    # A huge offset or limit is still a valid request: past the end, or everything. The length
    # test comes first: int() refuses strings of more than 4300 digits.
    return MAX_INTEGER if len(text) > 19 else min(int(text), MAX_INTEGER)


def _condition(path: tuple[str, ...], op: Op, raws: list[_Raw], attribute_kind: AttributeKind) -> Condition:
    """Type the values of one condition with the schema kind, or infer it from the literals."""
    name = ".".join(path)
    if op is Op.REGEX:
        return Condition(path, op, ValueType.STRING, tuple(_unique(_regex(name, raw.text) for raw in raws)))
    kind = attribute_kind(path)
    if kind is None:
        kinds = {_literal_kind(raw) for raw in raws}
        # A mixed list such as priority=1,high is compared as text, where 1 still finds a stored 1.
        kind = kinds.pop() if len(kinds) == 1 else ValueType.STRING
        if op in (Op.EQ, Op.NE) and kind in (ValueType.NUMBER, ValueType.BOOLEAN):
            # Text equality also finds a stored number or boolean it spells, so id=42 finds both
            # "42" and 42 on an attribute the schema does not describe.
            kind = ValueType.STRING
    return Condition(path, op, kind, tuple(_unique(_convert(name, kind, raw.text) for raw in raws)))


def _literal_kind(raw: _Raw) -> ValueType:
    if raw.quoted:
        return ValueType.STRING
    if raw.text in ("true", "false"):
        return ValueType.BOOLEAN
    if _instant(raw.text) is not None:
        return ValueType.DATETIME
    if as_number(raw.text) is not None:
        return ValueType.NUMBER
    return ValueType.STRING


def _convert(name: str, kind: ValueType, text: str) -> Value:
    if kind is ValueType.STRING:
        return text
    if kind is ValueType.BOOLEAN and text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    converted: Value | None = as_number(text.strip()) if kind is ValueType.NUMBER else None
    if kind is ValueType.DATETIME:
        converted = _instant(text)
    if converted is not None:
        return converted
    expected = {
        ValueType.NUMBER: "a number, such as 3 or 2.5",
        ValueType.BOOLEAN: "true or false",
        ValueType.DATETIME: "an ISO 8601 date or date-time, such as 2019-04-30 or 2019-04-30T08:13:59Z",
    }[kind]
    raise InvalidQuery(f"The filter on {_shown(name)} expects {expected}, not {_shown(text)}.")


def _instant(text: str) -> Instant | None:
    """A date (``whole_day``) or a date-time; no zone means UTC."""
    text = text.strip()
    spaced = _SPACED_OFFSET.fullmatch(text)
    parsed = parse_instant(f"{spaced[1]}+{spaced[2]}" if spaced else text)
    if parsed is None:
        return None
    try:
        at = _EPOCH + dt.timedelta(microseconds=parsed[0])
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before the first representable instant
        return None
    return Instant(at, whole_day=parsed[1])


def _regex(name: str, pattern: str) -> str:
    """Check a ``.regex`` pattern: valid for Python and PostgreSQL alike, and cheap to run."""
    problem = portability_problem(pattern)
    if problem is not None:
        raise InvalidQuery(f"The regular expression {_shown(pattern)} for {_shown(name)} {problem}.")
    return pattern


def project(
    doc: Mapping[str, Any], fields: tuple[tuple[str, ...], ...], always: tuple[str, ...] = ("id", "href")
) -> dict[str, Any]:
    """Keep ``always`` and the selected paths (TMF630 §4.3), in the document's key order.

    A path into an array selects in every element: ``productOrderItem.state`` keeps, for each
    item, only its ``state``.
    """
    selection: dict[str, Any] = {}
    for path in [(name,) for name in always] + list(fields):
        node = selection
        for depth, name in enumerate(path, 1):
            if name in node and node[name] is None:
                break  # the whole attribute is already selected
            if depth == len(path):
                node[name] = None
            else:
                node = node.setdefault(name, {})
    return _select(doc, selection)


def _select(doc: Mapping[str, Any], selection: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in doc.items():
        if key not in selection:
            continue
        inner = selection[key]
        if inner is None:
            kept[key] = value
        elif isinstance(value, Mapping):
            if part := _select(value, inner):
                kept[key] = part
        elif isinstance(value, list):
            parts = [_select(item, inner) for item in value if isinstance(item, Mapping)]
            if any(parts):
                kept[key] = parts
    return kept


def _check_text(text: str, what: str) -> None:
    # PostgreSQL text cannot hold NUL and UTF-8 cannot encode lone surrogates: both would fail in
    # the driver, so they are a bad request here.
    if "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text):
        raise InvalidQuery(f"{what} contains a NUL character or invalid Unicode; remove it.")


def _shown(text: str) -> str:
    """A client's text quoted for a message, shortened when long."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _unique(items: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(items))
