"""An API's other version, served over the stored documents of its home version (v5 beside v4).

A :class:`Face` turns a request of its version into one of the home version (body, JSON Patch paths,
query names), lets the home operation serve it, and turns the reply and each event back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import quote, unquote_plus

import jsonschema_rs
import orjson

from backends.base import ValueType
from tmfgate import codec, jsonpath
from tmfgate.calls import Reply
from tmfgate.errors import BadRequest, InvalidQuery
from tmfgate.faces import Node, Planner, Rule, collapsed, rules_of
from tmfgate.links import Links
from tmfgate.model import ApiModel, OperationModel, ResourceModel
from tmfgate.query import parameters
from tmfgate.schemas import Checks, compile_schema
from tmfgate.types import Document

_NOT_PATHS = frozenset({"offset", "limit", "before", "after", "filter", "depth", "expand"})
_OPERATOR = re.compile(r"^(.*?)((?:\.(?:gt|gte|lt|lte|eq|ne|regex))?)$")
_PATH_END = re.compile(r"[=<>!]")
DOCUMENT_VERBS = frozenset({"list", "retrieve", "create", "patch"})
HUB_VERBS = frozenset({"register", "subscription"})


class Face:
    """How one API's ``model`` (its v5 text) maps to the documents its ``home`` (v4) stores."""

    def __init__(self, home: ApiModel, model: ApiModel, table: Mapping[str, Any], links: Links | None = None) -> None:
        self.home, self.model = home, model
        self.version = model.spec.version
        planner = Planner(model.schemas, rules_of(table))
        resources = (table.get("apis") or {}).get(home.name) or {}
        # A face resource the home version names otherwise (TMF642 v5 ackAlarm is v4 ackAlarms).
        self.homes: dict[str, str] = {
            kind: str(rule["home"]) for kind, rule in resources.items() if isinstance(rule, dict) and "home" in rule
        }
        self.nodes: dict[str, Node] = {
            kind: planner.plan(resource.schema, Rule.of(resources.get(kind) or {}))
            for kind, resource in model.resources.items()
            if resource.schema is not None and kind != "hub"
        }
        self._resources: dict[str, FacedResource] = {}
        # Shared with the faces of the same version of the other APIs, whose hrefs lead to them too.
        self.links = links or Links()
        self.links.add(home.base_path, model.base_path, {home: kind for kind, home in self.homes.items()})

    # Operations

    def operation(self, op: OperationModel) -> OperationModel | None:
        """The home operation serving a face operation: same resource, same verb; None when the home
        API lacks the resource (the face then serves it on its own). The hub is always the face's."""
        kind = op.resource.kind
        if kind == "hub":
            return replace(op, api=self.home.name)
        kind = self.homes.get(kind, kind)
        if kind not in self.home.resources:
            return None
        same = (home for home in self.home.operations.values() if home.resource.kind == kind and home.verb == op.verb)
        found = next(same, None) or replace(op, api=self.home.name)
        return replace(found, resource=self.resource(kind))

    def resource(self, kind: str) -> FacedResource:
        """The home resource as calls through this face see it (built once per resource)."""
        found = self._resources.get(kind)
        if found is None:
            home, own = self.home.resources[kind], self.model.resources.get(kind)
            found = FacedResource(**{f.name: getattr(home, f.name) for f in fields(ResourceModel)})
            found.face_resource, found.node = own, self.node(kind)
            if home.validator is not None and own is not None and own.schema is not None:
                mine = compile_schema(own.schema, self.model.spec.document)
                found.validator = EitherVersion(
                    home.validator, mine, lambda doc: self.outward(kind, codec.loads(codec.dumps(doc)))
                )
            self._resources[kind] = found
        return found

    # Documents

    def node(self, kind: str) -> Node:
        """The node of a face resource, found by its name or by its home's (the home operation serving
        v5 ``ackAlarm`` names ``ackAlarms``: its documents map through the face's node all the same)."""
        found = self.nodes.get(kind)
        if found is None:
            found = next((self.nodes.get(face) for face, home in self.homes.items() if home == kind), None)
        return found or Node()

    def outward(self, kind: str, doc: Any) -> Any:
        """A stored document (or a list of them) as this face shows it."""
        if isinstance(doc, list):
            return [self.outward(kind, item) for item in doc]
        shown = self.node(kind).outward(doc)
        if isinstance(shown, dict) and isinstance(shown.get("href"), str):
            shown["href"] = self.href(shown["href"])
        return shown

    def inward(self, kind: str, body: Any, media_type: str | None) -> Any:
        """A request body of this face in stored names (a JSON Patch's paths and values too)."""
        node = self.node(kind)
        if media_type is not None and "json-patch" in media_type and isinstance(body, list):
            return [self._operation(node, operation) for operation in body]
        return node.inward(body)

    def _operation(self, node: Node, operation: Any) -> Any:
        if not isinstance(operation, dict):
            return operation
        result = dict(operation)
        target: Node | None = None
        for key in ("path", "from"):
            if isinstance(operation.get(key), str):
                result[key], found = stored_target(node, operation[key])
                target = found if key == "path" else target
        if "value" in operation and target is not None:
            result["value"] = target.inward(operation["value"])
        return result

    def href(self, href: str) -> str:
        """An href of a stored document as this face shows it (:mod:`tmfgate.links`)."""
        return self.links.href(href, self.home.base_path)

    # Queries

    def query(self, kind: str, raw: str) -> str:
        """A list or retrieve query in stored names: filters, ``fields`` and ``sort`` (TMF630)."""
        node = self.node(kind)
        return "&".join(_stored_part(node, part) for part in parameters(raw))

    def subscription_query(self, raw: str) -> str:
        """A hub ``query`` in stored names: ``event.{kind}.{path}`` filters and fields."""

        def stored(path: tuple[str, ...]) -> tuple[str, ...]:
            if len(path) > 2 and path[0] == "event":
                return path[:2] + self.node(path[1]).stored_path(path[2:])
            return path

        def spelled(path: tuple[str, ...], value: str) -> str:
            return self.node(path[1]).stored_value(path[2:], value) if len(path) > 2 and path[0] == "event" else value

        return "&".join(_rewritten(part, stored, spelled) for part in raw.split("&") if part)

    # Replies and events

    def reply(self, op: OperationModel, reply: Reply) -> Reply:
        """The home operation's reply as this face answers it."""
        headers = [(k, self.href(v.decode()).encode()) if k == b"location" else (k, v) for k, v in reply.headers]
        if reply.body is None or reply.status >= 300:
            return Reply(reply.status, reply.body, headers)
        if op.verb in DOCUMENT_VERBS:
            stored = reply.document if reply.document is not None else codec.loads(reply.body)
            shown = codec.dumps(self.outward(op.resource.kind, stored))
            return Reply(reply.status, self._hrefs(shown), headers)
        if op.verb in HUB_VERBS:
            hub: Document = codec.loads(reply.body)
            hub.setdefault("@type", "Hub")
            return Reply(reply.status, codec.dumps(hub), headers)
        return Reply(reply.status, reply.body, headers)

    def event(self, body: bytes) -> bytes:
        """An event as stored (in the home version's envelope) in this face's envelope (TMF630 v5)."""
        envelope: Document = orjson.loads(body)
        stamp = envelope.pop("timeOcurred", None) or envelope.get("eventTime")
        envelope.pop("fieldPath", None)
        content = envelope.pop("event", {})
        self._rename_type(envelope)
        envelope.update({"timeOccurred": stamp, "@type": envelope.get("eventType"), "@baseType": "Event"})
        faced = {home: kind for kind, home in self.homes.items()}
        envelope["event"] = {
            faced.get(kind, kind): self.outward(faced.get(kind, kind), doc) for kind, doc in content.items()
        }
        return self._hrefs(orjson.dumps(envelope))

    def _hrefs(self, body: bytes) -> bytes:
        """The ``href`` of every object in ``body`` that names a home version with a face of this version
        instead: the references a home handler wrote (a v5 ackAlarm's alarms, an order item's product)."""
        return self.links.shown(body)

    def _rename_type(self, envelope: Document) -> None:
        """The event type of a resource this face names otherwise in the face's name (TMF642 v5
        ``AckAlarmCreateEvent`` for v4 ``AckAlarmsCreateEvent``), in its title too."""
        event_type = str(envelope.get("eventType") or "")
        renamed = _renamed(event_type, ((home, own) for own, home in self._type_names()))
        if renamed != event_type:
            envelope["eventType"] = renamed
            if envelope.get("title") == event_type:
                envelope["title"] = renamed

    def home_event_type(self, event_type: str) -> str:
        """The stored name of an event type this face names otherwise: a face's hub subscribers name
        the face's types in their queries."""
        return _renamed(event_type, self._type_names())

    def _type_names(self) -> Iterator[tuple[str, str]]:
        """(face type name, home type name) of each resource this face names otherwise."""
        for kind, home_kind in self.homes.items():
            home, own = self.home.resources.get(home_kind), self.model.resources.get(kind)
            if home is not None and own is not None:
                yield own.type_name, home.type_name


