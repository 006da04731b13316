"""The hub operations every API shares: ``POST /hub``, ``DELETE /hub/{id}``, ``GET /hub/{id}``."""

from __future__ import annotations

from typing import Any

from tmfgate import codec, times
from tmfgate.calls import Call, Reply
from tmfgate.errors import NotFound
from tmfgate.ids import new_id
from tmfgate.notifications import callbacks, secrets
from tmfgate.notifications.subscriptions import HUB_KIND, parse, public, stored
from tmfgate.security.tenancy import visible


async def register_listener(call: Call) -> Reply:
    """``POST /hub``: 201 with ``{id, callback, query}`` and ``Location``.

    An optional ``secret`` (an extension attribute) makes every delivery carry an
    ``X-Hub-Signature-256`` HMAC of its timestamp and body; it is stored encrypted and never shown.
    """
    body = call.body
    callback = str(body.get("callback", ""))
    await callbacks.policy(call.gateway.settings).target(callback)  # checked again at every delivery
    query = str(body.get("query") or "")
    doc: dict[str, Any] = {"id": new_id(), "callback": callback, "query": query, "createdAt": times.now()}
    if call.face is not None:  # another version: its events are rendered in its terms at delivery
        doc.update(version=call.face.version, storedQuery=call.face.subscription_query(query))
    parse(str(doc.get("storedQuery", query)), call.api)
    if body.get("secret"):
        doc["secret"] = secrets.seal(str(body["secret"]), call.gateway.settings.hub_secret_key)
    if visible(call, HUB_KIND) is not None:  # a partner hears only of its own resources
        doc["owner"] = call.owner
    async with call.gateway.transaction() as tx:
        await tx.create(HUB_KIND, doc["id"], stored(call.api, doc), owner=call.owner)
    return Reply.created(codec.dumps(public(doc)), call.href("hub", doc["id"]))


async def unregister_listener(call: Call) -> Reply:
    """``DELETE /hub/{id}``: 204, or 404 for an unknown subscription; its pending deliveries go."""
    async with call.gateway.transaction() as tx:
        raw = await tx.get(HUB_KIND, call.id, for_update=True, owners=visible(call, HUB_KIND))
        if raw is None or codec.loads(raw).get("api") != call.api.name:
            raise NotFound(f"No hub subscription with id {call.id} exists.")
        await tx.delete(HUB_KIND, call.id)
    await call.gateway.backend.drop_deliveries(call.id)
    return Reply(204)


async def retrieve_listener(call: Call) -> Reply:
    """``GET /hub/{id}`` where a spec has it."""
    raw = await call.gateway.backend.get(HUB_KIND, call.id, owners=visible(call, HUB_KIND))
    if raw is None or codec.loads(raw).get("api") != call.api.name:
        raise NotFound(f"No hub subscription with id {call.id} exists.")
    return Reply(200, codec.dumps(public(codec.loads(raw))))
