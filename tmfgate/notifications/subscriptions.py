"""Hub subscriptions (TMF630 Part 1 §10): what each listener receives, and how they are stored.

A subscription's ``query`` selects events: empty means every event of the API; ``eventType=A,B``
(or the key repeated) selects types; ``event.``-prefixed filters use the list filter grammar on
the event's content (``event.productOrder.state=completed``); ``fields=`` trims the payload
(``fields=event.productOrder.id``), always keeping the envelope's ``eventId``, ``eventTime`` and
``eventType``. A query is parsed when the subscription is made, so a bad one is a 400 then.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote

from backends import matching
from backends.base import Backend, Condition, Event, Query, ValueType
from tmfgate import codec, times
from tmfgate.errors import InvalidQuery
from tmfgate.events import domain_of, in_domain, shared_kinds
from tmfgate.model import ApiModel
from tmfgate.query import parse_query, project

log = logging.getLogger("tmfgate.subscriptions")
ENVELOPE = ("eventId", "eventTime", "eventType")
_PRIVATE = ("secret", "createdAt", "api", "owner", "version", "storedQuery")  # stored with a subscription, never shown
# Every API's subscriptions live in one kind, each naming its API: the dispatcher reads them all
# with one query, which it does after every fan-out (see EventDispatcher._catch_up).
HUB_KIND = "tmfgate:hub"
ANY_TYPE = "*"  # in a subscription's sources, (api, ANY_TYPE) takes every event of that API


@dataclass(frozen=True)
class Subscription:
    """A stored hub subscription, parsed: where to send, and which events."""

    id: str
    api: str | None  # None for the gateway's own subscriptions, which take events of any API
    callback: str
    secret: str | None
    event_types: frozenset[str] | None
    conditions: tuple[Condition, ...]
    fields: tuple[tuple[str, ...], ...] | None
    created_at: str
    # The gateway's own listeners (tmfgate.notifications.reactions) are awaited instead of posted to;
    # they take events by (api, eventType) pairs, each change once although several APIs announce it,
    # and are told whether this attempt is the last before the delivery is parked.
    reaction: Callable[[Event, bool], Awaitable[None]] | None = field(default=None, compare=False)
    sources: frozenset[tuple[str, str]] | None = field(default=None, compare=False)
    owner: str | None = None  # a partner's subscription receives only the events of its own resources
    # A subscription made through another version of the API (tmfgate.versions) gets each event
    # rendered in that version's envelope and names.
    render: Callable[[bytes], bytes] | None = field(default=None, compare=False)
    # The (API, kind) pairs whose events another API stores for this one too (tmfgate.events.shared_kinds),
    # and this API's envelope ``domain`` they are rewritten to.
    shared: frozenset[tuple[str, str]] = frozenset()
    domain: str | None = None

    def accepts(self, event: Event, document: Any = None) -> bool:
        """Whether this subscription receives ``event`` (``document``: its parsed body, if at hand)."""
        if self.sources is not None:
            return (event.api, event.type) in self.sources or (event.api, ANY_TYPE) in self.sources
        if (event.api != self.api and (event.api, event.kind) not in self.shared) or times.stamp(
            event.time
        ) < self.created_at:
            return False
        if self.owner is not None and event.owner != self.owner:
            return False
        if self.event_types is not None and event.type not in self.event_types:
            return False
        if not self.conditions:
            return True
        return matching.matches(self.conditions, document if document is not None else codec.loads(event.body))

    def payload(self, event: Event) -> bytes:
        """The notification body this subscriber receives."""
        body = event.body
        if event.api != self.api and self.domain is not None:  # stored once for this API and another
            body = in_domain(body, self.domain)
        if self.fields is not None:
            body = codec.dumps(project(codec.loads(body), self.fields, always=ENVELOPE))
        return body if self.render is None else self.render(body)


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
    known = event_types(api)
    unknown = sorted(types - known)
    if unknown:
        raise InvalidQuery(
            f"{', '.join(unknown)} is not an event of this API; its events are {', '.join(sorted(known))}."
        )

    def kind_of(path: tuple[str, ...]) -> ValueType | None:
        resource = api.resources.get(path[1]) if len(path) > 2 and path[0] == "event" else None
        return resource.attribute_kind(path[2:]) if resource is not None else None

    return (frozenset(types) or None), parse_query("&".join(rest), attribute_kind=kind_of)


def event_types(api: ApiModel) -> set[str]:
    """The events the gateway raises for this API's resources, and those its spec names."""
    names = {n for n in api.spec.document.get("components", {}).get("schemas", {}) if n.endswith("Event")}
    for faced in api.faces.values():  # the API's other versions hear of the same changes
        names |= event_types(faced)
    for resource in api.resources.values():
        if resource.kind != "hub":
            names.update(
                resource.type_name + suffix
                for suffix in ("CreateEvent", "AttributeValueChangeEvent", "StateChangeEvent", "DeleteEvent")
            )
    return names


def from_document(
    api: ApiModel, doc: dict[str, Any], shared: Mapping[tuple[str, str], str] | None = None
) -> Subscription:
    """The subscription ``doc`` stores; ``shared``: :func:`tmfgate.events.shared_kinds` of the APIs served."""
    types, query = parse(str(doc.get("storedQuery", doc.get("query")) or ""), api)
    faced = api.faces.get(str(doc.get("version")))
    if faced is not None and types is not None:  # the face's names of the events, as they are stored
        types = frozenset(faced.face.home_event_type(name) for name in types)
    heard = frozenset((home, kind) for (name, kind), home in (shared or {}).items() if name == api.name)
    return Subscription(
        id=doc["id"],
        api=api.name,
        callback=doc["callback"],
        secret=doc.get("secret"),
        event_types=types,
        conditions=query.conditions,
        fields=query.fields,
        created_at=str(doc.get("createdAt", "")),
        owner=doc.get("owner"),
        render=faced.face.event if faced is not None else None,
        shared=heard,
        domain=domain_of(api) if heard else None,
    )


async def load_all(backend: Backend, apis: list[ApiModel]) -> dict[str, Subscription]:
    """Every stored subscription of the APIs served, by id."""
    by_name = {api.name: api for api in apis}
    shared = shared_kinds(apis)
    found: dict[str, Subscription] = {}
    for raw in (await backend.query(HUB_KIND, Query())).items:
        doc = codec.loads(raw)
        api = by_name.get(str(doc.get("api")))
        if api is None:
            continue  # an API this process does not serve (another gateway's spec set)
        try:
            subscription = from_document(api, doc, shared)
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


def accepting(candidates: list[Subscription], event: Event) -> list[str]:
    """The ids of the subscriptions that accept ``event``, parsing its body once, if a query needs it.

    A route that raises rolls the whole fan-out back, so one event that cannot be evaluated would
    stop every delivery: it goes only to the subscriptions that can take it, and is logged.
    """
    document = None
    if any(s.conditions for s in candidates):
        try:
            document = codec.loads(event.body)
        except ValueError:
            log.error("Event %s has a body that is not JSON; only subscriptions without filters get it.", event.id)
            candidates = [s for s in candidates if not s.conditions]
    accepted = []
    for subscription in candidates:
        try:
            if subscription.accepts(event, document):
                accepted.append(subscription.id)
        except Exception:
            log.exception("Subscription %s cannot evaluate event %s; it does not get it.", subscription.id, event.id)
    return accepted


def among(events: list[Event]) -> Callable[[Event], bool]:
    """Whether an event is one of ``events``."""
    ids = {event.id for event in events}
    return lambda event: event.id in ids
