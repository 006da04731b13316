"""PATCH bodies: JSON merge patch (RFC 7396) and JSON Patch (RFC 6902).

TMF630: merge patch is mandatory and a v4 PATCH with plain ``application/json`` is a merge patch;
JSON Patch is optional and offered too. Both return a new document and leave the stored one alone.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from tmfgate.errors import BadRequest, Conflict

JSON_PATCH = "application/json-patch+json"


def apply(document: dict[str, Any], body: Any, media_type: str | None) -> dict[str, Any]:
    """The document after applying ``body`` as the media type says."""
    if media_type == JSON_PATCH:
        return json_patch(document, body)
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


def json_patch(document: dict[str, Any], operations: Any) -> dict[str, Any]:
    """RFC 6902; a failed ``test`` is a conflict (409), any other unusable operation a 400."""
    try:
        result = jsonpatch.JsonPatch(operations).apply(document, in_place=False)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise Conflict(f"The JSON Patch test operation failed: {exc}.") from None
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, KeyError) as exc:
        raise BadRequest(f"The JSON Patch cannot be applied: {exc}.") from None
    if not isinstance(result, dict):
        raise BadRequest("The JSON Patch must leave the resource a JSON object.")
    return result
