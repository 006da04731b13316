"""The events a change raises, in the envelope of the API's version (TMF630 Part 1 §10, TMF688).

Create raises ``{Type}CreateEvent``; a change of ``state`` (or ``status``, ``resourceStatus``,
``lifecycleStatus``) raises ``{Type}StateChangeEvent`` (``StatusChangeEvent`` where the spec names
it so), and entering ``pending`` also ``{Type}InformationRequiredEvent``, entering ``resolved``
``{Type}ResolvedEvent``, where the spec defines them; any other change raises
``{Type}AttributeValueChangeEvent`` naming the changed attributes in ``fieldPath``; a spec that
defines only ``{Type}ChangeEvent`` (TMF633) gets that for both kinds of change. As in
the TM Forum reference implementation, a change that includes the state is a state change only:
the attributes that move with it (``completionDate``, ``cancellationDate``, ...) belong to it, and
the event carries the whole resource anyway. Delete raises ``{Type}DeleteEvent``. Each carries the whole resource under
``event.{kind}``. Events are built inside the change's transaction and stored with it (outbox).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from backends.base import Event, Transaction
from tmfgate import codec, times, tracing
from tmfgate.ids import new_id
from tmfgate.model import ApiModel, ResourceModel
from tmfgate.types import Document

# Attributes the server rewrites on every change; a change to them alone is not an event.
_BOOKKEEPING = frozenset({"lastUpdate", "lastModified"})
# The attribute that holds a resource's state, by API: most have ``state``, some ``status``,
# TMF639 resources ``resourceStatus``.
STATE_ATTRIBUTES = ("state", "status", "resourceStatus", "lifecycleStatus")
# The events entering a state raises besides the state change, where the spec defines them (TMF622's
# and TMF621's InformationRequiredEvent, TMF621's ResolvedEvent).
_ENTERING = (("pending", "InformationRequiredEvent"), ("resolved", "ResolvedEvent"))


class EventBuilder:
    """Builds the events of one API, knowing which event schemas its spec defines."""

    def __init__(self, api: ApiModel) -> None:
        self.api = api
        self.defined = frozenset(
            n for n in api.spec.document.get("components", {}).get("schemas", {}) if n.endswith("Event")
        )
        self.version = str(api.spec.document.get("info", {}).get("version", "4")).split(".", 1)[0]
        self.domain = domain_of(api)
        self._tails: dict[str, bytes] = {}  # kind -> the JSON between the envelope and the resource

    # ``raw`` is the document as stored, when the caller has encoded it already: the envelope is
    # then written around those bytes instead of encoding the whole resource a second time.

    def created(
        self, resource: ResourceModel, doc: Document, correlation: str, *, raw: bytes | None = None
    ) -> list[Event]:
        return [self._event(resource, "CreateEvent", doc, correlation, raw)]

    def deleted(
        self, resource: ResourceModel, doc: Document, correlation: str, *, raw: bytes | None = None
    ) -> list[Event]:
        return [self._event(resource, "DeleteEvent", doc, correlation, raw)]

    def changed(
        self, resource: ResourceModel, old: Document, new: Document, correlation: str, *, raw: bytes | None = None
    ) -> list[Event]:
        """StateChange, AttributeValueChange and InformationRequired events, as the change calls for."""
        events: list[Event] = []
        field = next((name for name in STATE_ATTRIBUTES if name in new or name in old), "state")
        if old.get(field) != new.get(field):
            name = (
                "StatusChangeEvent" if f"{resource.type_name}StatusChangeEvent" in self.defined else "StateChangeEvent"
            )
            events.append(self._event(resource, self._named(resource, name), new, correlation, raw))
            for state, suffix in _ENTERING:
                if new.get(field) == state and f"{resource.type_name}{suffix}" in self.defined:
                    events.append(self._event(resource, suffix, new, correlation, raw))
            return events
        attributes = changed_attributes(old, new) - _BOOKKEEPING
        if attributes:
            events.append(
                self._event(
                    resource,
                    self._named(resource, "AttributeValueChangeEvent"),
                    new,
                    correlation,
                    raw,
                    field_path=",".join(sorted(attributes)),
                )
            )
        return events

    def _named(self, resource: ResourceModel, suffix: str) -> str:
        """``suffix``, or ``ChangeEvent`` where the spec defines only ``{Type}ChangeEvent`` for changes (TMF633)."""
        type_name = resource.type_name
        if f"{type_name}{suffix}" not in self.defined and f"{type_name}ChangeEvent" in self.defined:
            return "ChangeEvent"
        return suffix

    def _event(
        self,
        resource: ResourceModel,
        suffix: str,
        doc: Document,
        correlation: str,
        raw: bytes | None = None,
        field_path: str | None = None,
    ) -> Event:
        event_type = resource.type_name + suffix
        moment, stamp = times.instant()
        event_id = new_id()
        envelope: Document = {
            "eventId": event_id,
            "eventTime": stamp,
            "eventType": event_type,
            "correlationId": correlation,
            "domain": self.domain,
            "title": event_type,
            "description": f"{event_type} for {resource.kind} {doc.get('id')}",
        }
        if self.version == "4":
            envelope["timeOcurred"] = stamp  # sic: the v4 schemas spell it so
            if field_path is not None:
                envelope["fieldPath"] = field_path
        else:
            envelope.update({"timeOccurred": stamp, "@type": event_type, "@baseType": "Event"})
        # The same bytes as encoding the envelope with ``"event": {kind: doc}`` as its last member,
        # in parts: the stored bytes of the resource go in as they are, for the store to share.
        return Event(
            id=event_id,
            api=self.api.name,
            kind=resource.kind,
            resource_id=str(doc.get("id")),
            type=event_type,
            time=moment,
            head=orjson.dumps(envelope)[:-1] + self._tail(resource.kind),
            document=codec.dumps(doc) if raw is None else raw,
            tail=b"}}",
        )

    def _tail(self, kind: str) -> bytes:
        tail = self._tails.get(kind)
        if tail is None:
            tail = self._tails[kind] = b',"event":{' + orjson.dumps(kind) + b":"
        return tail


class EventLog:
    """The events of every served API, recorded in the transaction of the change they describe.

    A change to a resource several APIs serve with the same events (a service is in TMF638 and
    TMF640 alike) stores its events once, under the first of them by name (:func:`shared_kinds`):
    each other API's subscribers hear of it in their API's envelope (:func:`in_domain`). An API
    that raises other events for the resource stores its own.
    """

    def __init__(self, apis: list[ApiModel]) -> None:
        shared = shared_kinds(apis)
        self._by_kind = {
            kind: [(b, r) for b, r in builders if (b.api.name, kind) not in shared]
            for kind, builders in _builders(apis).items()
        }

    # ``owner``: the partner the resource belongs to, whose hub subscriptions alone receive the events.

    async def created(
        self, tx: Transaction, kind: str, doc: Document, correlation: str, raw: bytes, owner: str | None = None
    ) -> None:
        for builder, resource in self._by_kind.get(kind, ()):
            for event in builder.created(resource, doc, correlation, raw=raw):
                await tx.add_event(event if owner is None else event._replace(owner=owner))
                tracing.wrote((event,), correlation)

    async def created_many(
        self, tx: Transaction, kind: str, docs: Sequence[tuple[Document, bytes]], correlation: str, owner: str | None
    ) -> None:
        """The create events of new documents ``(document, JSON)``, recorded together."""
        found = [
            event if owner is None else event._replace(owner=owner)
            for doc, raw in docs
            for builder, resource in self._by_kind.get(kind, ())
            for event in builder.created(resource, doc, correlation, raw=raw)
        ]
        await tx.add_events(found)
        tracing.wrote(found, correlation)

    async def changed(
        self,
        tx: Transaction,
        kind: str,
        old: Document,
        new: Document,
        correlation: str,
        raw: bytes,
        owner: str | None = None,
    ) -> None:
        for builder, resource in self._by_kind.get(kind, ()):
            for event in builder.changed(resource, old, new, correlation, raw=raw):
                await tx.add_event(event if owner is None else event._replace(owner=owner))
                tracing.wrote((event,), correlation)

    async def changed_many(
        self,
        tx: Transaction,
        kind: str,
        changes: Sequence[tuple[Document, Document, bytes, str | None]],
        correlation: str,
    ) -> None:
        """The events of changed documents ``(old, new, new JSON, owner)``, recorded together."""
        found = [
            event if owner is None else event._replace(owner=owner)
            for old, new, raw, owner in changes
            for builder, resource in self._by_kind.get(kind, ())
            for event in builder.changed(resource, old, new, correlation, raw=raw)
        ]
        await tx.add_events(found)
        tracing.wrote(found, correlation)

    async def deleted(
        self, tx: Transaction, kind: str, old: Document, correlation: str, owner: str | None = None
    ) -> None:
        for builder, resource in self._by_kind.get(kind, ()):
            for event in builder.deleted(resource, old, correlation):
                await tx.add_event(event if owner is None else event._replace(owner=owner))
                tracing.wrote((event,), correlation)


def _builders(apis: list[ApiModel]) -> dict[str, list[tuple[EventBuilder, ResourceModel]]]:
    """The builders raising each kind's events, and the resource they raise them for."""
    by_kind: dict[str, list[tuple[EventBuilder, ResourceModel]]] = {}
    for api in apis:
        builder = EventBuilder(api)
        for kind, resource in api.resources.items():
            if kind != "hub":
                by_kind.setdefault(kind, []).append((builder, resource))
        # A resource only another version of the API has (tmfgate.versions) raises that version's events.
        for faced in api.faces.values():
            own = EventBuilder(faced)
            for kind, resource in faced.resources.items():
                if kind != "hub" and kind not in api.resources:
                    by_kind.setdefault(kind, []).append((own, resource))
    return by_kind


