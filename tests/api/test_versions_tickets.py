"""TMF621 v5 beside v4 over one store, on every store (in process): a ticket opened on one version is
read, filtered, patched and worked through its lifecycle on the other, in that version's terms."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.clients import BASE_URL, AppClient
from tests.api.test_trouble_tickets import JSON_PATCH, MERGE, Doc, created, customer

V4 = f"{BASE_URL}/tmf-api/troubleTicket/v4/troubleTicket"
V5 = f"{BASE_URL}/tmf-api/troubleTicket/v5/troubleTicket"
PRODUCTS = f"{BASE_URL}/tmf-api/productInventory/v4/product"
TYPED = {"@type": "TroubleTicket"}  # a v5 merge patch names the type it patches (TMF630 v5)


def v5_ticket(who: Doc, product: Doc, marker: str) -> Doc:
    return {
        "@type": "TroubleTicket",
        "description": "No dial tone since the storm.",
        "severity": "major",
        "ticketType": "complaint",
        "externalIdentifier": [{"@type": "ExternalIdentifier", "id": marker}],
        "relatedParty": [
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "customer",
                "partyOrPartyRole": {"@type": "PartyRoleRef", "id": who["id"], "@referredType": "Customer"},
            }
        ],
        "relatedEntity": [
            {
                "@type": "RelatedEntity",
                "role": "affected",
                "entity": {"@type": "EntityRef", "id": product["id"], "@referredType": "Product"},
            }
        ],
    }


def test_a_ticket_opened_on_v5_reads_on_v4_in_v4_terms_and_back(app_client: AppClient) -> None:
    http, marker = app_client, uuid.uuid4().hex
    who, product = customer(http), created(http, PRODUCTS, {"name": "Copper line", "status": "active"})
    ticket = created(http, V5, v5_ticket(who, product, marker))
    assert ticket["href"] == f"{V5}/{ticket['id']}" and ticket["status"] == "acknowledged"
    assert ticket["externalIdentifier"] == [{"@type": "ExternalIdentifier", "id": marker}]
    assert ticket["statusChangeHistory"] == [
        {"@type": "StatusChange", "status": "acknowledged", "statusChangeDate": ticket["creationDate"]}
    ]
    assert ticket["relatedEntity"][0]["entity"]["id"] == product["id"] and "id" not in ticket["relatedEntity"][0]
    stored = http.get(f"{V4}/{ticket['id']}").json()
    assert stored["externalId"] == marker and "externalIdentifier" not in stored
    assert stored["statusChange"] == [{"status": "acknowledged", "changeDate": ticket["creationDate"]}]
    assert stored["relatedEntity"] == [{"id": product["id"], "role": "affected", "@referredType": "Product"}]
    assert stored["relatedParty"][0]["id"] == who["id"] and stored["relatedParty"][0]["role"] == "customer"
    assert http.get(ticket["href"]).json() == ticket  # nothing lost on the way
    # A link to nothing is refused on v5 too, and the ticket stays as it was.
    ghost = v5_ticket(who, {"id": "nowhere"}, marker)["relatedEntity"]
    refused = http.patch(ticket["href"], json={"@type": "TroubleTicket", "relatedEntity": ghost}, headers=MERGE)
    assert refused.status_code == 400 and "nowhere" in refused.json()["message"], refused.text
    assert http.get(ticket["href"]).json() == ticket


def test_a_ticket_opened_on_v4_is_filtered_and_worked_on_v5(app_client: AppClient) -> None:
    http, marker = app_client, uuid.uuid4().hex
    who = customer(http)
    body = {
        "description": "Invoice is twice the usual.",
        "severity": "minor",
        "ticketType": "complaint",
        "externalId": marker,
        "relatedParty": [{"id": who["id"], "role": "customer", "@referredType": "Customer"}],
    }
    ticket = created(http, V4, body)
    # Filters and fields in v5 names find the v4 ticket in the store.
    for query in (
        {"externalIdentifier.id": marker},
        {"relatedParty.partyOrPartyRole.id": who["id"], "statusChangeHistory.status": "acknowledged"},
    ):
        found = http.get(V5, params={**query, "fields": "externalIdentifier,statusChangeHistory"})
        assert found.status_code == 200, found.text
        assert [t["id"] for t in found.json()] == [ticket["id"]], query
        assert found.json()[0]["externalIdentifier"] == [{"@type": "ExternalIdentifier", "id": marker}]
    faced = f"{V5}/{ticket['id']}"
    change = {**TYPED, "status": "inProgress", "statusChangeReason": "Billing team"}
    moved = http.patch(faced, json=change, headers=MERGE)
    assert moved.status_code == 200, moved.text
    assert moved.json()["statusChangeHistory"][-1] == {
        "@type": "StatusChange",
        "status": "inProgress",
        "statusChangeDate": moved.json()["statusChangeDate"],
        "statusChangeReason": "Billing team",
    }
    illegal = http.patch(faced, json={**TYPED, "status": "closed"}, headers=MERGE)
    assert illegal.status_code == 409, illegal.text
    assert http.get(f"{V4}/{ticket['id']}").json()["status"] == "inProgress"


def test_json_patch_pointers_into_the_v5_external_identifier_list(app_client: AppClient) -> None:
    http, marker = app_client, uuid.uuid4().hex
    who, product = customer(http), created(http, PRODUCTS, {"name": "Copper line", "status": "active"})
    ticket = created(http, V5, v5_ticket(who, product, marker))
    renamed = [{"op": "replace", "path": "/externalIdentifier/0/id", "value": f"{marker}-2"}]
    answer = http.patch(ticket["href"], json=renamed, headers=JSON_PATCH)
    assert answer.status_code == 200, answer.text
    assert answer.json()["externalIdentifier"] == [{"@type": "ExternalIdentifier", "id": f"{marker}-2"}]
    assert http.get(f"{V4}/{ticket['id']}").json()["externalId"] == f"{marker}-2"
    whole = [{"op": "replace", "path": "/externalIdentifier", "value": [{"@type": "ExternalIdentifier", "id": marker}]}]
    assert http.patch(ticket["href"], json=whole, headers=JSON_PATCH).json()["externalIdentifier"][0]["id"] == marker
    # A second identifier has no room in the stored string: refused, naming the pointer, nothing changed.
    for pointer in ("/externalIdentifier/-", "/externalIdentifier/1", "/externalIdentifier/0/owner"):
        value: Any = {"@type": "ExternalIdentifier", "id": "x"} if not pointer.endswith("owner") else "crm"
        refused = http.patch(ticket["href"], json=[{"op": "add", "path": pointer, "value": value}], headers=JSON_PATCH)
        assert refused.status_code == 400 and pointer in refused.json()["message"], refused.text
    assert http.get(f"{V4}/{ticket['id']}").json()["externalId"] == marker


def test_trouble_ticket_specifications_are_v5_only_and_dated_by_the_server(app_client: AppClient) -> None:
    http = app_client
    url = f"{BASE_URL}/tmf-api/troubleTicket/v5/troubleTicketSpecification"
    body = {"@type": "TroubleTicketSpecification", "name": f"Outage {uuid.uuid4().hex[:8]}", "version": "1"}
    spec = created(http, url, body)
    assert spec["creationDate"] == spec["lastUpdate"] and spec["href"] == f"{url}/{spec['id']}"
    dated = http.post(url, json={**body, "creationDate": "2020-01-01T00:00:00Z"})
    assert dated.status_code == 400 and "creationDate" in dated.json()["message"], dated.text
    same = http.patch(spec["href"], json={"@type": "TroubleTicketSpecification", "version": "1"}, headers=MERGE)
    assert same.status_code == 200 and same.json()["lastUpdate"] == spec["lastUpdate"]
    changed = http.patch(spec["href"], json={"@type": "TroubleTicketSpecification", "version": "2"}, headers=MERGE)
    assert changed.json()["lastUpdate"] >= spec["lastUpdate"] and changed.json()["creationDate"] == spec["creationDate"]
    assert http.get(f"{BASE_URL}/tmf-api/troubleTicket/v4/troubleTicketSpecification").status_code == 404
