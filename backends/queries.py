"""A parsed list query and the page it answers: what every store receives instead of a query string."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum


class Op(str, Enum):
    """Comparison operators of TMF630 attribute filtering."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    REGEX = "regex"


class ValueType(str, Enum):
    """How the values of a condition compare with the stored attribute.

    Values are ``str`` for STRING (and every REGEX pattern), ``Decimal`` for NUMBER, ``bool`` for
    BOOLEAN and :class:`Instant` for DATETIME. The matching rules are in :mod:`backends.matching`.
    """

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"


@dataclass(frozen=True)
class Instant:
    """A point in time; ``whole_day`` when the filter gave only a date (``orderDate=2019-04-30``).

    With ``whole_day`` equality means "any time that UTC day" and ``ne`` its negation; the ordering
    operators compare against ``at`` (midnight UTC of that day).
    """

    at: dt.datetime  # always timezone-aware, UTC
    whole_day: bool = False


Value = str | Decimal | bool | Instant
# The owners whose documents a read may see (None among them: documents with no owner); None: all.
Owners = tuple[str | None, ...] | None


@dataclass(frozen=True)
class Condition:
    """``path op value``; several values are alternatives (OR), as ``state=a,b`` or a repeated key.

    ``path`` is the dotted attribute path split into names; an array met anywhere along the path
    matches when any of its elements does (TMF630 Part 1: dotted filters into arrays). ``ne`` is
    the negation of ``eq`` with the same values: no value at the path equals any of them (an absent
    attribute matches). :func:`backends.conditions.where` builds one from Python values.
    """

    path: tuple[str, ...]
    op: Op
    value_type: ValueType
    values: tuple[Value, ...]


@dataclass(frozen=True)
class ElementCondition:
    """Some value at ``path`` is an object on which every one of ``conditions`` holds, paths relative to it.

    The same-element match of TMF630 Part 6 JSON Path, ``note[?(@.author=='Ann' && @.date>'2024')]``,
    which dotted filters cannot say (each of ``note.author=Ann&note.date>2024`` may hold on another
    note). ``path`` walks arrays as :class:`Condition` does; a non-object value never matches.
    """

    path: tuple[str, ...]
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class SortKey:
    """One ``sort=`` key; documents without a value at ``path`` come last in both directions."""

    path: tuple[str, ...]
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """A list request: conditions (all must hold), sort keys, and the page window.

    ``fields`` is None for whole documents, ``()`` for ``fields=none`` (only the always-returned
    attributes), else the selected dotted paths. A store ignores it: the core projects the page.
    ``owners`` keeps only the documents of those owners (None in it: documents with no owner); None
    keeps every document. Stores apply it in the query itself, as they do conditions (tenancy).
    ``elements`` must hold too; a store that cannot evaluate them raises ``Unsupported``.
    """

    conditions: tuple[Condition, ...] = ()
    sort: tuple[SortKey, ...] = ()
    offset: int = 0
    limit: int | None = None
    fields: tuple[tuple[str, ...], ...] | None = field(default=None, compare=False)
    owners: Owners = None
    elements: tuple[ElementCondition, ...] = ()


@dataclass(frozen=True)
class Page:
    """One page of a query: ``total`` matches of the filter, ``items`` the stored JSON texts."""

    total: int
    items: list[bytes]


__all__ = ["Condition", "ElementCondition", "Instant", "Op", "Owners", "Page", "Query", "SortKey", "Value", "ValueType"]