def _renamed(event_type: str, names: Iterable[tuple[str, str]]) -> str:
    """``event_type`` with its resource's type name changed by the first (from, to) pair it starts with."""
    for old, new in names:
        suffix = event_type[len(old) :] if event_type.startswith(old) else ""
        if suffix[:1].isupper() and suffix.endswith("Event"):
            return new + suffix
    return event_type


@dataclass
class FacedResource(ResourceModel):
    """A home resource as a face's calls see it: the attributes of either version can be queried."""

    face_resource: ResourceModel | None = None
    node: Node = field(default_factory=Node)

    def attribute_kind(self, path: tuple[str, ...]) -> ValueType | None:
        kind = super().attribute_kind(path)
        if kind is None and self.face_resource is not None:
            return self.face_resource.attribute_kind(self.node.face_path(path))
        return kind

    def attribute_known(self, path: tuple[str, ...]) -> bool | None:
        known = super().attribute_known(path)
        if not known and self.face_resource is not None:
            return self.face_resource.attribute_known(self.node.face_path(path)) or known
        return known


@dataclass(eq=False)
class Listed(Node):
    """A JSON Patch value for a whole face list that the store keeps as one string (``listed``)."""

    key: str = "id"

    def inward(self, value: Any) -> Any:
        return collapsed(super().inward(value), self.key)


