"""The generic operations every TMF API shares: list, retrieve, create, patch, delete, and the hub.

TMF630 behaviour lives here once (ids, absolute hrefs, ``Location``, ``@type``, ``fields``, filters,
paging headers, sort, patch rules). Handlers add domain logic through the ``prepare`` and ``check``
hooks, or by composing :func:`new_document` and the ``write_*`` functions in their own operations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from backends.base import Transaction
from tmfgate import codec
from tmfgate import patch as patching
from tmfgate.calls import Actor, Call, Reply
from tmfgate.errors import BadRequest, NotFound
from tmfgate.ids import new_id
from tmfgate.limits import check_document
from tmfgate.query import parse_query, project
from tmfgate.schemas import check as check_schema
from tmfgate.security import idempotency
from tmfgate.security.conditional import check_match, etag, header, none_match
from tmfgate.security.references import check_parties
from tmfgate.security.tenancy import visible
from tmfgate.types import Document

_CONDITIONAL = frozenset({"patch", "delete"})  # the methods If-Match applies to
Prepare = Callable[[Call, Document], Awaitable[None] | None]
Check = Callable[[Call, Document, Document], None]


async def list_resources(call: Call) -> Reply:
    """``GET /x``: filtered, sorted, paged in the backend; 206 only when the page is partial."""
    resource = call.resource
    query = parse_query(
        call.query_string,
        attribute_kind=resource.attribute_kind,
        attribute_known=resource.attribute_known,
        max_limit=call.gateway.settings.max_limit,
    )
    owners = visible(call)
    if owners is not None:  # a partner's list and X-Total-Count hold only its own (tenancy)
        query = dataclasses.replace(query, owners=owners)
    page = await call.gateway.backend.query(resource.kind, query)
    if query.fields is None:
        body = b"[" + b",".join(page.items) + b"]"
    else:
        body = codec.dumps([project(codec.loads(item), query.fields) for item in page.items])
    headers = [(b"x-total-count", str(page.total).encode()), (b"x-result-count", str(len(page.items)).encode())]
    return Reply(206 if len(page.items) < page.total else 200, body, headers)


async def retrieve(call: Call) -> Reply:
    """``GET /x/{id}``, with ``fields=`` selection (TMF630 §4.3 applies to retrieve too), its ``ETag``,
    and 304 when ``If-None-Match`` names it."""
    raw = await call.gateway.backend.get(call.resource.kind, call.id, owners=visible(call))
    if raw is None:
        raise not_found(call)
    tag = etag(raw)
    condition = header(call.scope["headers"], b"if-none-match")
    if condition is not None and not none_match(condition, tag):
        return Reply(304, None, [(b"etag", tag)])
    fields = _fields(call)
    return Reply(200, raw if fields is None else codec.dumps(project(codec.loads(raw), fields)), [(b"etag", tag)])


async def create(call: Call, prepare: Prepare | None = None) -> Reply:
    """``POST /x``: 201 with the whole resource and ``Location`` equal to its ``href``."""
    doc = new_document(call, call.body)
    if prepare is not None:
        result = prepare(call, doc)
        if result is not None:
            await result
    async with call.gateway.transaction() as tx:
        raw = await write_new(tx, call, call.resource.kind, doc)
    return Reply.created(raw, doc["href"], doc)


async def patch(call: Call, check: Check | None = None) -> Reply:
    """``PATCH /x/{id}``: merge or JSON patch; 200 with the whole resource."""
    resource = call.resource
    async with call.gateway.transaction() as tx:
        old = await read_for_update(tx, call)
        new = patched(call, old)
        if check is not None:
            check(call, old, new)
        raw = await write_changed(tx, call, resource.kind, old, new)
    return Reply(200, raw)


async def delete(call: Call) -> Reply:
    """``DELETE /x/{id}``: 204, or 404 when there is nothing to delete."""
    async with call.gateway.transaction() as tx:
        old = await read_for_update(tx, call)
        await write_deleted(tx, call, call.resource.kind, old)
    return Reply(204)


def new_document(call: Call, body: Document) -> Document:
    """A new resource from a create body: server-set ``id``, absolute ``href``, default ``@type``."""
    resource = call.resource
    if not resource.server_owned.isdisjoint(body):
        owned = sorted(resource.server_owned.intersection(body))
        verb, pronoun = ("is", "it") if len(owned) == 1 else ("are", "them")
        raise BadRequest(f"{', '.join(owned)} {verb} set by the server; leave {pronoun} out of the request.")
    id = new_id()
    doc: Document = {"id": id, "href": call.href(resource.kind, id)}
    doc.update(body)
    doc.setdefault("@type", resource.type_name)
    return doc


def patched(call: Call, old: Document) -> Document:
    """The stored document with the request's patch applied and checked against the schema."""
    resource = call.resource
    settings = call.gateway.settings
    new = patching.apply(old, call.body, call.media_type, settings.max_document_size)
    if call.media_type in patching.JSON_PATCHES:  # a merge patch cannot outgrow its body; a copy can
        check_document(new, settings)
    changed = sorted(name for name in resource.fixed_on_patch if new.get(name) != old.get(name))
    if changed:
        raise BadRequest(f"{', '.join(changed)} cannot be changed by PATCH.")
    if resource.validator is not None:
        check_schema(resource.validator, new, what="patched resource")
    return new


