"""Rule code: one face rule (:class:`tmfgate.facerules.Rule`) written out as a Python function, once.

``Rule.outward`` and ``Rule.inward`` loop over the rule's tables on every object; a rule that moves
four attributes and gives two defaults (v4 RelatedParty as v5 RelatedPartyRefOrPartyRoleRef) spent
most of its 3–5 µs in those loops and in the generic path helpers. Here each step becomes straight
lines, with one- and two-name paths read and written in place; the tables' values are bound as
constants, never pasted into the source. The functions do exactly what the rule's methods do
(tests/test_rulecode.py checks them against each other).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from tmfgate import facerules
from tmfgate.facerules import Path, Rule

Change = Callable[[dict[str, Any]], None]


class _Source:
    """Lines of a function's body, and the constants they name (``c0``, ``c1``...)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}

    def const(self, value: Any) -> str:
        name = f"c{len(self.constants)}"
        self.constants[name] = value
        return name

    def line(self, text: str, depth: int = 1) -> None:
        self.lines.append("    " * depth + text)

    def get(self, path: Path) -> str:
        """An expression of the value at ``path`` (None when missing), as facerules._get reads it."""
        if len(path) == 1:
            return f"doc.get({self.const(path[0])})"
        return f"_get(doc, {self.const(path)})"

    def put(self, path: Path, value: str, depth: int = 1) -> None:
        if len(path) == 1:
            self.line(f"doc[{self.const(path[0])}] = {value}", depth)
        elif len(path) == 2:
            outer = self.const(path[0])
            self.line(f"parent = doc.get({outer})", depth)
            self.line("if type(parent) is not dict:", depth)
            self.line(f"parent = doc[{outer}] = {{}}", depth + 1)
            self.line(f"parent[{self.const(path[1])}] = {value}", depth)
        else:
            self.line(f"_put(doc, {self.const(path)}, {value})", depth)

    def pop(self, path: Path, then: Callable[[str, int], None] | None = None, depth: int = 1) -> None:
        """Remove the value at ``path`` as facerules._pop does; ``then`` writes what follows a found value."""
        if len(path) == 1:
            name = self.const(path[0])
            self.line(f"if {name} in doc:", depth)
            self.line(f"v = doc.pop({name})", depth + 1)
        elif len(path) == 2:  # an attribute of an object, which goes when it empties (v5 partyOrPartyRole)
            outer, inner = self.const(path[0]), self.const(path[1])
            self.line(f"parent = doc.get({outer})", depth)
            self.line(f"if type(parent) is dict and {inner} in parent:", depth)
            self.line(f"v = parent.pop({inner})", depth + 1)
            self.line("if not parent:", depth + 1)
            self.line(f"del doc[{outer}]", depth + 2)
        else:
            self.line(f"found, v = _pop(doc, {self.const(path)})", depth)
            self.line("if found:", depth)
        if then is not None:
            then("v", depth + 1)
        else:
            self.line("pass", depth + 1)

    def compiled(self, helpers: dict[str, Any]) -> Change:
        code = "\n".join(["def change(doc):", *(self.lines or ["    pass"])])
        namespace: dict[str, Any] = {**helpers, **self.constants}
        exec(compile(code, "<tmfgate.rulecode>", "exec"), namespace)  # the source written above, constants by name
        change: Change = namespace["change"]
        return change


def _helpers() -> dict[str, Any]:
    return {"_get": facerules._get, "_put": facerules._put, "_pop": facerules._pop, "collapsed": facerules.collapsed}


def outward(rule: Rule) -> Change:
    """``rule.outward`` as one function."""
    src = _Source()
    for path, key in rule.listed:
        src.line(f"v = {src.get(path)}")
        src.line("if isinstance(v, str):")
        src.put(path, f"[{{{src.const(key)}: v}}]", 2)
    for stored, source, values in rule.derived:
        _implied(src, rule, source, values)
        src.line(f"if implied is not None and {src.get(stored)} == implied:")
        src.pop(stored, depth=2)
    for stored, faced in rule.moved:
        src.pop(stored, partial(src.put, faced))
    if rule.types or rule.typed is not None:
        src.line('kind = doc.get("@type")')
    if rule.types:
        types = src.const(rule.types)
        src.line(f"if isinstance(kind, str) and kind in {types}:")
        src.line(f'doc["@type"] = {types}[kind]', 2)
    if rule.typed is not None:
        src.line("if kind is None:")
        src.line(f"chosen = {src.const(rule.typed.chosen)}(doc)", 2)
        src.line("if chosen is not None:", 2)
        src.line('doc["@type"] = chosen', 3)
    _respell(src, rule.values)
    for path, value in rule.defaults:
        constant = src.const(value)
        if len(path) == 1:
            src.line(f"if {src.get(path)} is None:")
        else:
            src.line(f"if {src.get(path)} is None and isinstance({src.get(path[:-1])}, dict):")
        src.put(path, constant, 2)
    return src.compiled(_helpers())


def inward(rule: Rule) -> Change:
    """``rule.inward`` as one function."""
    src = _Source()
    for stored, faced in rule.moved:
        src.pop(faced, partial(src.put, stored))
    for stored, source, values in rule.derived:
        _implied(src, rule, source, values)
        src.line(f"if implied is not None and {src.get(stored)} is None:")
        src.put(stored, "implied", 2)
    if rule.types:
        back = src.const(rule.types_back)
        src.line('kind = doc.get("@type")')
        src.line(f"if isinstance(kind, str) and kind in {back}:")
        src.line(f'doc["@type"] = {back}[kind]', 2)
    for path, value in rule.defaults:
        src.line(f"if {src.get(path)} == {src.const(value)}:")
        src.pop(path, depth=2)
    if rule.typed is not None:
        chosen = src.const(rule.typed.chosen)
        src.line(f'if doc.get("@type") is not None and doc["@type"] == {chosen}(doc):')
        src.line('del doc["@type"]', 2)
    _respell(src, rule.values_back)
    for path, key in rule.listed:
        src.line(f"v = {src.get(path)}")
        src.line(f"shorter = collapsed(v, {src.const(key)})")
        src.line("if shorter is not v:")
        src.put(path, "shorter", 2)
    return src.compiled(_helpers())


def _implied(src: _Source, rule: Rule, source: Path, values: Any) -> None:
    """``implied``: the stored value the face value at ``source`` (or its default) implies (Rule._derivation)."""
    src.line(f"v = {src.get(source)}")
    src.line("if v is None:")
    src.line(f"v = {src.const(rule.default_of.get(source))}", 2)
    src.line(f"implied = {src.const(values)}.get(v) if isinstance(v, str) else None")


def _respell(src: _Source, values: tuple[tuple[Path, Any], ...]) -> None:
    for path, spelled in values:
        table = src.const(spelled)
        src.line(f"v = {src.get(path)}")
        src.line(f"if isinstance(v, str) and v in {table}:")
        src.put(path, f"{table}[v]", 2)


__all__ = ["Change", "inward", "outward"]