class EitherVersion:
    """A patched document is valid when the home version's schema or the face's accepts it: a document
    one version wrote need not hold what only the other version requires."""

    def __init__(self, home: Checks, face: Checks, shown: Callable[[Any], Any]) -> None:
        self.home, self.face, self.shown = home, face, shown

    def is_valid(self, instance: Any) -> bool:
        return self.home.is_valid(instance) or self.face.is_valid(self.shown(instance))

    def iter_errors(self, instance: Any) -> Iterator[jsonschema_rs.ValidationError]:
        return self.face.iter_errors(self.shown(instance))


def stored_pointer(node: Node, pointer: str) -> tuple[str, Node | None]:
    """A JSON Pointer of the face in stored names, and the node of what it points at."""
    segments = [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]
    out: list[str] = []
    current: Node | None = node
    i = 0
    while i < len(segments):
        if segments[i].isdigit() or segments[i] == "-":
            out.append(segments[i])
            i += 1
            continue
        run = segments[i:]
        run = run[: next((n for n, s in enumerate(run) if s.isdigit() or s == "-"), len(run))]
        head, used = (
            current.rule.stored_path(tuple(run)) if current is not None and current.rule is not None else ((run[0],), 1)
        )
        key = current.rule.listed_key(head) if current is not None and current.rule is not None else None
        out.extend(head)
        if current is not None and key is not None:
            return _listed_pointer(pointer, out, current.children.get(run[0]), key, segments[i:], used)
        current = current.children.get(run[0]) if current is not None and used == 1 else None
        i += used
    return _escaped(out), current


def _escaped(names: list[str]) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in names)


def _listed_pointer(
    pointer: str, stored: list[str], item: Node | None, key: str, rest: list[str], used: int
) -> tuple[str, Node | None]:
    """A pointer into a face list that the store keeps as one string (v5 ``externalIdentifier`` is
    v4 ``externalId``): the whole list, or the one object's ``key``; no other element has room."""
    if used == 1 and len(rest) == 1:
        return _escaped(stored), Listed(item.rule, item.children, key) if item is not None else Listed(key=key)
    if used == 1 and rest[1:] == ["0", key]:
        return _escaped(stored), None
    raise BadRequest(
        f"The JSON Patch path {pointer!r} has no stored counterpart: the {rest[0]} list holds one object, "
        f"kept as {'/'.join(stored)}. Patch /{rest[0]}/0/{key}, or the whole /{rest[0]}."
    )


