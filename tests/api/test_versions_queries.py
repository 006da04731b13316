"""JSON Path filters and JSON Patch Query (TMF630 Part 5 and 6) on v5, over HTTP, on every store:
filters select by element in the store, v5 names map to the stored ones, and what is beyond the
supported subset is a TMF Error 400 with nothing changed."""

from __future__ import annotations

import uuid
from typing import Any

import requests

from tests.conftest import RunningGateway

V4 = "/tmf-api/resourceInventoryManagement/v4"
V5 = "/tmf-api/resourceInventoryManagement/v5"
QUERY_PATCH = {"Content-Type": "application/json-patch-query+json"}
Doc = dict[str, Any]


def characteristic(name: str, value: str) -> Doc:
    return {"@type": "StringCharacteristic", "name": name, "value": value}


def party(id: str, role: str) -> Doc:
    return {
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "role": role,
        "partyOrPartyRole": {"@type": "PartyRef", "id": id, "@referredType": "Individual"},
    }


def resource(tag: str, characteristics: list[Doc], parties: list[Doc]) -> Doc:
    return {
        "@type": "LogicalResource",
        "name": tag,
        "resourceCharacteristic": characteristics,
        "relatedParty": parties,
    }


def created(url: str, body: Doc) -> Doc:
    reply = requests.post(f"{url}{V5}/resource", json=body, timeout=10)
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


def names(url: str, base: str, query: str) -> set[str]:
    reply = requests.get(f"{url}{base}/resource?{query}", timeout=10)
    assert reply.status_code == 200, reply.text
    return {item["name"] for item in reply.json()}


def test_a_json_path_filter_matches_within_one_element(gateway: RunningGateway) -> None:
    url, tag = gateway.url, uuid.uuid4().hex[:8]
    created(url, resource(f"{tag}-a", [characteristic("msisdn", "0176"), characteristic("imsi", "1")], []))
    created(url, resource(f"{tag}-b", [characteristic("msisdn", "1"), characteristic("imsi", "0176")], []))
    same = "filter=resourceCharacteristic[?(@.name=='msisdn' && @.value=='0176')]"
    assert names(url, V5, f"name.regex=^{tag}&{same}") == {f"{tag}-a"}
    # Dotted filters may hold on different elements: both resources.
    dotted = f"name.regex=^{tag}&resourceCharacteristic.name=msisdn&resourceCharacteristic.value=0176"
    assert names(url, V5, dotted) == {f"{tag}-a", f"{tag}-b"}
    # The v4 face reads the same store with the same filter (TMF630 Part 6 is not v5's alone).
    assert names(url, V4, f"name.regex=^{tag}&{same}") == {f"{tag}-a"}


def test_a_v5_filter_on_a_moved_attribute_finds_the_stored_one(gateway: RunningGateway) -> None:
    url, tag = gateway.url, uuid.uuid4().hex[:8]
    created(url, resource(f"{tag}-a", [], [party(f"{tag}-p1", "owner"), party(f"{tag}-p2", "user")]))
    created(url, resource(f"{tag}-b", [], [party(f"{tag}-p1", "user"), party(f"{tag}-p2", "owner")]))
    query = f"filter=relatedParty[?(@.partyOrPartyRole.id=='{tag}-p1' && @.role=='owner')]"
    assert names(url, V5, query) == {f"{tag}-a"}
    v4_query = f"filter=$.relatedParty[?(@.id=='{tag}-p1' && @.role=='owner')]"
    assert names(url, V4, v4_query) == {f"{tag}-a"}


def test_a_v5_filter_value_spelled_otherwise_in_v4_finds_the_v4_document(gateway: RunningGateway) -> None:
    url, tag = gateway.url, uuid.uuid4().hex[:8]
    for name, state in ((f"{tag}-on", "enable"), (f"{tag}-off", "disable")):
        body = {"name": name, "@type": "LogicalResource", "operationalState": state}
        reply = requests.post(f"{url}{V4}/resource", json=body, timeout=10)
        assert reply.status_code == 201, reply.text
    assert names(url, V5, f"name.regex=^{tag}&operationalState=enabled") == {f"{tag}-on"}
    assert names(url, V5, f"name.regex=^{tag}&operationalState.ne=enabled") == {f"{tag}-off"}
    assert names(url, V5, f"name.regex=^{tag}&operationalState=enabled,disabled") == {f"{tag}-on", f"{tag}-off"}
    shown = requests.get(f"{url}{V5}/resource?name={tag}-on&fields=operationalState", timeout=10).json()
    assert [item["operationalState"] for item in shown] == ["enabled"]
    assert names(url, V4, f"name.regex=^{tag}&operationalState=enable") == {f"{tag}-on"}


def test_a_filter_beyond_the_subset_is_a_v5_error(gateway: RunningGateway) -> None:
    for query in ("filter=relatedParty[?(@.role=='a' || @.role=='b')]", "filter=relatedParty", "filter=a..b"):
        reply = requests.get(f"{gateway.url}{V5}/resource?{query}", timeout=10)
        assert reply.status_code == 400, reply.text
        error = reply.json()
        assert error["@type"] == "Error" and error["status"] == "400" and "JSON Path" in error["message"]


def test_a_json_patch_query_changes_the_selected_elements(gateway: RunningGateway) -> None:
    url, tag = gateway.url, uuid.uuid4().hex[:8]
    parties = [party(f"{tag}-p1", "owner"), party(f"{tag}-p2", "user"), party(f"{tag}-p3", "user")]
    chars = [characteristic("msisdn", "0176"), characteristic("imsi", "1")]
    made = created(url, resource(f"{tag}-a", chars, parties))
    patch = [
        {
            "op": "replace",
            "path": "/relatedParty/role?relatedParty.partyOrPartyRole.id=" + f"{tag}-p2",
            "value": "admin",
        },
        {"op": "replace", "path": "$.resourceCharacteristic[?(@.name=='msisdn')].value", "value": "0177"},
        {"op": "remove", "path": "/relatedParty?role=user"},
    ]
    reply = requests.patch(f"{url}{V5}/resource/{made['id']}", json=patch, headers=QUERY_PATCH, timeout=10)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert [(p["partyOrPartyRole"]["id"], p["role"]) for p in body["relatedParty"]] == [
        (f"{tag}-p1", "owner"),
        (f"{tag}-p2", "admin"),
    ]
    assert [c["value"] for c in body["resourceCharacteristic"]] == ["0177", "1"]
    stored = requests.get(f"{url}{V4}/resource/{made['id']}", timeout=10).json()
    assert [(p["id"], p["role"]) for p in stored["relatedParty"]] == [(f"{tag}-p1", "owner"), (f"{tag}-p2", "admin")]


def test_a_json_patch_query_that_selects_nothing_changes_nothing(gateway: RunningGateway) -> None:
    url, tag = gateway.url, uuid.uuid4().hex[:8]
    made = created(url, resource(f"{tag}-a", [characteristic("msisdn", "0176")], [party(f"{tag}-p1", "owner")]))
    patch = [
        {"op": "replace", "path": "/resourceCharacteristic/value?name=msisdn", "value": "9"},
        {"op": "replace", "path": "/relatedParty/role?role=nobody", "value": "admin"},
    ]
    reply = requests.patch(f"{url}{V5}/resource/{made['id']}", json=patch, headers=QUERY_PATCH, timeout=10)
    assert reply.status_code == 400, reply.text
    assert "Operation 2" in reply.json()["message"] and reply.json()["@type"] == "Error"
    again = requests.get(f"{url}{V5}/resource/{made['id']}", timeout=10).json()
    assert again["resourceCharacteristic"][0]["value"] == "0176"
