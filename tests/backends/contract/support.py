"""Writes and reads the contract tests (and the store-specific ones) share: documents, events, claims."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from backends.base import Backend, Delivery, DocumentStore, Event

LEASE = 30.0


def doc(id: str, **attributes: Any) -> bytes:
    return orjson.dumps({"id": id, **attributes})


def named(id: str, **attributes: Any) -> bytes:
    """A document named after its id unless named otherwise: what every store keeps, an upstream's
    TMF resources (which require a name) included."""
    return doc(id, **{"name": id, **attributes})


def ids(items: list[bytes]) -> list[str]:
    return [orjson.loads(item)["id"] for item in items]


async def create_all(store: DocumentStore, kind: str, *documents: bytes) -> list[str]:
    """Create the documents in one transaction; their ids as stored (a store may choose its own)."""
    made = []
    async with store.transaction() as tx:
        for document in documents:
            made.append(stored_id(await tx.create(kind, orjson.loads(document)["id"], document), document))
    return made


def stored_id(answer: bytes | None, sent: bytes) -> str:
    """The id of a created document: the store's, when it answers what it stored, else the one sent."""
    return str(orjson.loads(answer if answer is not None else sent)["id"])


def content(raw: bytes | None) -> dict[str, Any]:
    """A stored document without its id and what a TMF store adds to every one (``href``, ``@type``)."""
    assert raw is not None
    return {k: v for k, v in orjson.loads(raw).items() if k not in ("id", "href", "@type")}


async def increment(store: DocumentStore, kind: str, id: str) -> None:
    """A read-modify-write that loses updates unless the read locks the document."""
    async with store.transaction() as tx:
        counter = orjson.loads(await tx.get(kind, id, for_update=True) or b"")
        await asyncio.sleep(0)  # let the other writers run between the read and the write
        counter["n"] += 1
        await tx.replace(kind, id, orjson.dumps(counter))


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def event(kind: str, resource_id: str, n: int = 0, *, at: dt.datetime | None = None) -> Event:
    id = uuid.uuid4().hex
    return Event(
        id=id,
        api="productOrdering",
        kind=kind,
        resource_id=resource_id,
        type="ProductOrderStateChangeEvent",
        time=at or now(),
        head=orjson.dumps({"eventId": id, "event": {"id": resource_id, "n": n}}),
    )


def to(*subscription_ids: str) -> Callable[[Event], Iterable[str]]:
    return lambda _: subscription_ids


async def record(backend: Backend, *events: Event) -> None:
    """Store each event with the change it describes, one transaction per event."""
    for e in events:
        async with backend.transaction() as tx:
            await tx.create(e.kind, e.id, orjson.dumps({"id": e.id}))
            await tx.add_event(e)


async def fan_out_all(backend: Backend, route: Callable[[Event], Iterable[str]], limit: int = 200) -> int:
    total = 0
    while taken := await backend.fan_out(route, limit=limit):
        total += taken
    return total


def sent(deliveries: list[Delivery]) -> list[tuple[str, int]]:
    """(subscription, n of the event body) of each delivery, as a test reads them easily."""
    return [(d.subscription_id, orjson.loads(d.event.body)["event"]["n"]) for d in deliveries]


def enveloping(kind: str, resource_id: str, document: bytes, type: str) -> Event:
    """An event whose body carries the document as stored, in parts, as the gateway's events do."""
    id = uuid.uuid4().hex
    head = orjson.dumps({"eventId": id, "eventType": type})[:-1] + b',"event":{"' + kind.encode() + b'":'
    return Event(
        id=id,
        api="productOrdering",
        kind=kind,
        resource_id=resource_id,
        type=type,
        time=now(),
        head=head,
        document=document,
        tail=b"}}",
    )


async def claim_all(backend: Backend, limit: int = 4) -> list[str]:
    """Claim until nothing is left for this claimer; the ids it got."""
    ids: list[str] = []
    while claimed := await backend.claim(limit=limit, lease=LEASE, now=now()):
        ids.extend(d.id for d in claimed)
        await asyncio.sleep(0)
    return ids
