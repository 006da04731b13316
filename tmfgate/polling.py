"""Changes at an upstream that has no hub, found by polling: each routed kind is listed from a stored
watermark (the last value seen of a date-time attribute every change moves forward, ``lastUpdate``
by default), and what changed is announced through the outbox as the upstream's hub would have.

The last copy seen of each resource is kept in the local store: it tells a create from a change,
and which kind of change (TMF630 event types, :mod:`tmfgate.events`), and it makes a resource seen
again unchanged (a repeated watermark, a restart) announce nothing. The copies, the watermark and
the events of one page are written in one transaction, so a restart loses and repeats nothing. The
first poll of a kind only records what is there: what existed before is no change. A deletion leaves
no trace a watermark finds: the copies are swept instead (every ``upstream_poll_deletions`` seconds),
a hundred at a time asked for by id, and a copy the upstream no longer holds is announced deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Iterable

from backends.base import (
    Backend,
    Condition,
    DuplicateId,
    Instant,
    Op,
    Query,
    SortKey,
    StorageError,
    Transaction,
    ValueType,
)
from backends.routed import RemoteStore
from tmfgate import codec
from tmfgate.gateway import Gateway
from tmfgate.ids import new_id
from tmfgate.types import Document

log = logging.getLogger("tmfgate.upstream")

SEEN_KIND = "upstreamCopy"  # the last copy seen of each polled resource, by ``{api}:{kind}:{id}``
WATERMARK_KIND = "upstreamWatermark"  # by ``{api}:{kind}``: the attribute's last value seen
PAGE = 100


class Poller:
    """Polls the kinds one API keeps at one upstream, every ``upstream_poll`` seconds."""

    def __init__(self, gateway: Gateway, local: Backend, api: str, stores: Iterable[tuple[str, RemoteStore]]) -> None:
        self.gateway = gateway
        self.local = local  # where the copies, the watermark and the events are kept
        self.api = api
        self.kinds = dict(stores)  # kind -> the store that keeps it
        default, upstream = gateway.settings.upstream_poll_attribute, gateway.routing.upstreams.get(api)
        # kind -> the date-time attribute it is polled by: the upstream's own, else the setting
        self.attributes = {
            kind: default if upstream is None else upstream.poll_attribute(kind, default) for kind in self.kinds
        }
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"tmfgate-upstream-poll-{self.api}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop, swept = asyncio.get_running_loop(), None
        every = self.gateway.settings.upstream_poll_deletions
        while True:
            try:
                await self.poll()
                if every > 0 and (swept is None or loop.time() - swept >= every):
                    await self.sweep()
                    swept = loop.time()
            except StorageError as exc:  # down, or refusing the filter: said, and tried again next time
                log.warning("cannot poll %s for changes: %s", self.api, exc)
            await asyncio.sleep(self.gateway.settings.upstream_poll)

    async def poll(self) -> int:
        """One pass over every kind; the number of resources found new or changed."""
        return sum([await self.poll_kind(kind) for kind in sorted(self.kinds)])

    async def poll_kind(self, kind: str) -> int:
        """Every page changed since the kind's watermark, each announced and recorded in one transaction."""
        raised, offset, attribute = 0, 0, self.attributes[kind]
        first = await self._watermark(kind) is None  # every page of the first poll only records
        while True:
            mark = await self._watermark(kind)
            conditions = () if mark is None else (_since(attribute, mark),)
            query = Query(conditions=conditions, sort=(SortKey((attribute,)),), offset=offset, limit=PAGE)
            page = await self.kinds[kind].query(kind, query)
            docs = [codec.loads(raw) for raw in page.items]
            async with self.local.transaction() as tx:
                raised += await self._record(tx, kind, docs, announce=not first)
                last = next((d[attribute] for d in reversed(docs) if isinstance(d.get(attribute), str)), mark)
                if last is not None and last != mark:
                    await _store(tx, WATERMARK_KIND, {"id": f"{self.api}:{kind}", "value": last})
            if docs and last is None:
                log.warning("%s of %s carry no %s: their changes cannot be polled", kind, self.api, attribute)
            if raised:
                self.gateway.committed.set()
            if len(docs) < PAGE:
                return raised
            # A full page all at the watermark's value: the next one starts after it, not at it again.
            offset = offset + len(docs) if last == mark else 0

    async def sweep(self) -> int:
        """One look for deletions over every kind; the number of resources found deleted."""
        return sum([await self.sweep_kind(kind) for kind in sorted(self.kinds)])

    async def sweep_kind(self, kind: str) -> int:
        """The kind's copies a page at a time (by id, in the local store's query), each page's ids asked
        of the upstream in one list; a copy it no longer holds is announced deleted and forgotten."""
        prefix, gone = f"{self.api}:{kind}:", 0
        # every key with the prefix sorts after it and before the prefix with its last ':' as ';'
        after, end = prefix, prefix[:-1] + ";"
        while True:
            window = (_key(Op.GT, after), _key(Op.LT, end))
            copies = [codec.loads(raw) for raw in (await self.local.query(SEEN_KIND, _keyset(window))).items]
            if not copies:
                return gone
            ids = tuple(copy["id"][len(prefix) :] for copy in copies)
            held = Query(conditions=(Condition(("id",), Op.EQ, ValueType.STRING, ids),), limit=len(ids))
            present = {codec.loads(raw)["id"] for raw in (await self.kinds[kind].query(kind, held)).items}
            missing = [copy for copy, id in zip(copies, ids, strict=True) if id not in present]
            if missing:
                async with self.local.transaction() as tx:
                    for copy in missing:
                        if await tx.delete(SEEN_KIND, copy["id"]):  # not swept by another poller already
                            await self.gateway.events.deleted(tx, kind, copy["copy"], new_id())
                            gone += 1
                self.gateway.committed.set()
            if len(copies) < PAGE:
                return gone
            after = copies[-1]["id"]

    async def _watermark(self, kind: str) -> str | None:
        raw = await self.local.get(WATERMARK_KIND, f"{self.api}:{kind}")
        return None if raw is None else str(codec.loads(raw)["value"])

    async def _record(self, tx: Transaction, kind: str, docs: list[Document], *, announce: bool) -> int:
        """Keep each resource's copy; announce its change against the copy before (none: a create)."""
        raised = 0
        for doc in docs:
            key = f"{self.api}:{kind}:{doc['id']}"
            raw = await tx.get(SEEN_KIND, key, for_update=True)
            before = None if raw is None else codec.loads(raw)["copy"]
            if before == doc:
                continue  # seen as it is: a repeated watermark, or a page seen before a restart
            encoded = codec.dumps(doc)
            if announce and before is None:
                await self.gateway.events.created(tx, kind, doc, new_id(), encoded)
            elif announce and before is not None:
                await self.gateway.events.changed(tx, kind, before, doc, new_id(), encoded)
            raised += announce
            await _store(tx, SEEN_KIND, {"id": key, "copy": doc}, exists=raw is not None)
        return raised


def _since(attribute: str, mark: str) -> Condition:
    """``attribute >= mark``: at, not after, so a resource changed in the watermark's instant is not
    missed (it is skipped when its copy is the same)."""
    try:
        at = dt.datetime.fromisoformat(mark)
    except ValueError:
        return Condition((attribute,), Op.GTE, ValueType.STRING, (mark,))
    at = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    return Condition((attribute,), Op.GTE, ValueType.DATETIME, (Instant(at.astimezone(dt.UTC)),))


def _key(op: Op, value: str) -> Condition:
    return Condition(("id",), op, ValueType.STRING, (value,))


def _keyset(window: tuple[Condition, ...]) -> Query:
    """A page of copies by id: keyset paging, as the sweep deletes copies behind it."""
    return Query(conditions=window, sort=(SortKey(("id",)),), limit=PAGE)


async def _store(tx: Transaction, kind: str, doc: Document, *, exists: bool | None = None) -> None:
    raw = codec.dumps(doc)
    if exists is None:
        exists = await tx.get(kind, doc["id"], for_update=True) is not None
    if exists:
        await tx.replace(kind, doc["id"], raw)
        return
    with contextlib.suppress(DuplicateId):  # another poller of the same store got there first
        await tx.create(kind, doc["id"], raw)
