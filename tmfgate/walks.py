"""Walks: a face node's mapping of a document (:mod:`tmfgate.faces`), compiled once into nested closures.

Interpreting the nodes on every request (their rule, their children's table, the rule's own tables)
cost more than the changes it made: an order of 26 mapped objects took 20–27 µs each way
(benchmarks/README.md). A walk binds what each node does once, so a request only tests and changes
its own objects; the rules that only give or drop a missing ``@type`` (most of them) are inlined, the
others compiled into a function each (:mod:`tmfgate.rulecode`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from tmfgate import rulecode
from tmfgate.facerules import Rule


class Node(Protocol):
    """What a walk is compiled from: a face's node (:class:`tmfgate.faces.Node`), its rule and its
    attributes' nodes."""

    @property
    def rule(self) -> Rule | None: ...

    @property
    def children(self) -> Mapping[str, Node]: ...


Walk = Callable[[Any], None]  # changes a decoded document (an object, a list, anything) in place
Change = Callable[[dict[str, Any]], None]  # changes one object of the node's schema in place


def outward(node: Node) -> Walk:
    """The walk of ``node`` from stored names to the face's: the rule first, then the attributes."""
    return _walk(node, {}, _outward_change, rule_first=True)


def inward(node: Node) -> Walk:
    """The walk of ``node`` from the face's names to stored ones: the attributes first, then the rule."""
    return _walk(node, {}, _inward_change, rule_first=False)


def _walk(node: Node, built: dict[int, Walk], change_of: Callable[[Rule], Change | None], *, rule_first: bool) -> Walk:
    found = built.get(id(node))
    if found is not None:
        return found
    change = change_of(node.rule) if node.rule is not None else None
    children: tuple[tuple[str, Walk], ...] = ()

    def on_object(value: dict[str, Any]) -> None:
        if rule_first and change is not None:
            change(value)
        for name, child in children:
            inner = value.get(name)
            if inner is not None:
                child(inner)
        if not rule_first and change is not None:
            change(value)

    def walk(value: Any) -> None:
        if type(value) is dict:
            on_object(value)
        elif type(value) is list:
            for item in value:
                if type(item) is dict:
                    on_object(item)
                elif type(item) is list:
                    walk(item)

    built[id(node)] = walk  # before the children: schemas refer to themselves
    children = tuple(
        (name, _walk(child, built, change_of, rule_first=rule_first)) for name, child in node.children.items()
    )
    return walk


def _outward_change(rule: Rule) -> Change | None:
    typed = rule.typed
    if not rule.only_typed:
        return rulecode.outward(rule)
    if typed is None:
        return None  # a rule that says nothing
    reference, plain, chosen = typed.reference, typed.plain, typed.chosen

    def give_type(doc: dict[str, Any]) -> None:
        if "@type" in doc:
            return
        if reference is not None and ("id" in doc or "href" in doc):
            doc["@type"] = reference
            return
        kind = chosen(doc) if "value" in doc else plain
        if kind is not None:
            doc["@type"] = kind

    return give_type


def _inward_change(rule: Rule) -> Change | None:
    typed = rule.typed
    if not rule.only_typed:
        return rulecode.inward(rule)
    if typed is None:
        return None
    reference, plain, chosen = typed.reference, typed.plain, typed.chosen

    def drop_type(doc: dict[str, Any]) -> None:
        kind = doc.get("@type")
        if kind is None:
            return
        shown: str | None = plain
        if reference is not None and ("id" in doc or "href" in doc):
            shown = reference
        elif "value" in doc:
            shown = chosen(doc)
        if kind == shown:
            del doc["@type"]

    return drop_type


__all__ = ["Walk", "inward", "outward"]
