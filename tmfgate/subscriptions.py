"""Hub subscriptions (TMF630 Part 1 §10): registering listeners and deciding what each receives.

A subscription's ``query`` selects events: empty means every event of the API; ``eventType=A,B``
(or the key repeated) selects types; ``event.``-prefixed filters use the list filter grammar on
the event's content (``event.productOrder.state=completed``); ``fields=`` trims the payload
(``fields=event.productOrder.id``), always keeping the envelope's ``eventId``, ``eventTime`` and
``eventType``. A query is parsed when the subscription is made, so a bad one is a 400 then.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlsplit

from backends import matching
from backends.base import Backend, Condition, Event, Query, ValueType
from tmfgate import codec, times
from tmfgate.dispatch import Call, Reply
from tmfgate.errors import BadRequest, InvalidQuery, NotFound
from tmfgate.ids import new_id
from tmfgate.model import ApiModel
from tmfgate.query import parse_query, project

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

log = logging.getLogger("tmfgate.subscriptions")
ENVELOPE = ("eventId", "eventTime", "eventType")
_PRIVATE = ("secret", "createdAt", "api")  # stored with a subscription, never shown
# Every API's subscriptions live in one kind, each naming its API: the dispatcher reads them all
# with one query, which it does after every fan-out (see EventDispatcher._catch_up).
HUB_KIND = "tmfgate:hub"


@dataclass(frozen=True)
class Subscription:
    """A stored hub subscription, parsed: where to send, and which events."""

    id: str
    api: str
    callback: str
    secret: str | None
    event_types: frozenset[str] | None
    conditions: tuple[Condition, ...]
    fields: tuple[tuple[str, ...], ...] | None
    created_at: str
    # The gateway's own listeners (tmfgate.reactions) are awaited instead of posted to.
    reaction: Callable[[Event], Awaitable[None]] | None = field(default=None, compare=False)

    def accepts(self, event: Event, document: Any = None) -> bool:
        """Whether this subscription receives ``event`` (``document``: its parsed body, if at hand)."""
        if event.api != self.api or times.stamp(event.time) < self.created_at:
            return False
        if self.event_types is not None and event.type not in self.event_types:
            return False
        if not self.conditions:
            return True
        return matching.matches(self.conditions, document if document is not None else codec.loads(event.body))

    def payload(self, event: Event) -> bytes:
        """The notification body this subscriber receives."""
        if self.fields is None:
            return event.body
        return codec.dumps(project(codec.loads(event.body), self.fields, always=ENVELOPE))


def parse(query: str, api: ApiModel) -> tuple[frozenset[str] | None, Query]:
    """The event types and the content query of a subscription ``query``; InvalidQuery when bad."""
    types: set[str] = set()
    rest: list[str] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "eventType":
            types.update(name.strip() for name in value.split(",") if name.strip())
        elif key == "fields" or key.startswith("event."):
            rest.append(f"{quote(key, safe='.<>=!')}={quote(value, safe=',')}")
        else:
            raise InvalidQuery(
                f"The subscription query cannot use {key!r}: use eventType=, fields= "
                "or event.-prefixed filters such as event.productOrder.state=completed."
            )
    known = _event_types(api)
    unknown = sorted(types - known)
    if unknown:
        raise InvalidQuery(
            f"{', '.join(unknown)} is not an event of this API; its events are {', '.join(sorted(known))}."
        )

    def kind_of(path: tuple[str, ...]) -> ValueType | None:
        resource = api.resources.get(path[1]) if len(path) > 2 and path[0] == "event" else None
        return resource.attribute_kind(path[2:]) if resource is not None else None

    return (frozenset(types) or None), parse_query("&".join(rest), attribute_kind=kind_of)


def _event_types(api: ApiModel) -> set[str]:
    """The events the gateway raises for this API's resources, and those its spec names."""
    names = {n for n in api.spec.document.get("components", {}).get("schemas", {}) if n.endswith("Event")}
    for resource in api.resources.values():
        if resource.kind != "hub":
            names.update(
                resource.type_name + suffix
                for suffix in ("CreateEvent", "AttributeValueChangeEvent", "StateChangeEvent", "DeleteEvent")
            )
    return names


