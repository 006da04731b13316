"""JSON Patch Query (TMF630 Part 5 and 6): paths that select array elements by their content."""

from __future__ import annotations

from typing import Any

import pytest

from tmfgate import patch
from tmfgate.errors import BadRequest, Conflict
from tmfgate.patch_query import JSON_PATCH_QUERY, expanded


def order() -> dict[str, Any]:
    return {
        "id": "o1",
        "postcode": "1000",
        "relatedParty": [
            {"id": "c1", "role": "requester", "name": "Ann"},
            {"id": "c2", "role": "user", "name": "Bob"},
            {"id": "c3", "role": "requester", "name": "Cy"},
        ],
        "productOrderItem": [
            {"id": "110", "billingAccount": {"id": "b1"}},
            {"id": "120", "billingAccount": {"id": "b2"}},
        ],
    }


@pytest.mark.parametrize(
    ("path", "pointers"),
    [
        # The forms of the TMF user guides (tmf630.md §4): dotted, from the element, slash-separated, JSON Path.
        ("/relatedParty/name?relatedParty.role=requester", ["/relatedParty/0/name", "/relatedParty/2/name"]),
        ("/productOrderItem/billingAccount/id?productOrderItem.id=120", ["/productOrderItem/1/billingAccount/id"]),
        ("/relatedParty/name?id=c2", ["/relatedParty/1/name"]),
        ("/relatedParty/name?/relatedParty/role=user", ["/relatedParty/1/name"]),
        ("/relatedParty/name?role=requester&name=Cy", ["/relatedParty/2/name"]),
        ("/relatedParty/name?name.regex=^[AB]", ["/relatedParty/0/name", "/relatedParty/1/name"]),
        ("$.relatedParty[?(@.role=='requester' && @.name!='Ann')].name", ["/relatedParty/2/name"]),
        ("relatedParty[?(@.id=='c1')]", ["/relatedParty/0"]),
        ("$.postcode", ["/postcode"]),
    ],
)
def test_a_query_path_selects_the_matching_elements(path: str, pointers: list[str]) -> None:
    operations = expanded(order(), 1, {"op": "replace", "path": path, "value": "x"})
    assert operations == [{"op": "replace", "path": pointer, "value": "x"} for pointer in pointers]


def test_plain_operations_are_kept() -> None:
    for plain in [{"op": "replace", "path": "/postcode", "value": "2"}, "not an operation", {"op": "remove"}]:
        assert expanded(order(), 1, plain) == [plain]


def test_the_patch_applies_to_every_match_and_removes_from_the_end() -> None:
    operations = [
        {"op": "replace", "path": "/relatedParty/name?relatedParty.role=requester", "value": "R"},
        {"op": "remove", "path": "$.relatedParty[?(@.name=='R')]"},
    ]
    patched = patch.apply(order(), operations, JSON_PATCH_QUERY)
    assert patched["relatedParty"] == [{"id": "c2", "role": "user", "name": "Bob"}]


def test_a_failed_test_through_a_query_is_a_conflict() -> None:
    with pytest.raises(Conflict):
        patch.apply(order(), [{"op": "test", "path": "/relatedParty/name?id=c1", "value": "Bob"}], JSON_PATCH_QUERY)


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/relatedParty/name?role=nobody", "selects no element"),
        ("/postcode/x?id=1", "passes through no array"),
        ("/relatedParty/name?sort=id", "must be attribute conditions"),
        ("/relatedParty/name?role", "cannot be read"),
        ("$.relatedParty[?(@.id=='c1' || @.id=='c2')].name", "||"),
        ("$.postcode[?(@.id=='1')]", "not an array"),
    ],
)
def test_a_query_that_cannot_apply_is_a_400(path: str, fragment: str) -> None:
    with pytest.raises(BadRequest) as caught:
        expanded(order(), 2, {"op": "replace", "path": path, "value": "x"})
    message = caught.value.message
    assert caught.value.status == 400 and message.startswith("Operation 2") and fragment in message, message