def shared_kinds(apis: list[ApiModel]) -> dict[tuple[str, str], str]:
    """(API, kind) of each resource whose events another API stores for it, with that API's name.

    The first API by name serving a kind stores its events; another shares them when it raises the
    same events: the same version, resource type and event schemas for it, so only the envelope's
    ``domain`` differs. The hub's reactions take each event type from the first API by name too
    (tmfgate.notifications.reactions).
    """
    found: dict[tuple[str, str], str] = {}
    served: dict[str, list[ApiModel]] = {}
    for api in apis:
        for kind in api.resources:
            if kind != "hub":
                served.setdefault(kind, []).append(api)
    for kind, serving in served.items():
        if len(serving) < 2:
            continue
        home, *others = sorted(serving, key=lambda api: api.name)
        for other in others:
            if _same_events(home, other, kind):
                found[(other.name, kind)] = home.name
    return found


def _same_events(one: ApiModel, other: ApiModel, kind: str) -> bool:
    def events_of(api: ApiModel) -> tuple[str, str, frozenset[str]]:
        type_name = api.resources[kind].type_name
        schemas = api.spec.document.get("components", {}).get("schemas", {})
        named = frozenset(n for n in schemas if n.startswith(type_name) and n.endswith("Event"))
        return str(api.spec.document.get("info", {}).get("version", "4")).split(".", 1)[0], type_name, named

    return events_of(one) == events_of(other)


def domain_of(api: ApiModel) -> str:
    """The ``domain`` of the API's event envelopes: its base path's next to last segment."""
    parts = [p for p in api.base_path.split("/") if p]
    return parts[-2] if len(parts) >= 2 else api.name


def in_domain(body: bytes, domain: str) -> bytes:
    """An event stored for another API (:func:`shared_kinds`) in the envelope of the API of ``domain``."""
    envelope = orjson.loads(body)
    if isinstance(envelope, dict) and "domain" in envelope:
        envelope["domain"] = domain
    return orjson.dumps(envelope)


def changed_attributes(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    """Top-level attributes added, removed or given another value."""
    return {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
