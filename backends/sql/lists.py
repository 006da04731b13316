"""The statements of a list query (its count and its page), built once per query shape.

Building the JSON filters of a list in SQLAlchemy costs more than running them (about 2 ms of CPU
a filtered list, issue 14), and queries rarely repeat their values: a bill run asks each account's
products, a reservation each resource's. So the statements are kept per *shape*: the kind, the
dialect, each condition's path, operator and value type, the element conditions, the sort, whether
the page has a limit and whether owners are kept, and the names and choices the values bound
(:mod:`backends.sql.binds`). The statements are built from the query with its values taken out,
and each query runs them with its own values as parameters; an IN list is one parameter, whatever
its length. ``fields`` is not part of it: the core projects the page, the store returns documents.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import ARRAY, Integer, Select, Text, func, or_, select
from sqlalchemy.sql.expression import ColumnElement

from backends.queries import Condition, ElementCondition, Query

from . import containment, members, ranges
from .bindings import bind_condition, bind_elements
from .binds import Binds
from .query import elements_clause, equality_walk, order_by, where_clause
from .schema import documents
from .statements import STATEMENTS

CACHE_SIZE = 512  # shapes whose statements are kept, the least recently asked dropped first


class ListStatements(NamedTuple):
    """The statements of a list query: its COUNT and its page, or both in one (PostgreSQL), and the
    parameters this query runs them with."""

    total: Select[Any]
    page: Select[Any]
    together: Select[Any] | None  # one row: the count and an array of the page's documents
    parameters: dict[str, Any]


def list_statements(kind: str, query: Query, dialect: str) -> ListStatements:
    """The statements of a list query, from the cache when a query of its shape was asked before."""
    binds = bind_query(kind, query, dialect)
    total, page, together = built(_Shape(kind, dialect, _skeleton(query), binds))
    return ListStatements(total, page, together, binds.values)


def bind_query(kind: str, query: Query, dialect: str) -> Binds:
    """The values of a list query by name: the ``i``-th condition's under ``c<i>``, the element
    conditions', the date ranges', then ``owners``, ``offset`` and ``limit``."""
    binds = Binds()
    for index, condition in enumerate(query.conditions):
        bind_condition(condition, f"c{index}", dialect, binds)
    bind_elements(query.elements, dialect, binds)
    ranges.bind(kind, query.conditions, binds)
    if query.owners is not None:
        binds.add("owners", [owner for owner in query.owners if owner is not None])
    binds.add("offset", query.offset)
    if query.limit is not None:
        binds.add("limit", query.limit)
    return binds


def _skeleton(query: Query) -> Query:
    """The query without its values: what its statements may be built from."""
    return Query(
        conditions=tuple(_bare(condition) for condition in query.conditions),
        sort=query.sort,
        limit=None if query.limit is None else 0,
        owners=None if query.owners is None else tuple(owner for owner in query.owners if owner is None),
        elements=tuple(
            ElementCondition(element.path, tuple(_bare(condition) for condition in element.conditions))
            for element in query.elements
        ),
    )


def _bare(condition: Condition) -> Condition:
    return Condition(condition.path, condition.op, condition.value_type, ())


class _Shape:
    """A cache key: equal for queries with equal statements; carries the first one's values to build them."""

    __slots__ = ("binds", "dialect", "key", "kind", "query")

    def __init__(self, kind: str, dialect: str, query: Query, binds: Binds) -> None:
        self.kind, self.dialect, self.query, self.binds = kind, dialect, query, binds
        self.key = (kind, dialect, query, binds.shape())

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Shape) and self.key == other.key


@functools.lru_cache(maxsize=CACHE_SIZE)
def built(shape: _Shape) -> tuple[Select[Any], Select[Any], Select[Any] | None]:
    """The count, the page and (PostgreSQL) both in one, for a shape, from its valueless query."""
    kind, dialect, query, binds = shape.kind, shape.dialect, shape.query, shape.binds
    prefixes = {id(condition): f"c{index}" for index, condition in enumerate(query.conditions)}

    def where(conditions: Sequence[Condition]) -> ColumnElement[bool]:
        return where_clause(conditions, documents.c.doc, dialect, binds, [prefixes[id(c)] for c in conditions])

    def halves(condition: Condition, doc: ColumnElement[Any] = documents.c.doc) -> members.Halves | None:
        """An equality an indexed member answers, in two disjoint halves (backends.sql.members.count)."""
        prefix = prefixes[id(condition)]
        if dialect == "postgresql":
            return containment.halves(condition, prefix, doc, binds) if binds.chose(f"{prefix}_contains") else None
        if not binds.chose(f"{prefix}_member"):
            return None
        return members.branches(condition, prefix, doc, equality_walk(condition, prefix, doc, dialect, binds), binds)

    criteria: list[ColumnElement[bool]] = [documents.c.kind == kind]
    if query.owners is not None:
        owned = documents.c.owner.in_(binds.bind("owners", documents.c.owner.type, expanding=True))
        criteria.append(or_(owned, documents.c.owner.is_(None)) if None in query.owners else owned)
    if query.elements:
        criteria.append(elements_clause(query.elements, documents.c.doc, dialect, binds))
    unconditioned = list(criteria)
    if query.conditions:
        criteria.append(where(query.conditions))
        criteria += ranges.narrowed(kind, query.conditions, dialect, binds)  # the candidates, through an index
    # COUNT(*) then the page beat COUNT(*) OVER () on 10k rows (page of 10: SQLite 3.4 vs 20 ms,
    # PostgreSQL 4.2 vs 10.8 ms): the window reads every match before returning the first row.
    count = members.count(unconditioned, query.conditions, where, halves)
    if count is None:
        count = select(func.count()).select_from(documents).where(*criteria)
    narrowed = None
    if dialect == "sqlite":  # PostgreSQL's planner finds containment's rows by itself
        narrowed = members.narrowed(kind, query.conditions, halves)
    order = [*order_by(query.sort, documents.c.doc, dialect)] if query.sort else []
    page = (
        select(STATEMENTS[dialect].doc_text)
        .where(*criteria, *([] if narrowed is None else [narrowed]))
        .order_by(*order, documents.c.seq)  # seq last: ties keep insertion order
        .offset(binds.bind("offset", Integer()))
    )
    if query.limit is not None:
        page = page.limit(binds.bind("limit", Integer()))
    together = None
    if dialect == "postgresql":
        # SELECT (SELECT count(*) ...), ARRAY(SELECT doc ... ORDER BY ... LIMIT n): the array keeps
        # the page's order, and one statement needs no REPEATABLE READ for one snapshot.
        together = select(count.scalar_subquery(), func.array(page.scalar_subquery(), type_=ARRAY(Text)))
    return count, page, together


__all__ = ["CACHE_SIZE", "ListStatements", "bind_query", "built", "list_statements"]
