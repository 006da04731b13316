"""Face rules: how one schema's attributes differ between the stored shape and a face's (v5 beside
v4), as data (``specs/v5/faces.yaml``) read into :class:`Rule`, with the path helpers that apply them.

:mod:`tmfgate.faces` places rules inside documents (its nodes and planner); :mod:`tmfgate.walks` and
:mod:`tmfgate.rulecode` compile them. This module imports none of those, so they all import it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str, ...]


def _get(doc: Mapping[str, Any], path: Path) -> Any:
    node: Any = doc
    for name in path:
        # Decoded JSON holds dicts: a type check, not the slower isinstance of Mapping's ABC.
        if type(node) is not dict or name not in node:
            return None
        node = node[name]
    return node


def _pop(doc: dict[str, Any], path: Path) -> tuple[bool, Any]:
    """Remove the value at ``path``, and the objects it leaves empty; (found, value)."""
    if len(path) == 1:
        return (True, doc.pop(path[0])) if path[0] in doc else (False, None)
    parents = [doc]
    for name in path[:-1]:
        parent = parents[-1].get(name)
        if type(parent) is not dict:
            return False, None
        parents.append(parent)
    last = path[-1]
    if last not in parents[-1]:
        return False, None
    value = parents[-1].pop(last)
    for depth in range(len(path) - 2, -1, -1):
        if parents[depth + 1]:
            break
        del parents[depth][path[depth]]
    return True, value


def _put(doc: dict[str, Any], path: Path, value: Any) -> None:
    node = doc
    for name in path[:-1]:
        child = node.get(name)
        if type(child) is not dict:
            child = node[name] = {}
        node = child
    node[path[-1]] = value


def _respell(doc: dict[str, Any], values: tuple[tuple[Path, Mapping[str, str]], ...]) -> None:
    for path, spelled in values:
        value = _get(doc, path)
        if isinstance(value, str) and value in spelled:
            _put(doc, path, spelled[value])


_PREFIXES = {bool: ("Boolean",), int: ("Integer", "Number"), float: ("Number", "Float"), str: ("String",)}


@dataclass(frozen=True)
class Typed:
    """The @type of an object of schema ``base`` stored without one (v4 leaves it out, v5 requires it).

    ``kinds`` are the @type values the schema names (discriminator mapping, enums of its branches);
    ``open`` when it accepts others too. An object with ``id`` or ``href`` is a reference (TMF630 Part 2:
    ``XRef`` of an ``XRefOrValue``); one with a ``value`` takes the kind of that value
    (``StringCharacteristic``, ``NumberCharacteristicValueSpecification``); else the schema's own name.
    """

    base: str
    kinds: frozenset[str]
    open: bool

    def chosen(self, doc: Mapping[str, Any]) -> str | None:
        if self.reference is not None and ("id" in doc or "href" in doc):
            return self.reference
        if "value" in doc:
            for prefix in _value_prefixes(doc["value"]):
                if prefix + self.base in self.kinds:
                    return prefix + self.base
        return self.plain

    # What chosen() decides from the schema alone, worked out once (it runs on every object of every request).

    @functools.cached_property
    def reference(self) -> str | None:
        """The kind of an object with ``id`` or ``href``, when the schema has a reference branch."""
        ref = self.base.removesuffix("RefOrValue") + "Ref"
        return ref if ref in self.kinds else None

    @functools.cached_property
    def plain(self) -> str | None:
        """The kind of an object that is neither a reference nor a typed value."""
        for name in (self.base.removesuffix("RefOrValue"), self.base):
            if name in self.kinds or (self.open and name == self.base):
                return name
        return None


def _value_prefixes(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        inner = _value_prefixes(value[0]) if value else ("String",)
        return tuple(prefix + "Array" for prefix in inner)
    if type(value) is dict:
        return ("Object",)
    return _PREFIXES.get(type(value), ())


@dataclass(frozen=True)
class Rule:
    """How one face schema maps to its stored counterpart: attributes moved, ``@type`` values, defaults."""

    moved: tuple[tuple[Path, Path], ...] = ()  # (stored path, face path)
    types: Mapping[str, str] = field(default_factory=dict)  # stored @type -> face @type
    defaults: tuple[tuple[Path, Any], ...] = ()  # face attributes the stored shape has no room for
    # stored attributes the face may omit: (stored path, face path it follows, face value -> stored value)
    derived: tuple[tuple[Path, Path, Mapping[str, Any]], ...] = ()
    # attributes whose values the versions spell differently: (path, stored value -> face value)
    values: tuple[tuple[Path, Mapping[str, str]], ...] = ()
    # the @type a face object must have and a stored one may lack, chosen by its shape (see typed())
    typed: Typed | None = None
    # stored strings the face holds as a list of one object: (path, the object's attribute holding it)
    listed: tuple[tuple[Path, str], ...] = ()

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Rule:
        moved = tuple((tuple(k.split(".")), tuple(str(v).split("."))) for k, v in data.get("moved", {}).items())
        defaults = tuple((tuple(k.split(".")), v) for k, v in data.get("defaults", {}).items())
        derived = tuple(
            (tuple(k.split(".")), tuple(str(v["from"]).split(".")), dict(v["values"]))
            for k, v in data.get("derived", {}).items()
        )
        values = tuple((tuple(k.split(".")), dict(v)) for k, v in data.get("values", {}).items())
        listed = tuple((tuple(k.split(".")), str(v)) for k, v in data.get("listed", {}).items())
        return cls(moved, dict(data.get("types", {})), defaults, derived, values, listed=listed)

    def _derivation(self, doc: Mapping[str, Any], source: Path, values: Mapping[str, Any]) -> Any:
        """The stored value that the face value at ``source`` (or its default) implies, if any."""
        value = _get(doc, source)
        if value is None:
            value = self.default_of.get(source)
        return values.get(value) if isinstance(value, str) else None

    # The inverse tables inward() needs, built once rather than on every object of every request.

    @functools.cached_property
    def only_typed(self) -> bool:
        """Whether the rule only gives a missing @type: most rules, and the cheap path for them."""
        return not (self.moved or self.types or self.defaults or self.derived or self.values or self.listed)

    @functools.cached_property
    def default_of(self) -> dict[Path, Any]:
        """The first default given to each path."""
        found: dict[Path, Any] = {}
        for path, value in self.defaults:
            found.setdefault(path, value)
        return found

    @functools.cached_property
    def types_back(self) -> dict[str, str]:
        """Face @type -> stored @type."""
        return {face: stored for stored, face in self.types.items()}

    @functools.cached_property
    def values_back(self) -> tuple[tuple[Path, Mapping[str, str]], ...]:
        """The ``values`` the other way: face value -> stored value."""
        return tuple((path, {face: stored for stored, face in spelled.items()}) for path, spelled in self.values)

    def outward(self, doc: dict[str, Any]) -> None:
        if self.only_typed:
            if self.typed is not None and "@type" not in doc:
                chosen = self.typed.chosen(doc)
                if chosen is not None:
                    doc["@type"] = chosen
            return
        for path, key in self.listed:
            value = _get(doc, path)
            if isinstance(value, str):
                _put(doc, path, [{key: value}])
        for stored, source, values in self.derived:
            implied = self._derivation(doc, source, values)
            if implied is not None and _get(doc, stored) == implied:
                _pop(doc, stored)
        for stored, faced in self.moved:
            found, value = _pop(doc, stored)
            if found:
                _put(doc, faced, value)
        kind = doc.get("@type")
        if isinstance(kind, str) and kind in self.types:
            doc["@type"] = self.types[kind]
        if kind is None and self.typed is not None:
            chosen = self.typed.chosen(doc)
            if chosen is not None:
                doc["@type"] = chosen
        _respell(doc, self.values)
        for path, value in self.defaults:
            # A default inside an object the document lacks (partyOrPartyRole.@type of a related party
            # with no party) is not shown: it would make an object the face's schema requires more of.
            if _get(doc, path) is None and (len(path) == 1 or isinstance(_get(doc, path[:-1]), dict)):
                _put(doc, path, value)

    def inward(self, doc: dict[str, Any]) -> None:
        if self.only_typed:
            kind = doc.get("@type")
            if kind is not None and self.typed is not None and kind == self.typed.chosen(doc):
                del doc["@type"]
            return
        for stored, faced in self.moved:
            found, value = _pop(doc, faced)
            if found:
                _put(doc, stored, value)
        for stored, source, values in self.derived:
            implied = self._derivation(doc, source, values)
            if implied is not None and _get(doc, stored) is None:
                _put(doc, stored, implied)
        # The @type first: a face type that maps back is the stored one, not a default to drop.
        back = self.types_back
        kind = doc.get("@type")
        if isinstance(kind, str) and kind in back:
            doc["@type"] = back[kind]
        for path, value in self.defaults:
            if _get(doc, path) == value:
                _pop(doc, path)
        if self.typed is not None and doc.get("@type") is not None and doc["@type"] == self.typed.chosen(doc):
            del doc["@type"]  # shown again as it came, as a default is
        _respell(doc, self.values_back)
        for path, key in self.listed:
            # One identifier fits the stored string; a list that says more is kept as it came.
            value = _get(doc, path)
            shorter = collapsed(value, key)
            if shorter is not value:
                _put(doc, path, shorter)

    def listed_key(self, stored: Path) -> str | None:
        """The attribute of the one object a stored string at ``stored`` is listed as, if it is."""
        return next((key for path, key in self.listed if path == stored), None)

    def stored_path(self, path: Path) -> tuple[Path, int]:
        """The stored path of a face path's head, and how many face names it took."""
        for stored, faced in self.moved:
            if path[: len(faced)] == faced:
                # A listed string that also moved (v5 externalIdentifier.id is v4 externalId).
                key = self.listed_key(stored)
                return stored, len(faced) + (key is not None and path[len(faced) : len(faced) + 1] == (key,))
        for listed, key in self.listed:
            if path[: len(listed) + 1] == (*listed, key):
                return listed, len(listed) + 1
        return path[:1], 1


def collapsed(value: Any, key: str) -> Any:
    """A face's list of one ``{key: x}`` as the stored string ``x``; a list that says more is kept."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict) and value[0].keys() == {key}:
        return value[0][key]
    return value


def rules_of(data: Mapping[str, Any]) -> dict[str, Rule]:
    """The rules of a faces table's ``schemas`` section, by face schema name."""
    return {name: Rule.of(rule or {}) for name, rule in (data.get("schemas") or {}).items()}


__all__ = ["Path", "Rule", "Typed", "collapsed", "rules_of"]
