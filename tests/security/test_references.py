"""A partner refers only to its own parties, and its alarms reach only its own alarms and services:
over HTTP with two partners and the back office, on every store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.api.end_to_end import wait
from tests.conftest import RunningGateway
from tests.listeners import ListenerProcess
from tests.security.support import ALL_SCOPES, AUDIENCE, ISSUER, Keys, bearer, make_keys
from tmfgate import codec
from tmfgate.security.references import _party_ids_in, party_references

ORDERING = "/tmf-api/productOrderingManagement/v4"
CUSTOMERS = "/tmf-api/customerManagement/v4"
PARTIES = "/tmf-api/party/v4"
SERVICES = "/tmf-api/serviceInventory/v4"
ALARMS = "/tmf-api/alarmManagement/v4"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def tenanted(store: str, keys: Keys) -> Iterator[RunningGateway]:
    settings = {"auth": "jwt", "jwks": str(keys.jwks), "issuer": ISSUER, "audience": AUDIENCE}
    with RunningGateway(store, fulfilment=False, **settings) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(keys: Keys) -> dict[str, dict[str, str]]:
    return {
        "a": bearer(keys.token("partner-a")),
        "b": bearer(keys.token("partner-b")),
        "all": bearer(keys.token("back-office", ALL_SCOPES + " tmfgate:all")),
    }


def post(url: str, token: dict[str, str], body: Any, status: int = 201) -> Any:
    answer = requests.post(url, json=body, headers=token, timeout=10)
    assert answer.status_code == status, answer.text
    return answer.json()


def order(*parties: dict[str, Any]) -> dict[str, Any]:
    item = {"id": "1", "action": "add", "productOffering": {"id": "po-fibre-500"}}
    return {"productOrderItem": [item], "relatedParty": list(parties)}


def test_party_references_are_found_at_any_depth_with_where_they_stand() -> None:
    doc = {
        "relatedParty": [{"id": "c-1", "role": "customer"}, {"role": "x"}],
        "productOrderItem": [{"product": {"relatedParty": [{"id": "c-2"}]}}],
        "engagedParty": {"id": "p-1"},
        "v5": {"relatedParty": [{"role": "owner", "partyOrPartyRole": {"id": "p-2"}}]},
        "note": [{"text": "relatedParty"}],
    }
    assert sorted(party_references(doc)) == [
        ("engagedParty", "p-1"),
        ("productOrderItem[0].product.relatedParty[0]", "c-2"),
        ("relatedParty[0]", "c-1"),
        ("v5.relatedParty[0].partyOrPartyRole", "p-2"),
    ]


def test_the_ids_found_in_json_text_are_those_of_the_decoded_document() -> None:
    doc = {
        "relatedParty": [{"id": "c-1", "role": "customer"}, {"role": "x"}, "not a reference", {"id": ""}],
        "productOrderItem": [{"product": {"relatedParty": [{"id": "c-2", "party": {"id": "p-9"}}]}}],
        "engagedParty": {"id": "p-1", "name": 'Zoë \u2013 "quoted"'},
        "v5": {"relatedParty": [{"role": "owner", "partyOrPartyRole": {"id": "p-2"}}]},
        "note": [{"text": '{"relatedParty":[{"id":"in-a-string"}],"customer":{"id":"nor-this"}}'}],
        "relatedPartyRef": {"id": "r-1"},
        "customerName": {"id": "not-a-holder"},
        "customer": [],
    }
    assert _party_ids_in(codec.dumps(doc)) == {id for _, id in party_references(doc)}
    assert _party_ids_in(codec.dumps(doc)) == {"c-1", "c-2", "p-9", "p-1", "p-2", "r-1"}


def test_an_order_may_name_only_the_partners_own_customer(
    tenanted: RunningGateway, tokens: dict[str, dict[str, str]]
) -> None:
    url = tenanted.url
    a, b = tokens["a"], tokens["b"]
    body = {"name": "Ada", "engagedParty": {"id": f"ext-{uuid.uuid4().hex[:8]}", "@referredType": "Individual"}}
    customer = post(f"{url}{CUSTOMERS}/customer", a, body)
    theirs = {"id": customer["id"], "role": "customer", "@referredType": "Customer"}

    refused = post(f"{url}{ORDERING}/productOrder", b, order(theirs), 400)
    assert "relatedParty[0]" in refused["message"] and "Ada" not in refused["message"]
    stored = requests.get(
        f"{url}{ORDERING}/productOrder", params={"relatedParty.id": customer["id"]}, headers=tokens["all"]
    )
    assert stored.headers["X-Total-Count"] == "0"  # nothing stored for the refused order

    post(f"{url}{ORDERING}/productOrder", a, order(theirs))  # the owner's own customer
    post(f"{url}{ORDERING}/productOrder", tokens["all"], order(theirs))  # the back office names anyone's
    outside = {
        "id": f"crm-{uuid.uuid4().hex[:8]}",
        "role": "customer",
        "@referredType": "Individual",
    }  # a party the gateway does not keep
    own = post(f"{url}{ORDERING}/productOrder", b, order(outside))

    item = f"{url}{ORDERING}/productOrder/{own['id']}"
    changed = requests.patch(item, json={"relatedParty": [outside, theirs]}, headers={**MERGE, **b}, timeout=10)
    assert changed.status_code == 400 and "relatedParty[1]" in changed.json()["message"], changed.text
    assert requests.get(item, headers=b, timeout=10).json()["relatedParty"] == [outside]


def test_a_customer_may_engage_only_the_partners_own_party(
    tenanted: RunningGateway, tokens: dict[str, dict[str, str]]
) -> None:
    url = tenanted.url
    individual = post(f"{url}{PARTIES}/individual", tokens["a"], {"givenName": "Ada", "familyName": "Lovelace"})
    body = {"name": "Ada", "engagedParty": {"id": individual["id"], "@referredType": "Individual"}}
    refused = post(f"{url}{CUSTOMERS}/customer", tokens["b"], body, 400)
    assert "engagedParty" in refused["message"]
    post(f"{url}{CUSTOMERS}/customer", tokens["a"], body)


def report(obj: str, **extra: Any) -> dict[str, Any]:
    return {
        "alarmType": "communicationsAlarm",
        "perceivedSeverity": "major",
        "probableCause": "lossOfSignal",
        "alarmedObject": {"id": obj, "@referredType": "Service"},
        "sourceSystemId": "ems-1",
        "state": "raised",
        "alarmRaisedTime": "2026-11-25T08:00:00.000Z",
        **extra,
    }


def test_a_partners_alarm_reaches_only_its_own_alarms_and_services(
    tenanted: RunningGateway, tokens: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    with ListenerProcess(tmp_path / "a.jsonl") as heard_by_a, ListenerProcess(tmp_path / "b.jsonl") as heard_by_b:
        for listener, token in ((heard_by_a, tokens["a"]), (heard_by_b, tokens["b"])):
            hub = {"callback": listener.callback, "query": "eventType=ServiceAttributeValueChangeEvent"}
            post(f"{tenanted.url}{SERVICES}/hub", token, hub)
        service = alarms_of_two_partners(tenanted.url, tokens["a"], tokens["b"])
        # The impact of A's alarm on A's service reaches A's subscriber, and B's hears of nothing.
        heard = heard_by_a.wait_for(lambda got: len(got) >= 1, 30, "the impact on A's service")
        assert [e["body"]["event"]["service"]["id"] for e in heard] == [service]
        assert heard_by_b.delivered() == []


def alarms_of_two_partners(url: str, a: dict[str, str], b: dict[str, str]) -> str:
    """B's alarms and tasks leave A's alarm and service alone, A's own alarm impacts it; its id."""
    line = {"name": "Leased line", "state": "active", "serviceSpecification": {"id": "ss-leased-line"}}
    service = post(f"{url}{SERVICES}/service", a, line)
    service_url = f"{url}{SERVICES}/service/{service['id']}"

    # B's report about A's service, even naming it in affectedService, leaves it alone.
    named = [{"id": service["id"]}]
    foreign = post(f"{url}{ALARMS}/alarm", b, report(service["id"], affectedService=named))
    assert foreign["affectedService"] == named  # kept as B gave it, and nothing of A's added
    assert "isServiceEnabled" not in requests.get(service_url, headers=a, timeout=10).json()
    quiet = post(f"{url}{ALARMS}/alarm", b, report(service["id"], probableCause="powerProblem"))
    assert "affectedService" not in quiet

    # A's own report impacts it (the control); B's identical report makes an alarm of B's own.
    own = post(f"{url}{ALARMS}/alarm", a, report(service["id"], probableCause="powerProblem"))
    assert [entry["id"] for entry in own["affectedService"]] == [service["id"]]
    assert requests.get(service_url, headers=a, timeout=10).json()["isServiceEnabled"] is False
    again = post(f"{url}{ALARMS}/alarm", b, report(service["id"], probableCause="powerProblem"))
    assert again["id"] == quiet["id"] != own["id"]

    # B cannot delete, clear or comment A's alarm.
    own_url = f"{url}{ALARMS}/alarm/{own['id']}"
    assert requests.delete(own_url, headers=b, timeout=10).status_code == 404
    clear = {"clearSystemId": "noc", "clearUserId": "u1", "alarmPattern": [{"id": own["id"]}]}
    cleared = post(f"{url}{ALARMS}/clearAlarms", b, {**clear, "alarmClearedTime": "2026-11-25T12:00:00Z"})
    assert cleared.get("clearedAlarm", []) == [] and cleared["state"] == "terminatedWithError"
    comment = {"comment": {"comment": "mine now"}, "alarmPattern": [{"alarmedObject": {"id": service["id"]}}]}
    post(f"{url}{ALARMS}/commentAlarms", b, comment)
    mine = requests.get(own_url, headers=a, timeout=10).json()
    assert mine["state"] == "raised" and "comment" not in mine
    assert requests.get(service_url, headers=a, timeout=10).json()["isServiceEnabled"] is False
    return str(service["id"])


