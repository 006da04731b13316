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

from collections.abc import Mapping
from typing import Any

import orjson

from backends.base import Event, Transaction
from tmfgate import codec, times
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
        parts = [p for p in api.base_path.split("/") if p]
        self.domain = parts[-2] if len(parts) >= 2 else api.name
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

    One change raises each event once per API that serves the resource (a service is in TMF638 and
    TMF640 alike), so each API's subscribers hear of it in their API's terms.
    """

    def __init__(self, apis: list[ApiModel]) -> None:
        self._by_kind: dict[str, list[tuple[EventBuilder, ResourceModel]]] = {}
        for api in apis:
            builder = EventBuilder(api)
            for kind, resource in api.resources.items():
                if kind != "hub":
                    self._by_kind.setdefault(kind, []).append((builder, resource))
            # A resource only another version of the API has (tmfgate.versions) raises that version's events.
            for faced in api.faces.values():
                own = EventBuilder(faced)
                for kind, resource in faced.resources.items():
                    if kind != "hub" and kind not in api.resources:
                        self._by_kind.setdefault(kind, []).append((own, resource))

    # ``owner``: the partner the resource belongs to, whose hub subscriptions alone receive the events.

    async def created(
        self, tx: Transaction, kind: str, doc: Document, correlation: str, raw: bytes, owner: str | None = None
    ) -> None:
        for builder, resource in self._by_kind.get(kind, ()):
            for event in builder.created(resource, doc, correlation, raw=raw):
                await tx.add_event(event if owner is None else event._replace(owner=owner))

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

    async def deleted(
        self, tx: Transaction, kind: str, old: Document, correlation: str, owner: str | None = None
    ) -> None:
        for builder, resource in self._by_kind.get(kind, ()):
            for event in builder.deleted(resource, old, correlation):
                await tx.add_event(event if owner is None else event._replace(owner=owner))


def changed_attributes(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    """Top-level attributes added, removed or given another value."""
    return {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