async def read_for_update(tx: Transaction, call: Call, kind: str | None = None, id: str | None = None) -> Document:
    """The stored document, locked until the transaction ends; 404 when missing or another partner's."""
    own = kind is None and id is None  # the call's own resource: its If-Match applies
    kind = kind or call.resource.kind
    raw = await tx.get(kind, id or call.id, for_update=True, owners=visible(call, kind))
    if raw is None:
        raise not_found(call, kind, id)
    if own and call.operation.method in _CONDITIONAL:
        # Checked under the lock, so of 20 clients sending the same ETag one wins (RFC 9110 §13.1.1).
        required = call.gateway.settings.require_if_match
        check_match(header(call.scope["headers"], b"if-match"), etag(raw), required=required)
    return codec.loads(raw)  # type: ignore[no-any-return]


# Every write of a resource goes through these three, which store its events in the same
# transaction (the outbox): a change is never committed without its events, nor the reverse.
# The events go to every API that serves the kind (a service is in TMF638 and TMF640 alike).


async def write_new(tx: Transaction, actor: Actor, kind: str, doc: Document) -> bytes:
    """Store a new document and its create event; returns its JSON."""
    raw = codec.dumps(doc)
    owner = actor.owner
    if isinstance(actor, Call):
        await check_parties(tx, actor, doc, raw)  # a partner refers only to its own parties (tenancy)
    if isinstance(actor, Call) and actor.idempotency is not None:
        await idempotency.record(tx, actor, raw, doc["href"])  # first, so a concurrent retry waits here
    stored = await tx.create(kind, doc["id"], raw, owner=owner)
    if stored is not None:  # a store that sets ids and hrefs itself: the caller sees what it stored
        raw = _adopt(doc, stored)
    await actor.gateway.events.created(tx, kind, doc, actor.correlation_id, raw, owner)
    return raw


async def write_new_many(tx: Transaction, actor: Actor, kind: str, docs: list[Document]) -> list[bytes]:
    """Store new documents and their create events, each kind of write in one statement; their JSON."""
    if isinstance(actor, Call) and actor.idempotency is not None:
        return [await write_new(tx, actor, kind, doc) for doc in docs]  # the key's record comes first
    raws = [codec.dumps(doc) for doc in docs]
    if isinstance(actor, Call):
        for doc, raw in zip(docs, raws, strict=True):
            await check_parties(tx, actor, doc, raw)
    stored = await tx.create_many(
        kind, [(doc["id"], raw) for doc, raw in zip(docs, raws, strict=True)], owner=actor.owner
    )
    raws = [raw if kept is None else _adopt(doc, kept) for doc, raw, kept in zip(docs, raws, stored, strict=True)]
    await actor.gateway.events.created_many(
        tx, kind, list(zip(docs, raws, strict=True)), actor.correlation_id, actor.owner
    )
    return raws