def test_a_customer_kept_by_another_partners_product_is_not_deleted_nor_is_that_product_named(
    tenanted: RunningGateway, tokens: dict[str, dict[str, str]]
) -> None:
    url = tenanted.url
    body = {"name": "Ada", "engagedParty": {"id": f"ext-{uuid.uuid4().hex[:8]}", "@referredType": "Individual"}}
    customer = post(f"{url}{CUSTOMERS}/customer", tokens["a"], body)
    party = {"id": customer["id"], "role": "customer", "@referredType": "Customer"}
    product = {"name": "Back-office line", "status": "active", "relatedParty": [party]}
    kept = post(f"{url}/tmf-api/productInventory/v4/product", tokens["all"], product)
    refused = requests.delete(f"{url}{CUSTOMERS}/customer/{customer['id']}", headers=tokens["a"], timeout=10)
    assert refused.status_code == 409, refused.text
    assert kept["id"] not in refused.text and "Back-office line" not in refused.text
    assert "1 of another partner" in refused.json()["message"]


def test_a_ticket_links_only_to_the_partners_own_parties_and_entities(
    tenanted: RunningGateway, tokens: dict[str, dict[str, str]]
) -> None:
    url = tenanted.url
    tickets = f"{url}/tmf-api/troubleTicket/v4/troubleTicket"
    a, b = tokens["a"], tokens["b"]
    body = {"name": "Grace", "engagedParty": {"id": f"ext-{uuid.uuid4().hex[:8]}", "@referredType": "Individual"}}
    customer = post(f"{url}{CUSTOMERS}/customer", a, body)
    line = {"name": "Leased line", "state": "active", "serviceSpecification": {"id": "ss-leased-line"}}
    service = post(f"{url}{SERVICES}/service", a, line)
    ticket = {
        "description": "My line drops every evening.",
        "severity": "minor",
        "ticketType": "complaint",
        "relatedParty": [{"id": customer["id"], "role": "customer", "@referredType": "Customer"}],
        "relatedEntity": [{"id": service["id"], "role": "affected", "@referredType": "Service"}],
    }
    assert "relatedParty" in post(tickets, b, {**ticket, "relatedEntity": []}, 400)["message"]
    b_customer = post(f"{url}{CUSTOMERS}/customer", b, {**body, "name": "Hopper"})
    mine = {"id": b_customer["id"], "@referredType": "Customer", "role": "customer"}
    assert "relatedEntity" in post(tickets, b, {**ticket, "relatedParty": [mine]}, 400)["message"]
    made = post(tickets, b, {**ticket, "relatedParty": [mine], "relatedEntity": []})
    patch = {"relatedEntity": ticket["relatedEntity"]}
    changed = requests.patch(f"{tickets}/{made['id']}", json=patch, headers={**MERGE, **b}, timeout=10)
    assert changed.status_code == 400, changed.text
    post(tickets, a, ticket)  # A's own customer and service


