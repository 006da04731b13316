"""TMF666 v5 beside v4 over one store, on every store: an account or bill cycle created on one version is
read, filtered, patched and deleted on the other, in that version's terms, nothing lost, and each version's
subscribers hear its changes in their own version."""

from __future__ import annotations

import uuid
from pathlib import Path

import requests

from tests.api.clients import BASE_URL, AppClient
from tests.api.test_trouble_tickets import JSON_PATCH, MERGE, Doc, created
from tests.conftest import RunningGateway
from tests.listeners import Entry, ListenerProcess

V4 = f"{BASE_URL}/tmf-api/accountManagement/v4"
V5 = f"{BASE_URL}/tmf-api/accountManagement/v5"


def v5_party(id: str, at_type: str = "PartyRef", referred: str = "Individual") -> Doc:
    return {
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "role": "owner",
        "partyOrPartyRole": {"@type": at_type, "id": id, "name": "Ada", "@referredType": referred},
    }


def v5_account(marker: str, cycle: Doc) -> Doc:
    """A billing account as a v5 client sends it, with what v4 names otherwise or lacks."""
    return {
        "@type": "BillingAccount",
        "name": f"Ada {marker}",
        "ratingType": "postpaid",  # v5 only
        "lastUpdate": "2026-11-30T08:00:00Z",
        "relatedParty": [v5_party(f"ada-{marker}")],
        "billStructure": {
            "@type": "BillStructure",
            "cycleSpecification": {"@type": "BillingCycleSpecificationRef", "id": cycle["id"]},
        },
        "contact": [
            {
                "@type": "Contact",
                "contactType": "billing",
                "relatedParty": v5_party(f"ada-{marker}"),
                "contactMedium": [{"@type": "EmailContactMedium", "emailAddress": "ada@example.com"}],
            }
        ],
        "taxExemption": [
            {
                "@type": "TaxExemptionCertificate",
                "issuingJurisdiction": "FR",
                "validFor": {"startDateTime": "2026-01-01T00:00:00Z"},
            }
        ],
    }


def test_an_account_created_on_v5_reads_on_v4_in_v4_terms_and_back(app_client: AppClient) -> None:
    http, marker = app_client, uuid.uuid4().hex
    cycle = created(
        http,
        f"{V5}/billingCycleSpecification",
        {"@type": "BillingCycleSpecification", "name": "5th", "billingDateShift": 4},
    )
    account = created(http, f"{V5}/billingAccount", v5_account(marker, cycle))
    assert account["href"] == f"{V5}/billingAccount/{account['id']}"
    assert account["lastUpdate"] == "2026-11-30T08:00:00Z" and account["ratingType"] == "postpaid"
    assert account["billStructure"]["cycleSpecification"]["href"] == cycle["href"]
    assert account["relatedParty"] == [v5_party(f"ada-{marker}")]
    stored = http.get(f"{V4}/billingAccount/{account['id']}").json()
    assert stored["lastModified"] == "2026-11-30T08:00:00Z" and "lastUpdate" not in stored
    assert stored["relatedParty"] == [
        {"@type": "RelatedParty", "id": f"ada-{marker}", "name": "Ada", "role": "owner", "@referredType": "Individual"}
    ]
    assert stored["contact"][0]["relatedParty"]["id"] == f"ada-{marker}"
    assert stored["ratingType"] == "postpaid"  # kept beside the v4 attributes
    assert stored["billStructure"]["cycleSpecification"]["href"].startswith(f"{V4}/billingCycleSpecification/")
    assert http.get(account["href"]).json() == account  # nothing lost on the way


def test_an_account_created_on_v4_is_filtered_patched_and_deleted_on_v5(app_client: AppClient) -> None:
    http, marker = app_client, uuid.uuid4().hex
    party = {"id": f"bob-{marker}", "name": "Bob", "role": "owner", "@referredType": "Organization"}
    medium = {"mediumType": "email", "characteristic": {"emailAddress": "bob@example.com"}}
    contact = [{"contactType": "billing", "validFor": {}, "contactMedium": [medium]}]
    body = {"name": f"Bob {marker}", "accountType": "business", "relatedParty": [party], "contact": contact}
    account = created(http, f"{V4}/billingAccount", body)
    faced = f"{V5}/billingAccount/{account['id']}"
    found = http.get(
        f"{V5}/billingAccount",
        params={"relatedParty.partyOrPartyRole.id": party["id"], "fields": "name,lastUpdate,relatedParty"},
    )
    assert found.status_code == 200, found.text
    (shown,) = found.json()
    assert shown["lastUpdate"] == account["lastModified"] and shown["name"] == body["name"]
    assert shown["relatedParty"][0]["partyOrPartyRole"] == {
        "@type": "PartyRef",
        "id": party["id"],
        "name": "Bob",
        "@referredType": "Organization",
    }
    # v4 gives a contact medium no subclass: v5 shows it as stored, under the base class.
    assert http.get(faced).json()["contact"][0]["contactMedium"] == [{**medium, "@type": "ContactMedium"}]
    merged = http.patch(faced, json={"@type": "BillingAccount", "ratingType": "prepaid"}, headers=MERGE)
    assert merged.status_code == 200, merged.text
    assert merged.json()["ratingType"] == "prepaid" and merged.json()["lastUpdate"] >= account["lastModified"]
    renamed = [{"op": "replace", "path": "/relatedParty/0/partyOrPartyRole/name", "value": "Bob Ltd"}]
    patched = http.patch(faced, json=renamed, headers=JSON_PATCH)
    assert patched.status_code == 200, patched.text
    again = http.get(f"{V4}/billingAccount/{account['id']}").json()
    assert again["relatedParty"] == [{**party, "name": "Bob Ltd"}] and again["ratingType"] == "prepaid"
    assert again["accountType"] == "business" and again["lastModified"] == patched.json()["lastUpdate"]
    assert http.delete(faced).status_code == 204
    assert http.get(f"{V4}/billingAccount/{account['id']}").status_code == 404


