"""The catalog as the store holds it, kept in each process as a snapshot for capture and fulfilment.

Every write of a catalog entry also writes a new revision mark in its transaction; a process reads
that one small document before it uses the catalog and reloads the catalog kinds only when the mark
moved, so an order captured anywhere sees every committed change, at the cost of one read by id.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from backends.base import Backend, Transaction
from handlers.catalog import loading
from tmfgate import codec, documents

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

REVISION_KIND = "catalogRevision"  # the gateway's own record, served by no API
REVISION_ID = "current"
_SEEN: WeakKeyDictionary[Gateway, str] = WeakKeyDictionary()


async def mark(tx: Transaction) -> None:
    """Record in ``tx`` that the catalog changed."""
    doc = {"id": REVISION_ID, "revision": str(uuid.uuid4())}
    if await documents.get(tx, REVISION_KIND, REVISION_ID) is None:
        await documents.create(tx, REVISION_KIND, doc)
    else:
        await documents.replace(tx, REVISION_KIND, doc)


async def refresh(gateway: Gateway, source: Transaction | Backend | None = None) -> None:
    """Make :func:`handlers.catalog.loading.of` the store's catalog, reloading it only when it changed.

    ``source``: a transaction the caller holds, to read the mark in (a statement rather than a
    transaction of its own); the store by default.
    """
    source = source if source is not None else gateway.backend
    raw = await source.get(REVISION_KIND, REVISION_ID)
    revision = str(codec.loads(raw).get("revision")) if raw is not None else ""
    if _SEEN.get(gateway) == revision:
        return
    # The mark is read first: a change committed meanwhile moves it again, so the next call reloads.
    entries = {
        kind: {str(doc["id"]): doc for doc in await documents.find(source, kind, sort="id")} for kind in loading.KINDS
    }
    loading.use(gateway, entries)
    _SEEN[gateway] = revision
