"""Faces: another version of an API (v5 beside v4) served over the same stored documents.

A face renames and moves attributes between the stored shape (the home version's) and its own, by a
table per pair of schemas (``specs/v5/faces.yaml``), on the way in and out; queries are renamed too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tmfgate import walks
from tmfgate.facerules import Path, Rule, Typed, collapsed, rules_of
from tmfgate.model import Schemas
from tmfgate.types import Document


@dataclass(eq=False)
class Node:
    """Where rules apply inside a document of one schema: its own rule, and its attributes' nodes."""

    rule: Rule | None = None
    children: dict[str, Node] = field(default_factory=dict)
    _outward: walks.Walk | None = field(default=None, init=False, repr=False)
    _inward: walks.Walk | None = field(default=None, init=False, repr=False)

    # Both change the document in place (a decoded request or stored document, the caller's own)
    # and return it: copying every object on the way cost more than the mapping itself. Each node is
    # compiled into a walk (tmfgate.walks) at its first use, once the planner has pruned it.

    def outward(self, value: Any) -> Any:
        walk = self._outward or self._compile_outward()
        walk(value)
        return value

    def inward(self, value: Any) -> Any:
        walk = self._inward or self._compile_inward()
        walk(value)
        return value

    def _compile_outward(self) -> walks.Walk:
        self._outward = walks.outward(self)
        return self._outward

    def _compile_inward(self) -> walks.Walk:
        self._inward = walks.inward(self)
        return self._inward

    def stored_path(self, path: Path) -> Path:
        """A dotted attribute path of the face (``relatedParty.partyOrPartyRole.id``) in stored names."""
        if not path:
            return path
        head, used = self.rule.stored_path(path) if self.rule is not None else (path[:1], 1)
        child = self.children.get(path[0]) if used == 1 else None
        rest = path[used:]
        return head + (child.stored_path(rest) if child is not None else rest)

    def stored_value(self, path: Path, value: str) -> str:
        """A filter value of the face attribute at ``path`` as stored: a value or an ``@type`` the
        versions spell differently (v5 ``operationalState=enabled`` is v4 ``enable``)."""
        node: Node | None = self
        while node is not None and path:
            rule = node.rule
            spelled = dict(rule.values).get(path, {}) if rule is not None else {}
            if rule is not None and path == ("@type",):
                spelled = rule.types
            stored = next((old for old, new in spelled.items() if new == value), None)
            if stored is not None:
                return stored
            node, path = node.children.get(path[0]), path[1:]
        return value

    def face_path(self, path: Path) -> Path:
        """A stored attribute path in the face's names (a JSON Patch's path, the other way round)."""
        if not path:
            return path
        for stored, faced in self.rule.moved if self.rule is not None else ():
            if path[: len(stored)] == stored:
                return faced + path[len(stored) :]
        child = self.children.get(path[0])
        return path[:1] + (child.face_path(path[1:]) if child is not None else path[1:])

    def at(self, path: Path) -> Node | None:
        """The node of the attribute at a face path, None when no rule applies there."""
        node: Node | None = self
        for name in path:
            node = node.children.get(name) if node is not None else None
        return node


class Planner:
    """Builds the nodes of a face's schemas, once per schema, pruned to where a rule applies."""

    def __init__(self, schemas: Schemas, rules: Mapping[str, Rule]) -> None:
        self.schemas = schemas
        self.rules = rules
        self.built: dict[str, Node] = {}

    def plan(self, schema: dict[str, Any], rule: Rule | None = None) -> Node:
        """The node of a resource's schema, with its own rule (a resource's renamed attributes)."""
        node = Node(rule, dict(self._node(schema).children))
        self._prune([node, *self.built.values()])
        return node

    def _node(self, schema: dict[str, Any]) -> Node:
        name = schema.get("$ref", "").rsplit("/", 1)[-1]
        if name and name in self.built:
            return self.built[name]
        node = Node(self.rules.get(name) or (self._typed(name, schema) if name else None))
        if name:
            self.built[name] = node
        for attribute, sub in self._properties(schema).items():
            target = self._items(sub)
            if target.get("$ref") or self._properties(target):
                node.children[attribute] = self._node(target)
        return node

    def _typed(self, name: str, schema: dict[str, Any]) -> Rule | None:
        """A rule giving the @type a schema requires to the stored objects that lack it (v5 Extensible)."""
        resolved = self.schemas.resolve(schema)
        branches = resolved.get("oneOf", ())
        every = bool(branches) and all("@type" in self._required(branch) for branch in branches)
        if not every and "@type" not in self._required(resolved):
            return None
        kinds = set((resolved.get("discriminator") or {}).get("mapping", {}))
        open_ = not branches
        for branch in branches:
            kind = (branch.get("properties") or {}).get("@type") or {}
            kinds.update(kind.get("enum", ()))
            open_ = open_ or "not" in kind or "$ref" in branch or "allOf" in branch and "enum" not in kind
        return Rule(typed=Typed(name, frozenset(kinds), open_))

    def _required(self, schema: dict[str, Any], depth: int = 0) -> set[str]:
        """The names a schema requires through ``$ref`` and ``allOf``."""
        schema = self.schemas.resolve(schema)
        found = set(schema.get("required", ()))
        for part in schema.get("allOf", ()) if depth < 20 else ():
            found |= self._required(part, depth + 1)
        return found

    def _items(self, schema: dict[str, Any]) -> dict[str, Any]:
        while True:
            resolved = self.schemas.resolve(schema) if "$ref" in schema else schema
            if resolved.get("type") == "array" and "items" in resolved:
                schema = resolved["items"]
            else:
                return schema

    def _properties(self, schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
        """Properties through ``$ref``, ``allOf`` and every ``oneOf`` branch."""
        schema = self.schemas.resolve(schema)
        merged: dict[str, Any] = {}
        if depth > 20:
            return merged
        for part in (*schema.get("allOf", ()), *schema.get("oneOf", ()), *schema.get("anyOf", ())):
            merged.update(self._properties(part, depth + 1))
        merged.update(schema.get("properties", {}))
        return merged

    @staticmethod
    def _prune(nodes: Iterable[Node]) -> None:
        """Drop the branches where no rule applies (schemas refer to themselves, hence the fixpoint)."""
        every: dict[int, Node] = {}
        pending = list(nodes)
        while pending:
            node = pending.pop()
            if id(node) not in every:
                every[id(node)] = node
                pending.extend(node.children.values())
        useful = {key for key, node in every.items() if node.rule is not None}
        grown = True
        while grown:
            grown = False
            for key, node in every.items():
                if key not in useful and any(id(child) in useful for child in node.children.values()):
                    useful.add(key)
                    grown = True
        for node in every.values():
            node.children = {name: child for name, child in node.children.items() if id(child) in useful}


__all__ = ["Document", "Node", "Planner", "Rule", "Typed", "collapsed", "rules_of"]
