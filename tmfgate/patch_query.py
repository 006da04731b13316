"""JSON Patch Query (TMF630 Part 5, with Part 6's JSON Path): operations whose path picks array elements.

``/relatedParty/name?relatedParty.role=requester`` targets ``name`` in every related party whose role
is ``requester``; the query names the array's attributes in full (``relatedParty.role``), relative to
the element (``?id=Char5``), slash-separated (``?/characteristic/name=x``) or as a JSON Path
(``$.note[?(@.author=='Ann')].text``). Each operation becomes plain JSON Patch operations on the
matching indexes of the document as the operations before it left it, applied by :mod:`tmfgate.patch`;
an operation whose query matches no element is a 400, as a JSON Patch path that does not exist is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from backends.base import Condition, ElementCondition
from backends.matching import matches
from tmfgate import jsonpath
from tmfgate.errors import BadRequest, InvalidQuery
from tmfgate.query import element_condition, parse_query

JSON_PATCH_QUERY = "application/json-patch-query+json"


Expand = Callable[[Mapping[str, Any], int, Any], list[Any]]


def expanded(document: Mapping[str, Any], number: int, operation: Any) -> list[Any]:
    """The plain JSON Patch operations that operation ``number`` stands for on ``document`` as it is now."""
    path = operation.get("path") if isinstance(operation, dict) else None
    if not isinstance(path, str) or not _is_query(path):
        return [operation]
    try:
        pointers = _pointers(document, path)
    except InvalidQuery as exc:
        raise BadRequest(f"Operation {number} has a path query that cannot be read: {exc.message}") from None
    if not pointers:
        raise BadRequest(f"Operation {number}: the query of the path {path!r} selects no element of the resource.")
    # Removing from the highest index down keeps the lower indexes valid.
    ordered = reversed(pointers) if operation.get("op") == "remove" else pointers
    return [{**operation, "path": pointer} for pointer in ordered]


def _is_query(path: str) -> bool:
    return "?" in path or path.startswith("$")


def _pointers(document: Mapping[str, Any], path: str) -> list[str]:
    """The JSON Pointers of every target the query path selects, lowest index first."""
    if path.startswith("$") or (not path.startswith("/") and "[?(" in path):
        expression = jsonpath.parse(path, selection=True)
        if expression.predicate is None:
            return [_pointer(expression.path)]
        return _selected(document, element_condition(expression, lambda _: None), expression.rest)
    target, _, query = path.partition("?")
    names = tuple(part.replace("~1", "/").replace("~0", "~") for part in target.split("/")[1:])
    array = _array_length(document, names)
    if array is None:
        raise InvalidQuery(f"the path {target!r} passes through no array of the resource to select in")
    conditions = _conditions(query, names[:array])
    return _selected(document, ElementCondition(names[:array], conditions), names[array:])


def _array_length(document: Mapping[str, Any], names: tuple[str, ...]) -> int | None:
    """How many names lead to the first array on the path, None when there is none."""
    node: Any = document
    for length, name in enumerate(names, 1):
        if not isinstance(node, Mapping) or name not in node:
            return None
        node = node[name]
        if isinstance(node, list):
            return length
    return None


def _conditions(query: str, array: tuple[str, ...]) -> tuple[Condition, ...]:
    """The query's conditions with paths relative to the array's elements."""
    if query.startswith("/"):  # ?/characteristic/name=x (TMF632, TMF651 guides)
        query = "&".join(part.lstrip("/").replace("/", ".") for part in query.split("&"))
    parsed = parse_query(query, attribute_kind=lambda _: None)
    if not parsed.conditions or parsed.elements or parsed.sort or parsed.fields is not None:
        raise InvalidQuery(f"the query {query!r} must be attribute conditions, as in relatedParty.role=requester")
    relative = []
    for condition in parsed.conditions:
        path = condition.path
        if path[: len(array)] == array and len(path) > len(array):
            path = path[len(array) :]
        relative.append(Condition(path, condition.op, condition.value_type, condition.values))
    return tuple(relative)


def _selected(document: Mapping[str, Any], element: ElementCondition, rest: tuple[str, ...]) -> list[str]:
    node: Any = document
    for name in element.path:
        node = node.get(name) if isinstance(node, Mapping) else None
    if not isinstance(node, list):
        raise InvalidQuery(f"{'.'.join(element.path)!r} is not an array of the resource")
    return [
        _pointer((*element.path, str(index), *rest))
        for index, item in enumerate(node)
        if isinstance(item, Mapping) and matches(element.conditions, item)
    ]


def _pointer(names: tuple[str, ...]) -> str:
    return "".join("/" + name.replace("~", "~0").replace("/", "~1") for name in names)


__all__ = ["JSON_PATCH_QUERY", "Expand", "expanded"]