def test_another_partners_alarm_opens_no_incident_on_a_partners_products(
    tenanted: RunningGateway, tokens: dict[str, dict[str, str]]
) -> None:
    url = tenanted.url
    tickets = f"{url}/tmf-api/troubleTicket/v4/troubleTicket"
    a, b = tokens["a"], tokens["b"]
    body = {"name": "Grace", "engagedParty": {"id": f"ext-{uuid.uuid4().hex[:8]}", "@referredType": "Individual"}}
    customer = post(f"{url}{CUSTOMERS}/customer", a, body)
    line = {"name": "Leased line", "state": "active", "serviceSpecification": {"id": "ss-leased-line"}}
    service = post(f"{url}{SERVICES}/service", a, line)
    party = {"id": customer["id"], "role": "customer", "@referredType": "Customer"}
    realizing = [{"id": service["id"], "@referredType": "Service"}]
    product = {"name": "Line", "status": "active", "relatedParty": [party], "realizingService": realizing}
    post(f"{url}/tmf-api/productInventory/v4/product", a, product)
    own_service = post(f"{url}{SERVICES}/service", b, line)
    named = [{"id": service["id"]}]  # B names A's service as affected, by id
    post(f"{url}{ALARMS}/alarm", b, report(own_service["id"], perceivedSeverity="critical", affectedService=named))
    post(f"{url}{ALARMS}/alarm", a, report(service["id"], perceivedSeverity="critical"))

    def incidents(token: dict[str, str]) -> Any:
        found = requests.get(tickets, params={"relatedParty.id": customer["id"]}, headers=token, timeout=10)
        return found.json()

    opened = wait(lambda: incidents(a), lambda found: len(found) >= 1, 30, "A's incident")
    assert len(opened) == 1 and opened[0]["ticketType"] == "incident"
    assert incidents(b) == []
    assert [t["id"] for t in incidents(tokens["all"])] == [opened[0]["id"]]  # none made for B
