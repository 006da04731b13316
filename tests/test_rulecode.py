"""Rule code (tmfgate.rulecode): each rule's function does what the rule's own method does, on every
rule of the shipped faces table and on documents shaped to reach each of its branches."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tmfgate import rulecode
from tmfgate.faces import Rule, Typed
from tmfgate.runtime import load_apis


def shipped_rules() -> Iterator[tuple[str, Rule]]:
    """Every rule the shipped faces apply, once each, named by where it is first found."""
    seen: set[int] = set()
    for api in load_apis():
        for face in (faced.face for faced in api.faces.values()):
            for kind, top in face.nodes.items():
                pending = [(f"{api.name}.{kind}", top)]
                while pending:
                    where, node = pending.pop()
                    if id(node) in seen:
                        continue
                    seen.add(id(node))
                    if node.rule is not None and not node.rule.only_typed:
                        yield where, node.rule
                    pending.extend((f"{where}.{name}", child) for name, child in node.children.items())


RULES = dict(shipped_rules())
# A rule of each kind of step, two- and three-name paths included.
CRAFTED = {
    "deep": Rule(
        moved=((("a",), ("x", "y", "z")), (("b", "c"), ("d",))),
        defaults=((("x", "y", "w"), "dw"), (("e",), {"f": 1})),
        derived=((("g",), ("x", "y", "z"), {"Z": "G"}),),
        values=((("h", "i"), {"old": "new"}),),
        listed=((("j", "k"), "id"),),
        typed=Typed("ProductRefOrValue", frozenset({"ProductRef", "Product"}), False),
        types={"A": "B"},
    )
}


def documents(rule: Rule) -> Iterator[dict[str, Any]]:
    """Documents with and without each attribute the rule names, in both versions' shapes, and values
    the rule's tables hold or not."""
    paths = [p for pair in rule.moved for p in pair]
    paths += [p for p, _ in rule.defaults] + [p for p, *_ in rule.derived] + [s for _, s, _ in rule.derived]
    paths += [p for p, _ in rule.values] + [p for p, _ in rule.listed]
    values: list[Any] = ["s", 1, None, {"k": 1}, [{"id": "x"}], [{"id": "x", "more": 1}], "Z", "old", "new"]
    values += [v for _, v in rule.defaults] + [k for _, _, table in rule.derived for k in (*table, *table.values())]
    values += [k for _, table in rule.values for k in (*table, *table.values())]
    types: list[Any] = [None, "Other", *rule.types, *rule.types.values()]
    if rule.typed is not None:
        types += sorted(rule.typed.kinds)
    yield {}
    for kind in types:
        yield {"@type": kind, "value": "v"}
        yield {"@type": kind, "href": "h"}
    for n, path in enumerate(paths):
        for m, value in enumerate(values):
            doc: dict[str, Any] = {"keep": True}
            node = doc
            for name in path[:-1]:
                node = node.setdefault(name, {}) if isinstance(node.get(name, {}), dict) else node
            node[path[-1]] = copy.deepcopy(value)
            if m % 2:
                doc["id"] = "i1"
            kind = types[(n + m) % len(types)]
            if kind is not None:
                doc["@type"] = kind
            yield doc
            if path[:-1]:
                yield {path[0]: "not an object", "@type": kind}


@pytest.mark.parametrize("name", sorted(RULES) + sorted(CRAFTED))
def test_the_compiled_functions_do_what_the_rule_does(name: str) -> None:
    rule = RULES.get(name) or CRAFTED[name]
    outward, inward = rulecode.outward(rule), rulecode.inward(rule)
    count = 0
    for doc in documents(rule):
        for compiled, method in ((outward, rule.outward), (inward, rule.inward)):
            mine, theirs = copy.deepcopy(doc), copy.deepcopy(doc)
            compiled(mine)
            method(theirs)
            assert mine == theirs, (name, doc)
            count += 1
    assert count > 10


def test_the_shipped_table_has_rules_of_every_step() -> None:
    rules = list(RULES.values())
    for step in ("moved", "types", "defaults", "derived", "values", "listed"):
        assert any(getattr(rule, step) for rule in rules), step


def test_constants_are_bound_not_written_into_the_source() -> None:
    hostile = 'x"); import os; os._exit(1) #'
    rule = Rule(moved=(((hostile,), (hostile, "y")),), defaults=(((hostile + "2",), hostile),))
    doc = {hostile: 1}
    rulecode.outward(rule)(doc)
    assert doc == {hostile: {"y": 1}, hostile + "2": hostile}
    rulecode.inward(rule)(doc)
    assert doc == {hostile: 1}