def stored_target(node: Node, path: str) -> tuple[str, Node | None]:
    """A JSON Patch (Query) path of the face in stored names (TMF630 Part 5 and 6), and its node."""
    if path.startswith("$") or (not path.startswith("/") and "[?(" in path):
        expression = jsonpath.parse(path, selection=True)
        names = expression.path + (("0", *expression.rest) if expression.predicate is not None else ())
        target = stored_pointer(node, "".join("/" + name for name in names))[1]
        return jsonpath.render(stored_expression(node, expression)), target
    pointer, mark, query = path.partition("?")
    stored, target = stored_pointer(node, pointer)
    if not mark:
        return stored, target
    head = tuple(pointer.split("/")[1:2])
    element = node.at(head) or Node()

    def renamed(names: tuple[str, ...]) -> tuple[str, ...]:
        # A query names the array's attributes in full (relatedParty.role) or from its element (role).
        return node.stored_path(names) if names[:1] == head else element.stored_path(names)

    slashed = query.startswith("/")
    parts = (part.lstrip("/").replace("/", ".") if slashed else part for part in query.split("&") if part)
    return stored + "?" + "&".join(_rewritten(part, renamed) for part in parts), target


def stored_expression(node: Node, expression: jsonpath.JsonPath) -> jsonpath.JsonPath:
    """A JSON Path of the face with its paths in stored names.

    A comparison whose attribute moved into the element's parent object (v5
    ``relatedParty.partyOrPartyRole[?(@.id=='1')]`` is v4 ``relatedParty[?(@.id=='1')]``) makes the
    filtered path the longest path all the stored ones share.
    """
    array = node.stored_path(expression.path)
    if expression.predicate is None:
        return jsonpath.with_paths(expression, array, [])
    full = [node.stored_path(expression.path + item.path) for item in expression.predicate]
    rest = node.stored_path(expression.path + expression.rest) if expression.rest else None
    common = array
    for path in [*full, *([rest] if rest is not None else [])]:
        length = next(
            (n for n, (a, b) in enumerate(zip(common, path, strict=False)) if a != b), min(len(common), len(path))
        )
        common = common[:length]
    relative = [path[len(common) :] for path in full]
    if not common or not all(relative):
        raise InvalidQuery(f"The JSON Path {jsonpath.render(expression)!r} has no stored counterpart; filter an array.")
    return jsonpath.with_paths(expression, common, relative, rest[len(common) :] if rest is not None else ())


def _stored_part(node: Node, part: str) -> str:
    text = unquote_plus(part)
    if text.startswith("filter="):
        expression = jsonpath.parse(text[len("filter=") :])
        stored = _stored_literals(node, expression, stored_expression(node, expression))
        return "filter=" + quote(jsonpath.render(stored), safe="$.[]?()@'=<>!~")
    return _rewritten(part, node.stored_path, node.stored_value)


def _stored_literals(node: Node, face: jsonpath.JsonPath, stored: jsonpath.JsonPath) -> jsonpath.JsonPath:
    """``stored`` with the string literals of its comparisons spelled as stored (see Node.stored_value)."""
    if face.predicate is None or stored.predicate is None:
        return stored
    items = tuple(
        replace(item, value=node.stored_value(face.path + mine.path, item.value))
        if isinstance(item.value, str) and not item.regex
        else item
        for mine, item in zip(face.predicate, stored.predicate, strict=True)
    )
    return replace(stored, predicate=items)


def _rewritten(part: str, stored: Any, spelled: Callable[[tuple[str, ...], str], str] | None = None) -> str:
    """One ``key=value`` of a query with its attribute paths in stored names."""
    text = unquote_plus(part)
    end = _PATH_END.search(text)
    key, rest = (text[: end.start()], text[end.start() :]) if end else (text, "")
    if key in _NOT_PATHS:
        return part
    if key in ("fields", "sort") and rest.startswith("="):
        items = [_stored_item(item, stored) for item in rest[1:].split(",")]
        return quote(key + "=" + ",".join(items), safe=",=.@-")
    matched = _OPERATOR.match(key)
    path, operator = (matched[1], matched[2]) if matched else (key, "")
    if not path:
        return part
    if spelled is not None and rest.startswith("=") and operator != ".regex":
        # An enumerated value the versions spell differently, in a filter's value list (TMF630).
        names = tuple(path.split("."))
        rest = "=" + ",".join(spelled(names, value) for value in rest[1:].split(","))
    return quote(".".join(stored(tuple(path.split(".")))) + operator + rest, safe=",=.@<>!-")


def _stored_item(item: str, stored: Any) -> str:
    sign = item[:1] if item[:1] in "+-" else ""
    path = item[len(sign) :].strip()
    return sign + ".".join(stored(tuple(path.split(".")))) if path else item