async def write_changed(tx: Transaction, actor: Actor, kind: str, old: Document, new: Document) -> bytes:
    """Store a changed document and the events its change raises; returns its JSON."""
    raw = codec.dumps(new)
    if isinstance(actor, Call):
        await check_parties(tx, actor, new, raw, old)
    stored = await tx.replace(kind, new["id"], raw)
    if stored is not None:
        raw = _adopt(new, stored)
    owner = await _owner(tx, actor, kind, new["id"])
    await actor.gateway.events.changed(tx, kind, old, new, actor.correlation_id, raw, owner)
    return raw


async def write_changed_many(
    tx: Transaction, actor: Actor, kind: str, changes: list[tuple[Document, Document]]
) -> None:
    """Store changed documents ``(old, new)`` and the events their changes raise, each kind of write in
    one statement, for a store that keeps documents as given (see ``Transaction.replace_many``)."""
    raws = [codec.dumps(new) for _, new in changes]
    if isinstance(actor, Call):
        for (old, new), raw in zip(changes, raws, strict=True):
            await check_parties(tx, actor, new, raw, old)
    await tx.replace_many(kind, [(new["id"], raw) for (_, new), raw in zip(changes, raws, strict=True)])
    owners = await _owners(tx, actor, kind, [new["id"] for _, new in changes])
    await actor.gateway.events.changed_many(
        tx,
        kind,
        [(old, new, raw, owners.get(new["id"])) for (old, new), raw in zip(changes, raws, strict=True)],
        actor.correlation_id,
    )


def _adopt(doc: Document, stored: bytes) -> bytes:
    """``doc`` made the document a store returned, in place, so its id and href are the store's."""
    doc.clear()
    doc.update(codec.loads(stored))
    return stored


async def write_deleted(tx: Transaction, actor: Actor, kind: str, old: Document) -> None:
    """Remove a stored document and record its delete event."""
    owner = await _owner(tx, actor, kind, old["id"])
    await tx.delete(kind, old["id"])
    await actor.gateway.events.deleted(tx, kind, old, actor.correlation_id, owner)


async def _owner(tx: Transaction, actor: Actor, kind: str, id: str) -> str | None:
    """The owner of a changed document, whose hub subscriptions hear of the change: a partner changes
    only its own; the back office (``tmfgate:all``) and the gateway's reactions may change anyone's."""
    if not actor.gateway.security.authenticates:
        return None  # every subscription hears of every change
    if isinstance(actor, Call) and visible(actor) is not None:
        return actor.owner
    return await tx.owner(kind, id)


async def _owners(tx: Transaction, actor: Actor, kind: str, ids: list[str]) -> dict[str, str | None]:
    """:func:`_owner` of several documents, in one read at most."""
    if not actor.gateway.security.authenticates:
        return {}
    if isinstance(actor, Call) and visible(actor) is not None:
        return dict.fromkeys(ids, actor.owner)
    return await tx.owner_many(kind, ids)


def not_found(call: Call, kind: str | None = None, id: str | None = None) -> NotFound:
    return NotFound(f"No {kind or call.resource.kind} with id {id or call.id} exists.")


def _fields(call: Call) -> tuple[tuple[str, ...], ...] | None:
    raw = [value for key, value in parse_qsl(call.query_string, keep_blank_values=True) if key == "fields"]
    if not raw:
        return None
    resource = call.resource
    query = "fields=" + ",".join(raw).replace("&", "%26")
    return parse_query(query, attribute_kind=resource.attribute_kind, attribute_known=resource.attribute_known).fields
