"""Equality filters on SQLite's indexed top-level members, asked as ``json_extract(doc, '$.name')``.

The ``json_each`` walk that :mod:`backends.sql.query` compiles a condition to is evaluated row by
row, so a filtered list and its count read every document of the kind. For the members of
:data:`~backends.sql.schema.SQLITE_INDEXED` the same question is asked in the form of their
expression indexes, which SQLite matches only when written exactly so, with a literal path.

The same matches, by the rules of :mod:`backends.sql.query`: for a plain text (no number, no
``true``/``false``, not beginning with ``[`` or ``{``) ``json_extract`` equals it exactly when the
member is that string (a number gives a number, a boolean 0 or 1, an array or object its JSON
text, beginning with ``[`` or ``{``). The one other match, an array holding the string, has JSON
text beginning with ``[``: that range of the index is read and the walk decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, and_, func, literal, literal_column, or_, select, union_all

from backends.queries import Condition, Op, ValueType
from backends.values import as_number

from .binds import Binds
from .schema import SQLITE_INDEXED, documents, json_member

Halves = tuple[ColumnElement[bool], ColumnElement[bool]]  # an equality as two disjoint conditions
SELECTIVE = (("id",), ("externalId",))  # paths whose value few documents share


def applies(condition: Condition) -> bool:
    """Whether ``condition`` (an EQ or NE of plain texts on an indexed member) can be asked so."""
    if condition.op not in (Op.EQ, Op.NE) or condition.value_type is not ValueType.STRING:
        return False
    if len(condition.path) != 1 or condition.path[0] not in SQLITE_INDEXED or not condition.values:
        return False
    return all(_plain(str(value)) for value in condition.values)


def _plain(text: str) -> bool:
    if text.startswith(("[", "{")) or "\x00" in text or text in ("true", "false"):
        return False
    return as_number(text) is None


def bind(condition: Condition, prefix: str, binds: Binds) -> None:
    """Bind the texts of a condition that :func:`applies` (``<prefix>_member_texts``)."""
    binds.add(f"{prefix}_member_texts", sorted({str(value) for value in condition.values}))


def branches(
    condition: Condition, prefix: str, doc: ColumnElement[Any], walk: ColumnElement[bool], binds: Binds
) -> Halves:
    """The two disjoint halves of the EQ of ``condition``: the member is one of the texts (the index alone
    answers), or is an array holding one (``walk``: the same EQ as a ``json_each`` walk)."""
    member = func.json_extract(doc, literal_column(json_member(condition.path[0])), type_=Text)
    texts = binds.bind(f"{prefix}_member_texts", Text(), expanding=True)
    in_array = and_(member >= literal("[", Text), member < literal("\\", Text), walk)  # '\\' follows '['
    return member.in_(texts), in_array


def equal(
    condition: Condition, prefix: str, doc: ColumnElement[Any], walk: ColumnElement[bool], binds: Binds
) -> ColumnElement[bool]:
    """The EQ of ``condition``, through the member's index."""
    return or_(*branches(condition, prefix, doc, walk, binds))


def count(
    criteria: Sequence[ColumnElement[bool]],
    conditions: Sequence[Condition],
    where: Callable[[Sequence[Condition]], ColumnElement[bool]],
    halves: Callable[[Condition], Halves | None],
) -> Select[Any] | None:
    """The count of the documents meeting ``criteria`` and ``conditions`` as the sum of two counts, one
    for each half of the first equality among them that ``halves`` splits; None when it splits none.

    Asked as one OR, SQLite reads the index for it only with the statistics of ANALYZE, which a
    store may never have had, and PostgreSQL reads each match in the table; a term of its own is an
    equality the planner gives to the index first, and the count of the first half reads the index
    alone (SQLite, 200,000 documents: 8 ms for state=active where the walk took 1.6 s).
    """
    split = next(((c, found) for c in conditions if c.op is Op.EQ and (found := halves(c)) is not None), None)
    if split is None:
        return None
    first, parts = split
    rest = where([c for c in conditions if c is not first])
    counts = [select(func.count()).select_from(documents).where(*criteria, part, rest) for part in parts]
    return select(counts[0].scalar_subquery() + counts[1].scalar_subquery())


def narrowed(
    kind: str, conditions: Sequence[Condition], halves: Callable[[Condition, ColumnElement[Any]], Halves | None]
) -> ColumnElement[bool] | None:
    """For a page: ``seq`` among those of the documents found through the index of a member nearly unique
    per document (SELECTIVE); None when no condition is such an equality.

    Without ANALYZE's statistics SQLite reads a page in insertion order and tests every document (an
    ``id=`` page over 200,000 services took 1.7 s); the few ``seq`` the index finds, asked in a
    subquery of their own, are looked up in the (kind, seq) index instead. The condition itself stays.
    """
    inner = documents.alias("member")
    for condition in conditions:
        found = halves(condition, inner.c.doc) if condition.op is Op.EQ and condition.path[:1] in SELECTIVE else None
        if found is not None:
            seqs = union_all(*(select(inner.c.seq).where(inner.c.kind == kind, half) for half in found))
            return documents.c.seq.in_(seqs)
    return None


__all__ = ["SELECTIVE", "Halves", "applies", "branches", "count", "equal", "narrowed"]