def test_a_party_role_and_a_bad_v5_account_on_every_account_kind(app_client: AppClient) -> None:
    http, marker = app_client, uuid.uuid4().hex
    for kind in ("billingAccount", "partyAccount", "settlementAccount", "financialAccount"):
        role = v5_party(f"role-{marker}", "PartyRoleRef", "Customer")
        made = created(
            http, f"{V5}/{kind}", {"@type": kind[0].upper() + kind[1:], "name": kind, "relatedParty": [role]}
        )
        assert made["relatedParty"] == [role], kind  # a PartyRoleRef is kept as the v5 client sent it
        stored = http.get(f"{V4}/{kind}/{made['id']}").json()
        assert stored["relatedParty"][0]["id"] == f"role-{marker}", kind
        assert http.get(made["href"]).json() == made, kind
        # The union's own name is no @type a party takes (TMF666's create examples send it), nor is an
        # e-mail address a number: 400, nothing stored.
        bad_party = v5_party("x", "PartyRefOrPartyRoleRef")
        refused = http.post(f"{V5}/{kind}", json={"@type": made["@type"], "name": "x", "relatedParty": [bad_party]})
        assert refused.status_code == 400, refused.text
    mail = {"@type": "EmailContactMedium", "emailAddress": 12}
    contact = [{"@type": "Contact", "contactType": "billing", "contactMedium": [mail]}]
    body = {"@type": "BillingAccount", "name": "x", "relatedParty": [v5_party("x")], "contact": contact}
    assert http.post(f"{V5}/billingAccount", json=body).status_code == 400
    assert len(http.get(f"{V4}/billingAccount", params={"name": "x"}).json()) == 0


def test_a_json_patch_query_on_v5_names_reaches_the_stored_account(app_client: AppClient) -> None:
    http, marker = app_client, uuid.uuid4().hex
    contacts = [
        {"@type": "Contact", "contactType": "secondary", "contactName": name, "contactMedium": []}
        for name in ("Rachel Douglas", "Tom Hill")
    ]
    owners = [v5_party(f"ada-{marker}"), {**v5_party(f"bob-{marker}"), "role": "payer"}]
    body = {"@type": "BillingAccount", "name": "Shared", "relatedParty": owners, "contact": contacts}
    account = created(http, f"{V5}/billingAccount", body)
    patch = [
        {"op": "replace", "path": "/contact/contactType?contactName=Rachel Douglas", "value": "primary"},
        {"op": "replace", "path": f"/relatedParty/role?partyOrPartyRole.id=bob-{marker}", "value": "owner"},
    ]
    query = {"Content-Type": "application/json-patch-query+json"}
    answer = http.patch(account["href"], json=patch, headers=query)
    assert answer.status_code == 200, answer.text
    assert [c["contactType"] for c in answer.json()["contact"]] == ["primary", "secondary"]
    stored = http.get(f"{V4}/billingAccount/{account['id']}").json()
    assert [(p["id"], p["role"]) for p in stored["relatedParty"]] == [
        (f"ada-{marker}", "owner"),
        (f"bob-{marker}", "owner"),
    ]


def test_v4_and_v5_subscribers_hear_an_account_change_each_in_its_version(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    url, marker = gateway.url, uuid.uuid4().hex
    v4, v5 = "/tmf-api/accountManagement/v4", "/tmf-api/accountManagement/v5"
    with ListenerProcess(tmp_path / "v4.log") as old_listener, ListenerProcess(tmp_path / "v5.log") as new_listener:
        old_hub = requests.post(f"{url}{v4}/hub", json={"callback": old_listener.callback}, timeout=10)
        query = (
            f"eventType=BillingAccountCreateEvent&event.billingAccount.relatedParty.partyOrPartyRole.id=ada-{marker}"
        )
        body = {"@type": "Hub", "callback": new_listener.callback, "query": query}
        new_hub = requests.post(f"{url}{v5}/hub", json=body, timeout=10)
        assert old_hub.status_code == new_hub.status_code == 201, new_hub.text
        party = {"id": f"ada-{marker}", "name": "Ada", "role": "owner", "@referredType": "Individual"}
        made = requests.post(f"{url}{v4}/billingAccount", json={"name": "Ada", "relatedParty": [party]}, timeout=10)
        assert made.status_code == 201, made.text
        account = made.json()

        def heard(entries: list[Entry]) -> list[Doc]:
            return [e["body"] for e in entries if e["body"]["event"]["billingAccount"]["id"] == account["id"]]

        old = heard(old_listener.wait_for(lambda got: bool(heard(got)), 20))[0]
        new = heard(new_listener.wait_for(lambda got: bool(heard(got)), 20))[0]
        assert old["eventId"] == new["eventId"] and new["@type"] == new["eventType"] == "BillingAccountCreateEvent"
        assert old["event"]["billingAccount"]["lastModified"] == new["event"]["billingAccount"]["lastUpdate"]
        assert new["event"]["billingAccount"]["relatedParty"][0]["partyOrPartyRole"]["id"] == f"ada-{marker}"
        assert new["event"]["billingAccount"]["href"] == f"{url}{v5}/billingAccount/{account['id']}"
        for hub, base in ((old_hub, v4), (new_hub, v5)):
            assert requests.delete(f"{url}{base}/hub/{hub.json()['id']}", timeout=10).status_code == 204
