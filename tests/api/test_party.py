"""TMF632 Party Management over HTTP, on every store: individuals and organizations with TMF630
behaviour, their status lifecycle and refused bodies (in process), and the events a real listener hears."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.api.clients import BASE_URL, AppClient
from tests.conftest import RunningGateway
from tests.listeners import Entry, ListenerProcess

PARTY = "/tmf-api/party/v4"
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
Doc = dict[str, Any]
Http = Any  # the in-process AppClient, or a requests.Session of a real server


def individual(**more: Any) -> Doc:
    """An individual of a family name no other test uses, so filters find only its own."""
    return {"givenName": "Ada", "familyName": f"Lovelace-{uuid.uuid4().hex[:8]}", **more}


def organization(**more: Any) -> Doc:
    return {"tradingName": f"Analytical Engines {uuid.uuid4().hex[:8]}", **more}


NEW = {"individual": individual, "organization": organization}
END = {"individual": "deceased", "organization": "closed"}


def post(http: Http, url: str, kind: str, body: Any) -> Any:
    return http.post(f"{url}{PARTY}/{kind}", json=body)


def create(http: Http, url: str, kind: str, body: Doc) -> Doc:
    created = post(http, url, kind, body)
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def patch(http: Http, url: str, kind: str, id: str, body: Any, headers: dict[str, str] = MERGE) -> Any:
    return http.patch(f"{url}{PARTY}/{kind}/{id}", json=body, headers=headers)


def listed(http: Http, url: str, kind: str, **params: str) -> Any:
    found = http.get(f"{url}{PARTY}/{kind}", params=params)
    assert found.status_code in (200, 206), found.text
    return found


def test_an_individual_is_created_found_changed_and_deleted(app_client: AppClient) -> None:
    http, url = app_client, BASE_URL
    email = {"mediumType": "email", "preferred": True, "characteristic": {"emailAddress": "ada@example.org"}}
    ada = create(
        http,
        url,
        "individual",
        individual(birthDate="1815-12-10T00:00:00Z", contactMedium=[email], languageAbility=[{"languageCode": "en"}]),
    )
    href = f"{url}{PARTY}/individual/{ada['id']}"
    assert ada["href"] == href and ada["@type"] == "Individual" and ada["status"] == "initialized"
    assert http.get(href).json() == ada
    family = ada["familyName"]
    babbage = create(http, url, "individual", individual(givenName="Charles", familyName=family))
    both = listed(http, url, "individual", familyName=family)
    assert both.headers["X-Total-Count"] == "2" and {p["id"] for p in both.json()} == {ada["id"], babbage["id"]}
    # Filters run in the store: a nested array attribute, a date compared as an instant, fields.
    by_email = listed(http, url, "individual", **{"contactMedium.characteristic.emailAddress": "ada@example.org"})
    assert [p["id"] for p in by_email.json()] == [ada["id"]]
    born = listed(http, url, "individual", familyName=family, **{"birthDate.lt": "1900-01-01", "fields": "givenName"})
    assert born.json() == [{"id": ada["id"], "href": href, "givenName": "Ada"}]
    page = listed(http, url, "individual", familyName=family, limit="1", sort="givenName")
    assert page.status_code == 206 and [p["givenName"] for p in page.json()] == ["Ada"]

    titled = patch(http, url, "individual", ada["id"], {"title": "Countess", "nationality": "GB"})
    assert titled.status_code == 200 and titled.json()["title"] == "Countess"
    renamed = patch(
        http, url, "individual", ada["id"], [{"op": "add", "path": "/middleName", "value": "King"}], JSON_PATCH
    )
    assert renamed.status_code == 200 and renamed.json()["middleName"] == "King"
    assert http.get(href).json() == renamed.json()
    moved = patch(http, url, "individual", ada["id"], {"id": "another"})
    assert moved.status_code == 400 and "id cannot be changed" in moved.json()["message"]

    assert http.delete(href).status_code == 204
    gone = http.get(href)
    assert gone.status_code == 404 and gone.json()["message"] == f"No individual with id {ada['id']} exists."
    assert [p["id"] for p in listed(http, url, "individual", familyName=family).json()] == [babbage["id"]]


def test_an_organization_is_created_found_changed_and_deleted(app_client: AppClient) -> None:
    http, url = app_client, BASE_URL
    group = create(http, url, "organization", organization(isHeadOffice=True, organizationType="company"))
    branch = create(
        http,
        url,
        "organization",
        organization(
            isLegalEntity=False,
            existsDuring={"startDateTime": "2020-01-01T00:00:00Z"},
            organizationParentRelationship={"relationshipType": "branch", "organization": {"id": group["id"]}},
            organizationIdentification=[{"identificationId": "RCS-42", "identificationType": "registration"}],
        ),
    )
    href = f"{url}{PARTY}/organization/{branch['id']}"
    assert branch["href"] == href and branch["@type"] == "Organization" and branch["status"] == "initialized"
    children = listed(http, url, "organization", **{"organizationParentRelationship.organization.id": group["id"]})
    assert [o["id"] for o in children.json()] == [branch["id"]]
    not_legal = listed(http, url, "organization", isLegalEntity="false", tradingName=branch["tradingName"])
    assert [o["id"] for o in not_legal.json()] == [branch["id"]]
    registered = listed(http, url, "organization", **{"organizationIdentification.identificationId": "RCS-42"})
    assert branch["id"] in {o["id"] for o in registered.json()}
    since = listed(
        http, url, "organization", tradingName=branch["tradingName"], **{"existsDuring.startDateTime.gte": "2019-06-01"}
    )
    assert [o["id"] for o in since.json()] == [branch["id"]]

    renamed = patch(http, url, "organization", branch["id"], {"name": "Engines SARL", "nameType": "legal"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Engines SARL"
    assert http.get(href, params={"fields": "name"}).json() == {
        "id": branch["id"],
        "href": href,
        "name": "Engines SARL",
    }
    assert http.delete(href).status_code == 204
    assert http.delete(href).status_code == 404
    assert listed(http, url, "organization", tradingName=branch["tradingName"]).json() == []


@pytest.mark.parametrize("kind", ["individual", "organization"])
def test_the_status_follows_the_party_lifecycle(app_client: AppClient, kind: str) -> None:
    http, url, end = app_client, BASE_URL, END[kind]
    party = create(http, url, kind, NEW[kind]())
    assert party["status"] == "initialized"
    validated = patch(http, url, kind, party["id"], {"status": "validated"})
    assert validated.status_code == 200 and validated.json()["status"] == "validated"
    undo = patch(http, url, kind, party["id"], {"status": "initialized"})
    assert undo.status_code == 409, undo.text
    assert undo.json()["reason"] == "Illegal state change"
    assert undo.json()["message"] == (
        f"The {kind} cannot change from validated to initialized: from validated it can go to {end}."
    )
    removed = patch(http, url, kind, party["id"], [{"op": "remove", "path": "/status"}], JSON_PATCH)
    assert removed.status_code == 400 and "status cannot be removed" in removed.json()["message"]
    assert patch(http, url, kind, party["id"], {"status": None}).status_code == 400
    assert patch(http, url, kind, party["id"], {"status": "dormant"}).status_code == 400
    ended = patch(http, url, kind, party["id"], {"status": end})
    assert ended.status_code == 200 and ended.json()["status"] == end
    again = patch(http, url, kind, party["id"], {"status": "validated"})
    assert again.status_code == 409 and f"{end} is a final state" in again.json()["message"]
    # An ended party's other attributes may still be corrected.
    assert patch(http, url, kind, party["id"], {"relatedParty": []}).status_code == 200
    assert http.get(f"{url}{PARTY}/{kind}/{party['id']}").json()["status"] == end
    # Validation is no precondition of the end.
    early = create(http, url, kind, NEW[kind]())
    assert patch(http, url, kind, early["id"], {"status": end}).json()["status"] == end


def test_a_status_given_on_create_is_kept_and_the_official_spelling_stored_as_deceased(app_client: AppClient) -> None:
    http, url = app_client, BASE_URL
    imported = create(http, url, "organization", organization(status="validated"))
    assert imported["status"] == "validated"
    late = create(http, url, "individual", individual(status="deceaded", deathDate="1852-11-27T00:00:00Z"))
    assert late["status"] == "deceased"
    alive = create(http, url, "individual", individual(familyName=late["familyName"]))
    died = patch(http, url, "individual", alive["id"], {"status": "deceaded"})
    assert died.status_code == 200 and died.json()["status"] == "deceased"
    found = listed(http, url, "individual", familyName=late["familyName"], status="deceased").json()
    assert {p["id"] for p in found} == {late["id"], alive["id"]}
    assert listed(http, url, "individual", familyName=late["familyName"], status="deceaded").json() == []
    # Organizations never had the typo: deceased is no organization status.
    assert post(http, url, "organization", organization(status="deceased")).status_code == 400


@pytest.mark.parametrize(
    ("kind", "body", "says"),
    [
        ("individual", individual(id="i-1"), "id is set by the server"),
        ("individual", individual(href="http://elsewhere/i-1"), "href is set by the server"),
        ("individual", {"givenName": "Ada"}, "missing the required attribute familyName"),
        ("individual", individual(status="dead"), "status"),
        ("individual", individual(birthDate="10 December 1815"), "birthDate is not valid"),
        ("individual", individual(relatedParty=[{"id": "ada-guardian"}]), "@referredType"),
        ("individual", individual(contactMedium={"mediumType": "email"}), "contactMedium must be of type array"),
        ("organization", organization(id="o-1"), "id is set by the server"),
        ("organization", {"name": "No trading name"}, "missing the required attribute tradingName"),
        ("organization", organization(status="deceased"), "status"),
        ("organization", organization(isLegalEntity="yes"), "isLegalEntity"),
        (
            "organization",
            organization(organizationChildRelationship=[{"organization": {}}]),
            "organizationChildRelationship[0].organization.id",
        ),
    ],
    ids=[
        "individual-id",
        "individual-href",
        "individual-no-family-name",
        "individual-unknown-status",
        "individual-bad-date",
        "individual-party-without-type",
        "individual-medium-not-a-list",
        "organization-id",
        "organization-no-trading-name",
        "organization-individual-status",
        "organization-boolean-as-text",
        "organization-child-without-id",
    ],
)
def test_a_bad_party_is_refused_with_a_tmf_error_and_nothing_stored(
    app_client: AppClient, kind: str, body: Doc, says: str
) -> None:
    http, url = app_client, BASE_URL
    before = listed(http, url, kind).headers["X-Total-Count"]
    refused = post(http, url, kind, body)
    assert refused.status_code == 400, refused.text
    error = refused.json()
    assert error["status"] == "400" and error["code"] and error["reason"]
    assert says in error["message"], error["message"]
    assert listed(http, url, kind).headers["X-Total-Count"] == before


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_an_unknown_party_is_a_404(app_client: AppClient, method: str) -> None:
    for kind in NEW:
        answer = app_client.request(
            method, f"{BASE_URL}{PARTY}/{kind}/no-such-party", json={"title": "x"}, headers=MERGE
        )
        assert answer.status_code == 404 and answer.json()["message"] == f"No {kind} with id no-such-party exists."


def test_subscribers_hear_of_every_change_of_a_party(gateway: RunningGateway, tmp_path: Path) -> None:
    http, url = requests.Session(), gateway.url
    with ListenerProcess(tmp_path / "listener.log") as listener:
        hub = http.post(f"{url}{PARTY}/hub", json={"callback": listener.callback}, timeout=10)
        assert hub.status_code == 201, hub.text
        ada = create(http, url, "individual", individual())
        validated = patch(http, url, "individual", ada["id"], {"status": "validated"}).json()
        titled = patch(http, url, "individual", ada["id"], {"title": "Countess"}).json()
        company = create(http, url, "organization", organization())
        closed = patch(http, url, "organization", company["id"], {"status": "closed"}).json()
        assert requests.delete(ada["href"], timeout=10).status_code == 204
        expected = [
            ("IndividualCreateEvent", ada),
            ("IndividualStateChangeEvent", validated),
            ("IndividualAttributeValueChangeEvent", titled),
            ("IndividualDeleteEvent", titled),
            ("OrganizationCreateEvent", company),
            ("OrganizationStateChangeEvent", closed),
        ]

        def mine(got: list[Entry]) -> list[tuple[str, Doc]]:
            """(eventType, resource) of this test's parties, each event once (delivery is at least once)."""
            first = {entry["body"]["eventId"]: entry["body"] for entry in reversed(got)}
            return [
                (body["eventType"], resource)
                for body in reversed(first.values())
                for resource in body["event"].values()
                if resource.get("id") in (ada["id"], company["id"])
            ]

        got = listener.wait_for(lambda got: sorted(mine(got), key=str) == sorted(expected, key=str), 20)
        assert [event_type for event_type, _ in mine(got) if event_type.startswith("Individual")] == [
            event_type for event_type, _ in expected[:4]
        ]
        for entry in got:
            body = entry["body"]
            assert body["domain"] == "party" and body["eventId"] and body["timeOcurred"]
            assert list(body["event"]) == [
                "individual" if body["eventType"].startswith("Individual") else "organization"
            ]
        change = next(e["body"] for e in got if e["body"]["eventType"] == "IndividualAttributeValueChangeEvent")
        assert change["fieldPath"] == "title"
        assert requests.delete(f"{url}{PARTY}/hub/{hub.json()['id']}", timeout=10).status_code == 204
