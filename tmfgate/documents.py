"""Typed reads and writes of stored documents for handlers: dicts in and out, never raw JSON bytes.

Thin over the storage contract, through :mod:`tmfgate.codec` (integers beyond 64 bits stay exact);
queries are built from :func:`backends.conditions.where` conditions. Events come with
:mod:`tmfgate.operations`' ``write_*`` functions; ``create`` and ``replace`` here raise none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from backends.base import Condition, Owners, Page, Query, SortKey, Transaction
from tmfgate import codec
from tmfgate.types import Document


class Queryable(Protocol):
    """A transaction, or a store outside one: what :func:`find` runs on."""

    async def query(self, kind: str, query: Query) -> Page: ...


async def get(tx: Transaction, kind: str, id: str, *, owners: Owners = None) -> Document | None:
    """The stored document, or None (also when it is not of ``owners``, see :mod:`backends.base`)."""
    raw = await tx.get(kind, id, owners=owners)
    return None if raw is None else _document(raw)


async def locked(tx: Transaction, kind: str, id: str, *, owners: Owners = None) -> Document | None:
    """The stored document locked until the transaction ends, or None (also when not of ``owners``)."""
    raw = await tx.get(kind, id, for_update=True, owners=owners)
    return None if raw is None else _document(raw)


async def find(
    source: Queryable,
    kind: str,
    *conditions: Condition,
    sort: str | Sequence[str] = (),
    limit: int | None = None,
    owners: Owners = None,
) -> list[Document]:
    """The documents meeting every condition, filtered, sorted and paged by the store.

    ``sort`` names dotted paths, each ascending or, written ``-path``, descending (TMF630 ``sort=``);
    ``owners`` keeps to those owners' documents (tenancy), None to every document.
    """
    keys = (sort,) if isinstance(sort, str) else sort
    query = Query(conditions=conditions, sort=tuple(_sort_key(key) for key in keys), limit=limit, owners=owners)
    page = await source.query(kind, query)
    return [_document(raw) for raw in page.items]


async def create(tx: Transaction, kind: str, doc: Document) -> None:
    """Store a new document by its ``id``, raising no event: for the gateway's own records."""
    await tx.create(kind, str(doc["id"]), codec.dumps(doc))


async def replace(tx: Transaction, kind: str, doc: Document) -> None:
    """Overwrite a stored document by its ``id``, raising no event: for the gateway's own records."""
    await tx.replace(kind, str(doc["id"]), codec.dumps(doc))


def _sort_key(key: str) -> SortKey:
    descending = key.startswith("-")
    return SortKey(tuple(key.removeprefix("-").split(".")), descending)


def _document(raw: bytes) -> Document:
    doc: Document = codec.loads(raw)
    return doc


__all__ = ["Queryable", "create", "find", "get", "locked", "replace"]
