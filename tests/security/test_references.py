"""A partner refers only to its own parties, and its alarms reach only its own alarms and services:
over HTTP with two partners and the back office, on every store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import RunningGateway
from tests.security.support import ALL_SCOPES, AUDIENCE, ISSUER, Keys, bearer, make_keys
from tmfgate.security.references import party_references

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
    tenanted: RunningGateway, tokens: dict[str, dict[str, str]]
) -> None:
    url = tenanted.url
    a, b = tokens["a"], tokens["b"]
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