def from_document(api: ApiModel, doc: dict[str, Any]) -> Subscription:
    types, query = parse(str(doc.get("query") or ""), api)
    return Subscription(
        id=doc["id"],
        api=api.name,
        callback=doc["callback"],
        secret=doc.get("secret"),
        event_types=types,
        conditions=query.conditions,
        fields=query.fields,
        created_at=str(doc.get("createdAt", "")),
    )


async def load_all(backend: Backend, apis: list[ApiModel]) -> dict[str, Subscription]:
    """Every stored subscription of the APIs served, by id."""
    by_name = {api.name: api for api in apis}
    found: dict[str, Subscription] = {}
    for raw in (await backend.query(HUB_KIND, Query())).items:
        doc = codec.loads(raw)
        api = by_name.get(str(doc.get("api")))
        if api is None:
            continue  # an API this process does not serve (another gateway's spec set)
        try:
            subscription = from_document(api, doc)
        except InvalidQuery as exc:  # e.g. a spec change retired an event type it names
            log.error(
                "hub subscription %s of %s is skipped: its query no longer parses: %s", doc.get("id"), api.name, exc
            )
            continue
        found[subscription.id] = subscription
    return found


def stored(api: ApiModel, doc: dict[str, Any]) -> bytes:
    """A subscription as the store keeps it: with the API it belongs to."""
    return codec.dumps({**doc, "api": api.name})


def public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _PRIVATE}


def check_callback(callback: str, gateway: Gateway) -> None:
    """An absolute http(s) URL to a host the settings allow."""
    parts = urlsplit(callback)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"The callback must be an absolute http or https URL, not {callback!r}.")
    allowed = [p.strip().lower() for p in gateway.settings.callback_hosts.split(",") if p.strip()]
    if not any(fnmatch.fnmatchcase(parts.hostname.lower(), pattern) for pattern in allowed):
        raise BadRequest(f"Callbacks to {parts.hostname} are not allowed by this gateway.")


async def register_listener(call: Call) -> Reply:
    """``POST /hub``: 201 with ``{id, callback, query}`` and ``Location``.

    An optional ``secret`` (an extension attribute) makes every delivery carry an
    ``X-Hub-Signature-256`` HMAC of its body; it is stored but never shown.
    """
    body = call.body
    callback = str(body.get("callback", ""))
    check_callback(callback, call.gateway)
    query = str(body.get("query") or "")
    parse(query, call.api)
    doc: dict[str, Any] = {"id": new_id(), "callback": callback, "query": query, "createdAt": times.now()}
    if body.get("secret"):
        doc["secret"] = str(body["secret"])
    async with call.gateway.transaction() as tx:
        await tx.create(HUB_KIND, doc["id"], stored(call.api, doc))
    return Reply(201, codec.dumps(public(doc)), [(b"location", call.href("hub", doc["id"]).encode())])


async def unregister_listener(call: Call) -> Reply:
    """``DELETE /hub/{id}``: 204, or 404 for an unknown subscription; its pending deliveries go."""
    async with call.gateway.transaction() as tx:
        raw = await tx.get(HUB_KIND, call.id, for_update=True)
        if raw is None or codec.loads(raw).get("api") != call.api.name:
            raise NotFound(f"No hub subscription with id {call.id} exists.")
        await tx.delete(HUB_KIND, call.id)
    await call.gateway.backend.drop_deliveries(call.id)
    return Reply(204)


async def retrieve_listener(call: Call) -> Reply:
    """``GET /hub/{id}`` where a spec has it."""
    raw = await call.gateway.backend.get(HUB_KIND, call.id)
    if raw is None or codec.loads(raw).get("api") != call.api.name:
        raise NotFound(f"No hub subscription with id {call.id} exists.")
    return Reply(200, codec.dumps(public(codec.loads(raw))))
