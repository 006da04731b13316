"""Minimal valid request bodies built from a create schema: its required attributes, recursively."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from conformance.openapi import Documents, Schema, class_of, flatten, ref_name, schema_type

MAX_DEPTH = 8

# The class a party reference points to when the schema does not say: the CTK sends ``Individual``.
_REFERRED_DEFAULTS = {
    "RelatedParty": "Individual",
    "PartyRef": "Individual",
    "RelatedPartyRefOrPartyRoleRef": "Individual",
}

_STRING_FORMATS = {
    "date-time": "2030-01-15T10:00:00Z",
    "date": "2030-01-15",
    "time": "10:00:00Z",
    "uri": "https://example.com/conformance",
    "url": "https://example.com/conformance",
    "uri-reference": "https://example.com/conformance",
    "email": "conformance@example.com",
    "ipv4": "192.0.2.1",
}


def build_payload(docs: Documents, schema: Any, type_name: str | None = None) -> dict[str, Any]:
    """A body with only the required attributes of ``schema``, and ``@type`` when the schema has it."""
    builder = _Builder(docs)
    value = builder.build(schema, 0, hint="")
    if not isinstance(value, dict):
        return {}
    flat = flatten(docs, builder.choose(schema))
    if "@type" in (flat.get("properties") or {}) or "@type" in (flat.get("required") or []):
        # @type names the class of the instance (TMF630 Part 2); v5 requires it, v4 allows it.
        value["@type"] = builder.subclass or type_name or type_value(docs, schema)
    return value


def type_value(docs: Documents, schema: Any) -> str:
    """The ``@type`` of an instance of ``schema``: its discriminator name, enum, or schema name."""
    name = ref_name(schema)
    flat = flatten(docs, schema)
    type_prop = flatten(docs, (flat.get("properties") or {}).get("@type"))
    if type_prop.get("enum"):
        return str(type_prop["enum"][0])
    mapping = (flat.get("discriminator") or {}).get("mapping") or {}
    for key, target in mapping.items():
        if name and str(target).rsplit("/", 1)[-1] == name:
            return str(key)
    return class_of(name) if name else "Entity"


def referred_type_value(docs: Documents, schema: Any) -> str:
    """The ``@referredType`` of a reference: its enum, or the referred class named by the ref schema."""
    flat = flatten(docs, schema)
    prop = flatten(docs, (flat.get("properties") or {}).get("@referredType"))
    if prop.get("enum"):
        return str(prop["enum"][0])
    name = class_of(ref_name(schema) or "")
    if name in _REFERRED_DEFAULTS:
        return _REFERRED_DEFAULTS[name]
    for suffix in ("RefOrValue", "Ref"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name or "Entity"


def _is_reference(schema: Any, properties: dict[str, Any]) -> bool:
    """A reference names what it points to; v5 ``RelatedPartyRefOrPartyRoleRef`` ends in Ref but holds
    its reference in ``partyOrPartyRole``, and an id beside it would be no attribute of it."""
    name = class_of(ref_name(schema) or "")
    return "@referredType" in properties or (name.endswith("Ref") and bool({"id", "href"} & set(properties)))


class _Builder:
    """Walks a schema and produces the smallest value it accepts."""

    def __init__(self, docs: Documents) -> None:
        self.docs = docs
        self.ids = itertools.count(1)
        self.subclass: str | None = None  # the concrete class picked for an abstract top-level schema

    def choose(self, schema: Any) -> Any:
        """For ``oneOf``/``anyOf``, the branch with the fewest required attributes (a ref over a value)."""
        node = self.docs.resolve(schema)
        branches = node.get("oneOf") or node.get("anyOf") if isinstance(node, dict) else None
        if not branches:
            return schema
        return min(branches, key=lambda b: len(flatten(self.docs, self.choose(b)).get("required") or []))

    def build(self, schema: Any, depth: int, hint: str) -> Any:
        node = self.docs.resolve(schema)
        if isinstance(node, dict) and (node.get("allOf") or node.get("properties")):
            branches = node.get("oneOf") or node.get("anyOf")
            if branches:
                return self._with_subclass(node, branches, depth, hint)
        schema = self.choose(schema)
        flat: Schema = flatten(self.docs, schema)
        if flat.get("enum"):
            return flat["enum"][0]
        if "default" in flat and not isinstance(flat["default"], dict | list):
            return flat["default"]
        kind = schema_type(self.docs, schema)
        if kind == "object":
            return self._object(schema, flat, depth)
        if kind == "array":
            count = max(1, int(flat.get("minItems") or 0))
            return [self.build(flat.get("items") or {}, depth + 1, hint) for _ in range(count)]
        if kind in ("integer", "number"):
            minimum = flat.get("minimum")
            return max(1, int(minimum)) if minimum is not None else 1
        if kind == "boolean":
            return True
        return self._string(flat, hint)

    def _with_subclass(self, node: dict[str, Any], branches: list[Any], depth: int, hint: str) -> Any:
        """A base class whose oneOf names its subclasses (v5 ``Resource_FVO``): the base's attributes plus
        those of the simplest subclass, whose ``@type`` enum names the concrete class to send."""
        value = self.build({k: v for k, v in node.items() if k not in ("oneOf", "anyOf")}, depth, hint)
        extra = self.build(self.choose({"oneOf": branches}), depth, hint)
        if not isinstance(value, dict) or not isinstance(extra, dict):
            return value
        value.update(extra)
        if depth == 0 and isinstance(extra.get("@type"), str):
            self.subclass = extra["@type"]
        return value

    def _object(self, schema: Any, flat: Schema, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if depth > MAX_DEPTH:
            return result
        properties: dict[str, Any] = flat.get("properties") or {}
        required = list(flat.get("required") or [])
        # A reference without id (or href) points nowhere; the TMF RI rejects it ($eitherOf id, href).
        if _is_reference(schema, properties) and "id" not in required and "href" not in required:
            required.insert(0, "id")
        for name in required:
            if name == "@type":
                result[name] = type_value(self.docs, schema)
            elif name == "@referredType":
                result[name] = referred_type_value(self.docs, schema)
            else:
                result[name] = self.build(properties.get(name) or {}, depth + 1, hint=name)
        return result

    def _string(self, flat: Schema, hint: str) -> str:
        fmt = str(flat.get("format") or "")
        if fmt == "uuid":
            return str(uuid.uuid4())
        if fmt in _STRING_FORMATS:
            return _STRING_FORMATS[fmt]
        if hint == "href":
            return f"https://example.com/conformance/{next(self.ids)}"
        if hint == "id":
            return f"conformance-{next(self.ids)}"
        text = "conformance"
        minimum = int(flat.get("minLength") or 0)
        return text + "x" * max(0, minimum - len(text))
