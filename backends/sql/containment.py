"""Equality filters on PostgreSQL as JSONB containment (``doc @> '{...}'``), which a GIN index serves.

The jsonpath that :mod:`backends.sql.query` compiles a condition to is evaluated row by row: no
index can answer it, so a filtered list and its ``X-Total-Count`` read every document of the kind
(at 1,000,000 services ``relatedParty.id=X`` took 3.7 s, issue 14). Containment asks the same
question in a form the ``jsonb_path_ops`` GIN index on the documents answers.

The same matches, by the rules of :mod:`backends.sql.query`: along ``a.b.c`` each member met may
be an object or an array of them (one level, as ``lax $."a"."b"[*]`` walks), and the value at the
end a scalar or an array of scalars, so each value is asked in every one of those shapes:
``{"a": {"b": "x"}}``, ``{"a": [{"b": "x"}]}``, ``{"a": {"b": ["x"]}}``, ... A containment
nested in arrays deeper than one level does not hold (an array never contains a bare object or
scalar below the top), exactly as the path does not flatten arrays of arrays. JSONB compares
numbers by value (``1`` contains ``1.0``) and strings and booleans exactly, as the rules ask.
A STRING value also matches the number it spells and the boolean ``true`` or ``false``.

Longer paths would need too many shapes (two per step): they keep the jsonpath, as do values
JSONB cannot hold (a NUL character), ordering operators, regexes and dates (compared as instants).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Boolean, ColumnElement, Text, and_, cast, literal, or_
from sqlalchemy.dialects.postgresql import JSONB

from backends.queries import Condition, Op, ValueType
from backends.values import as_number

from .binds import Binds
from .schema import INDEXED, documents, indexed_column

MAX_DEPTH = 4  # steps of a path asked in every shape: 2 ** 4 shapes per value
MAX_SHAPES = 256  # containments OR-ed for one condition; past them the jsonpath reads as fast
_TYPES = (ValueType.STRING, ValueType.NUMBER, ValueType.BOOLEAN)


class _Number:
    """A filter number, written into the containment's JSON text as the literal it is."""

    __slots__ = ("text",)

    def __init__(self, number: Decimal) -> None:
        self.text = str(number)  # "1E+1", "-0.5": valid JSON numbers, read by PostgreSQL as numeric


def applies(condition: Condition) -> bool:
    """Whether ``condition`` (an EQ or NE) can be asked as containment."""
    if condition.op not in (Op.EQ, Op.NE) or condition.value_type not in _TYPES:
        return False
    if not 0 < len(condition.path) <= MAX_DEPTH or any("\x00" in name for name in condition.path):
        return False
    if any(isinstance(value, str) and "\x00" in value for value in condition.values):
        return False
    scalars = len(condition.values) * (3 if condition.value_type is ValueType.STRING else 1)
    return scalars << len(condition.path) <= MAX_SHAPES


def bind(condition: Condition, prefix: str, binds: Binds) -> None:
    """Bind what a condition that :func:`applies` is asked with: the texts its indexed column compares
    (``<prefix>_column_texts``), each containment's JSON (``<prefix>_json0``, ...), and whether the
    texts are all of its values (then it splits in :func:`halves`)."""
    texts = _top_level_texts(condition)
    if texts:
        binds.add(f"{prefix}_column_texts", texts)
    binds.choose(f"{prefix}_halves", bool(texts) and set(texts) == {str(value) for value in condition.values})
    shapes = {_json(shape) for value in _scalars(condition) for shape in _shapes(condition.path, value)}
    shapes -= {_json({condition.path[0]: text}) for text in texts}  # compared as text
    for index, shape in enumerate(sorted(shapes)):
        binds.add(f"{prefix}_json{index}", shape)


def contains(condition: Condition, prefix: str, doc: ColumnElement[Any], binds: Binds) -> ColumnElement[bool]:
    """Whether any value at the condition's path equals any of its values (the EQ of ``condition``)."""
    split = halves(condition, prefix, doc, binds)
    if split is not None:
        return or_(*split)
    alternatives: list[ColumnElement[bool]] = []
    if binds.has(f"{prefix}_column_texts"):
        column = _text(condition.path[0], doc)
        alternatives.append(column.in_(binds.bind(f"{prefix}_column_texts", column.type, expanding=True)))
    return or_(*alternatives, *_containments(prefix, doc, binds))


