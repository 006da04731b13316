"""PATCH bodies: JSON merge patch (RFC 7396), JSON Patch (RFC 6902) and JSON Patch Query (TMF630 Part 5).

TMF630: merge patch is mandatory and a v4 PATCH with plain ``application/json`` is a merge patch;
JSON Patch is optional and offered too, with paths that select array elements when the media type
is ``application/json-patch-query+json``. All return a new document and leave the stored one alone.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from tmfgate import codec
from tmfgate.errors import BadRequest, Conflict, PayloadTooLarge
from tmfgate.patch_query import JSON_PATCH_QUERY, Expand, expanded

JSON_PATCH = "application/json-patch+json"
JSON_PATCHES = frozenset({JSON_PATCH, JSON_PATCH_QUERY})


MAX_OPERATIONS = 1000  # per JSON Patch body (Kubernetes allows 10,000 on 3 MiB bodies)


def apply(document: dict[str, Any], body: Any, media_type: str | None, max_size: int | None = None) -> dict[str, Any]:
    """The document after applying ``body`` as the media type says; a JSON Patch that makes it larger
    than ``max_size`` bytes of JSON is a 413."""
    if media_type == JSON_PATCH:
        return json_patch(document, body, max_size)
    if media_type == JSON_PATCH_QUERY:  # TMF630 Part 5: its paths may select array elements
        return json_patch(document, body, max_size, expanded)
    if not isinstance(body, dict):
        raise BadRequest("A merge patch body must be a JSON object.")
    merged: dict[str, Any] = merge_patch(document, body)
    return merged


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge recursively, ``null`` removes, anything else (arrays too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(
    document: dict[str, Any], operations: Any, max_size: int | None = None, expand: Expand | None = None
) -> dict[str, Any]:
    """RFC 6902, one operation at a time so that a failure names the operation and its path; a failed
    ``test`` is a conflict (409), any other operation that cannot be applied a 400. ``expand`` turns an
    operation into the plain ones it stands for on the document as patched so far (JSON Patch Query)."""
    if not isinstance(operations, list):
        raise BadRequest("A JSON Patch body must be an array of operations.")
    if len(operations) > MAX_OPERATIONS:
        raise BadRequest(f"A JSON Patch can hold at most {MAX_OPERATIONS} operations.")
    result = copy.deepcopy(document)
    steps = (
        (number, step)
        for number, given in enumerate(operations, 1)
        for step in (expand(result, number, given) if expand is not None else [given])
    )
    for number, operation in steps:
        where = _operation(number, operation)
        try:
            result = jsonpatch.JsonPatch([operation]).apply(result, in_place=True)
        except jsonpatch.JsonPatchTestFailed:
            raise Conflict(f"{where}: the resource's value at that path is not the value tested.") from None
        except jsonpatch.InvalidJsonPatch as exc:
            raise BadRequest(f"{where} is not a JSON Patch operation: {exc}.") from None
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, KeyError, IndexError):
            raise BadRequest(
                f"{where} cannot be applied: {_missing(operation)} does not exist in the resource."
            ) from None
        if max_size is not None and _copied(operation):
            _check_size(result, max_size)  # each copy can double the document (F-08)
    if not isinstance(result, dict):
        raise BadRequest("The JSON Patch must leave the resource a JSON object.")
    return result


def _copied(operation: Any) -> bool:
    return isinstance(operation, dict) and operation.get("op") == "copy"


def _check_size(document: Any, max_size: int) -> None:
    try:
        size = len(codec.dumps(document))
    except ValueError:
        raise BadRequest("The JSON Patch nests the resource too deeply.") from None
    if size > max_size:
        raise PayloadTooLarge(f"The JSON Patch makes the resource {size} bytes; this gateway keeps at most {max_size}.")


def _operation(number: int, operation: Any) -> str:
    """``JSON Patch operation 2 (replace /state)``, as a message names an operation."""
    if not isinstance(operation, dict):
        return f"JSON Patch operation {number}"
    return f"JSON Patch operation {number} ({str(operation.get('op'))[:20]} {str(operation.get('path'))[:200]})"


def _missing(operation: dict[str, Any]) -> str:
    """The path an operation needed and did not find: its ``from``, or its ``path`` (or, to add there, its parent)."""
    if operation.get("op") in ("move", "copy") and "from" in operation:
        return str(operation["from"])[:200]
    path = str(operation.get("path"))[:200]
    return path.rsplit("/", 1)[0] or "/" if operation.get("op") == "add" else path
