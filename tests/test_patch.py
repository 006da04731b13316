"""PATCH bodies: merge patch (RFC 7396) and JSON Patch (RFC 6902), with errors that name the operation."""

from __future__ import annotations

from typing import Any

import pytest

from tmfgate.errors import BadRequest, Conflict
from tmfgate.patch import JSON_PATCH, apply, json_patch, merge_patch

DOC: dict[str, Any] = {"id": "1", "state": "acknowledged", "note": [{"text": "a"}], "ref": {"id": "x", "name": "n"}}


def test_a_merge_patch_merges_objects_replaces_arrays_and_removes_nulls() -> None:
    patched = apply(DOC, {"state": "held", "note": [], "ref": {"name": None, "role": "r"}}, "application/json")
    assert patched == {"id": "1", "state": "held", "note": [], "ref": {"id": "x", "role": "r"}}
    assert DOC["state"] == "acknowledged" and DOC["ref"] == {"id": "x", "name": "n"}  # the stored one untouched
    assert merge_patch({"a": 1}, [1, 2]) == [1, 2]


def test_a_merge_patch_must_be_an_object() -> None:
    with pytest.raises(BadRequest, match="must be a JSON object"):
        apply(DOC, [{"op": "remove", "path": "/state"}], "application/merge-patch+json")


def test_a_json_patch_applies_its_operations_in_order() -> None:
    operations = [{"op": "replace", "path": "/state", "value": "held"}, {"op": "add", "path": "/note/-", "value": {}}]
    assert apply(DOC, operations, JSON_PATCH) == {**DOC, "state": "held", "note": [{"text": "a"}, {}]}
    assert DOC["note"] == [{"text": "a"}]


@pytest.mark.parametrize(
    ("operations", "error", "message"),
    [
        ({"op": "add"}, BadRequest, "must be an array of operations"),
        ([{"op": "test", "path": "/state", "value": "held"}], Conflict, "operation 1 (test /state): the resource's"),
        ([{"op": "jump", "path": "/state"}], BadRequest, "operation 1 (jump /state) is not a JSON Patch operation"),
        ([{"op": "remove", "path": "/nope"}], BadRequest, "operation 1 (remove /nope) cannot be applied: /nope"),
        ([{"op": "add", "path": "/a/b", "value": 1}], BadRequest, "cannot be applied: /a does not exist"),
        ([{"op": "move", "from": "/x", "path": "/y"}], BadRequest, "cannot be applied: /x does not exist"),
        ([{"op": "replace", "path": "", "value": 3}], BadRequest, "must leave the resource a JSON object"),
        (["remove"], BadRequest, "JSON Patch operation 1 is not"),
    ],
)
def test_a_json_patch_that_cannot_apply_says_which_operation(
    operations: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        json_patch(DOC, operations)
    assert message in str(raised.value)