def halves(
    condition: Condition, prefix: str, doc: ColumnElement[Any], binds: Binds
) -> tuple[ColumnElement[bool], ColumnElement[bool]] | None:
    """The EQ of ``condition`` in two disjoint halves, when every value is an indexed member's text: the
    member is one of the texts (its column's index alone answers), or an array holding one (whose
    JSON text begins with ``[``: that range of the index, then containment); None otherwise."""
    if doc is not documents.c.doc or not binds.chose(f"{prefix}_halves"):
        return None
    column = _text(condition.path[0], doc)
    arrays = or_(*_containments(prefix, doc, binds))
    texts = binds.bind(f"{prefix}_column_texts", column.type, expanding=True)
    return column.in_(texts), and_(column >= literal("[", Text), column < literal("\\", Text), arrays)


def _text(name: str, doc: ColumnElement[Any]) -> ColumnElement[Any]:
    """``doc ->> name``: a top-level string as its text, from the stored column of the documents (INDEXED),
    whose statistics tell the planner that state=active is 60 % of the rows (containment's own estimate
    is a fixed 1 %, and a page at offset=5000 then sorted every match)."""
    if doc is documents.c.doc:
        return documents.c[indexed_column(name)]
    return doc.op("->>", return_type=Text)(literal(name, Text))


def _containments(prefix: str, doc: ColumnElement[Any], binds: Binds) -> list[ColumnElement[bool]]:
    """``doc @> shape`` for each shape bound (those of the texts compared as text are not)."""
    return [
        doc.op("@>", return_type=Boolean)(cast(binds.bind(name, Text()), JSONB))
        for name in binds.names(f"{prefix}_json")
    ]


def _top_level_texts(condition: Condition) -> list[str]:
    """The STRING values of an indexed one-name path that ``doc ->> name`` compares exactly: a stored string is
    its text, a number or boolean its JSON spelling (equal as the rules ask), while an array or object
    is JSON text beginning with ``[`` or ``{``, so values beginning so are left to containment."""
    if len(condition.path) != 1 or condition.path[0] not in INDEXED or condition.value_type is not ValueType.STRING:
        return []  # elsewhere the text has no index, and an OR with it would read every row
    texts = (str(value) for value in condition.values)
    return sorted({text for text in texts if not text.startswith(("[", "{")) and _spelled_once(text)})


def _spelled_once(text: str) -> bool:
    """Whether no other stored number equals ``text``: ``1`` is also stored as ``1.0``, so numbers go to
    containment too (which compares them by value); a plain string's text is only itself."""
    return as_number(text) is None


def _scalars(condition: Condition) -> Iterator[object]:
    """Each JSON scalar that equals one of the condition's values."""
    for value in condition.values:
        if condition.value_type is ValueType.BOOLEAN:
            yield bool(value)
        elif condition.value_type is ValueType.NUMBER:
            if isinstance(value, Decimal):
                yield _Number(value)
        else:
            text = str(value)
            yield text
            number = as_number(text)
            if number is not None:
                yield _Number(number)
            if text in ("true", "false"):
                yield text == "true"


def _shapes(path: tuple[str, ...], value: object) -> Iterator[object]:
    """The documents holding ``value`` at ``path``, every member along it an object or an array of one."""
    for arrays in itertools.product((False, True), repeat=len(path)):
        shape: object = [value] if arrays[-1] else value
        for index in range(len(path) - 1, -1, -1):
            shape = {path[index]: shape}
            if index and arrays[index - 1]:  # the member before holds an array of such objects
                shape = [shape]
        yield shape


def _json(shape: object) -> str:
    return orjson.dumps(shape, default=_number_default).decode()


def _number_default(value: object) -> Any:
    if isinstance(value, _Number):
        return orjson.Fragment(value.text.encode())
    raise TypeError(f"Not a JSON value: {value!r}")


__all__ = ["MAX_DEPTH", "applies", "contains", "halves"]
