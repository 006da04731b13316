"""Tenancy of what moves money, over HTTP with two partners and the back office on every store: TMF635
usage charges only a partner's own products, TMF676 payments and refunds touch only its own bills and
credit, and TMF621 outage credits and escalations stay with the partner whose product or alarm it is.
What the back office does for a partner (usage from mediation, a ticket it resolves) is billed to that
partner, whose product it is."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import RunningGateway
from tests.listeners import ListenerProcess
from tests.security.support import ALL_SCOPES, AUDIENCE, ISSUER, Keys, bearer, make_keys
from tmfgate import times

USAGE = "/tmf-api/usageManagement/v4"
PRODUCTS = "/tmf-api/productInventory/v4/product"
BILLING = "/tmf-api/customerBillManagement/v4"
RATES = BILLING + "/appliedCustomerBillingRate"
PAYMENTS = "/tmf-api/paymentManagement/v4"
TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
SERVICES = "/tmf-api/serviceInventory/v4/service"
ALARMS = "/tmf-api/alarmManagement/v4/alarm"
MERGE = {"Content-Type": "application/merge-patch+json"}
PARTY = {"id": "ext-grace", "@referredType": "Individual"}
FEE = {
    "name": "Mobile monthly fee",
    "priceType": "recurring",
    "recurringChargePeriod": "month",
    "price": {"dutyFreeAmount": {"unit": "EUR", "value": 30.0}},
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def tenanted(store: str, keys: Keys) -> Iterator[RunningGateway]:
    settings = {"auth": "jwt", "jwks": str(keys.jwks), "issuer": ISSUER, "audience": AUDIENCE}
    with RunningGateway(store, fulfilment=False, retry_delay=0.1, retry_delay_max=0.5, **settings) as running:
        yield running


class Partner:
    """One partner's (or the back office's) client of the gateway."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.headers.update(bearer(token))

    def post(self, path: str, body: Any, status: int = 201) -> Any:
        answer = self.http.post(self.url + path, json=body, timeout=30)
        assert answer.status_code == status, answer.text
        return answer.json()

    def patch(self, path: str, body: Any, status: int = 200) -> Any:
        answer = self.http.patch(self.url + path, json=body, headers=MERGE, timeout=30)
        assert answer.status_code == status, answer.text
        return answer.json() if answer.content else None

    def get(self, path: str, status: int = 200, **params: str) -> Any:
        answer = self.http.get(self.url + path, params=params, timeout=10)
        assert answer.status_code in ((200, 206) if status == 200 else (status,)), answer.text
        return answer.json()

    def delete(self, path: str) -> int:
        return self.http.delete(self.url + path, timeout=10).status_code

    def product(self, account: str, **more: Any) -> str:
        """An active Mobile 10 GB product of the account, started last month, with a monthly fee."""
        today = dt.datetime.now(dt.UTC).date()
        start = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        body = {
            "name": "Mobile 10 GB",
            "status": "active",
            "startDate": f"{start.isoformat()}T00:00:00Z",
            "productOffering": {"id": "po-mobile-10gb", "@referredType": "ProductOffering"},
            "billingAccount": {"id": account, "@referredType": "BillingAccount"},
            "productPrice": [FEE],
            **more,
        }
        return str(self.post(PRODUCTS, body)["id"])

    def usage(self, product: str, gigabytes: str, status: int = 201) -> Any:
        return self.post(f"{USAGE}/usage", record(product, gigabytes), status)

    def rates(self, product: str) -> list[dict[str, Any]]:
        return self.get(RATES, **{"product.id": product})  # type: ignore[no-any-return]

    def sent_bill(self, account: str) -> dict[str, Any]:
        """The partner's bill of the account, sent to the customer."""
        task = self.post(f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": account}})
        assert task["state"] == "done", task
        path = f"{BILLING}/customerBill/{task['customerBill']['id']}"
        for state in ("validated", "sent"):
            self.patch(path, {"state": state})
        return self.get(path)  # type: ignore[no-any-return]


def record(product: str, gigabytes: str) -> dict[str, Any]:
    return {
        "usageDate": times.now(),
        "usageType": "data",
        "ratedProductUsage": [{"productRef": {"id": product}}],
        "usageCharacteristic": [{"name": "quantity", "value": gigabytes}, {"name": "unit", "value": "GB"}],
    }


@pytest.fixture
def partners(tenanted: RunningGateway, keys: Keys) -> tuple[Partner, Partner, Partner]:
    """Partner A, partner B, and the operator's back office (which sees every partner's)."""
    return (
        Partner(tenanted.url, keys.token("partner-a")),
        Partner(tenanted.url, keys.token("partner-b")),
        Partner(tenanted.url, keys.token("back-office", ALL_SCOPES + " tmfgate:all")),
    )


def account() -> str:
    return f"ba-{uuid.uuid4().hex[:8]}"


def test_usage_is_charged_to_the_partners_own_products_only(partners: tuple[Partner, Partner, Partner]) -> None:
    a, b, back_office = partners
    mine = a.product(account())
    missing = f"no-such-{uuid.uuid4().hex[:8]}"
    nowhere = b.usage(missing, "20")
    theirs = b.usage(mine, "20")  # B names A's product: as unknown to B as one that does not exist
    assert (theirs["status"], nowhere["status"]) == ("rejected", "rejected")
    assert theirs["rejectionReason"].replace(mine, "X") == nowhere["rejectionReason"].replace(missing, "X")
    batch = b.post("/tmfgate/usage/v1/usageBatch", [record(mine, "5"), record(mine, "6")], 200)
    assert len(batch["parked"]) == 2, batch
    assert a.rates(mine) == []  # nothing charged to A's product by B

    rated = a.usage(mine, "20")  # 10 GB over the allowance
    assert rated["status"] == "rated", rated
    (charge,) = a.rates(mine)
    assert b.rates(mine) == []
    b.get(f"{RATES}/{charge['id']}", 404)
    own = f"{USAGE}/usage/{rated['id']}"
    b.get(own, 404)
    b.patch(own, {"description": "mine now"}, 404)
    assert b.delete(own) == 404
    assert b.get(f"{USAGE}/usage", id=rated["id"]) == []
    assert "description" not in a.get(own)

    # Usage the back office's mediation sends for A's product is billed to A, whose product it is.
    fresh = a.product(account())
    sent = back_office.usage(fresh, "20")
    assert sent["status"] == "rated"
    (billed,) = a.rates(fresh)
    # The record is A's as its charge is: A reads it, lists it and finds it by its product; B does not.
    assert a.get(f"{USAGE}/usage/{sent['id']}")["id"] == sent["id"]
    assert [u["id"] for u in a.get(f"{USAGE}/usage", **{"ratedProductUsage.productRef.id": fresh})] == [sent["id"]]
    b.get(f"{USAGE}/usage/{sent['id']}", 404)
    assert back_office.get(f"{USAGE}/usage/{sent['id']}")["id"] == sent["id"]
    # The back office's Idempotency-Key still answers its retry with the first answer, A's record.
    key, body = {"Idempotency-Key": uuid.uuid4().hex}, record(fresh, "1")
    first, again = (back_office.http.post(back_office.url + f"{USAGE}/usage", json=body, headers=key) for _ in "12")
    assert (first.status_code, again.status_code, again.json()) == (201, 201, first.json())
    assert a.get(f"{USAGE}/usage/{first.json()['id']}")["status"] == "rated"
    # A record of no product stays the back office's own.
    unknown = back_office.usage(missing, "1")
    a.get(f"{USAGE}/usage/{unknown['id']}", 404)
    assert b.rates(fresh) == []
    bill = a.sent_bill(billed["billingAccount"]["id"])
    assert billed["id"] in {r["id"] for r in a.get(RATES, **{"bill.id": bill["id"]})}


def test_payments_and_refunds_touch_only_the_partners_own_bills_and_credit(
    partners: tuple[Partner, Partner, Partner],
) -> None:
    a, b, _ = partners
    shared = account()  # both partners name the same billing account id
    a.usage(a.product(shared), "15")
    b.product(shared)
    bill = a.sent_bill(shared)
    owed = bill["remainingAmount"]["value"]
    assert owed > 0 and bill["state"] == "sent"

    paid = b.post(f"{PAYMENTS}/payment", payment(shared, 5.0))
    assert paid["paymentItem"] == [] and paid["accountBalance"]["value"] == 5  # B's own credit, no A bill
    assert a.get(f"{BILLING}/customerBill/{bill['id']}")["remainingAmount"]["value"] == owed
    named = payment(shared, 1.0, paymentItem=[{"item": {"id": bill["id"]}}])
    assert "names no customer bill" in b.post(f"{PAYMENTS}/payment", named, 400)["message"]
    b.patch(f"{BILLING}/customerBill/{bill['id']}", {"state": "settled"}, 404)
    assert b.get(f"{BILLING}/customerBill", **{"billingAccount.id": shared}) == []

    settled = a.post(f"{PAYMENTS}/payment", payment(shared, owed + 2))
    assert [i["item"]["id"] for i in settled["paymentItem"]] == [bill["id"]]
    assert a.get(f"{BILLING}/customerBill/{bill['id']}")["state"] == "settled"
    assert settled["accountBalance"]["value"] == 2  # A's credit: B's 5 is not A's
    b.get(f"{PAYMENTS}/payment/{settled['id']}", 404)
    assert [p["id"] for p in b.get(f"{PAYMENTS}/payment", **{"account.id": shared})] == [paid["id"]]

    too_much = b.post(f"{PAYMENTS}/refund", payment(shared, 6.0), 409)  # B has 5, A's 2 is not B's
    assert "has 5.00 EUR of credit" in too_much["message"], too_much
    refund = b.post(f"{PAYMENTS}/refund", payment(shared, 5.0))
    assert refund["accountBalance"]["value"] == 0
    a.post(f"{PAYMENTS}/refund", payment(shared, 2.5), 409)  # A still has its own 2, and no more
    b.get(f"{PAYMENTS}/refund/{refund['id']}", 200)
    a.get(f"{PAYMENTS}/refund/{refund['id']}", 404)


def payment(account_id: str, value: float, **more: Any) -> dict[str, Any]:
    body = {"account": {"id": account_id}, "paymentMethod": {"id": "pm-card"}, "totalAmount": {"unit": "EUR"}}
    body["totalAmount"]["value"] = value
    return {**body, **more}


def incident(product: str, **more: Any) -> dict[str, Any]:
    due = times.stamp(dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))  # resolved 120 minutes past its SLA
    return {
        "description": "No data on the mobile line.",
        "severity": "major",
        "ticketType": "incident",
        "expectedResolutionDate": due,
        "relatedEntity": [{"id": product, "role": "affectedProduct", "@referredType": "Product"}],
        **more,
    }


def resolve(who: Partner, ticket: str, status: int = 200) -> None:
    for state in ("inProgress", "resolved"):
        who.patch(f"{TICKETS}/{ticket}", {"status": state}, status)


def credits(who: Partner, product: str) -> list[dict[str, Any]]:
    return [r for r in who.rates(product) if r["type"] == "appliedBillingCredit"]


def test_an_outage_credit_goes_to_the_partner_whose_product_it_is(partners: tuple[Partner, Partner, Partner]) -> None:
    a, b, back_office = partners
    mine = a.product(account())
    assert "relatedEntity" in b.post(TICKETS, incident(mine), 400)["message"]
    ticket = a.post(TICKETS, incident(mine))
    resolve(b, ticket["id"], 404)  # B can neither move A's ticket nor so credit anything
    assert credits(a, mine) == []
    resolve(a, ticket["id"])
    (credit,) = credits(a, mine)
    assert {"name": "troubleTicket", "valueType": "string", "value": ticket["id"]} in credit["characteristic"]
    b.get(f"{RATES}/{credit['id']}", 404)
    assert b.get(RATES, type="appliedBillingCredit", id=credit["id"]) == []

    # The back office's own ticket on A's product credits A: the credit is billed with A's product.
    office = back_office.post(TICKETS, incident(mine))
    resolve(back_office, office["id"])
    assert len(credits(a, mine)) == 2, back_office.rates(mine)
    assert credits(b, mine) == []


def test_an_escalated_incident_stays_the_partners_and_only_its_subscriber_hears_it(
    store: str, keys: Keys, tmp_path: Path
) -> None:
    settings = {"auth": "jwt", "jwks": str(keys.jwks), "issuer": ISSUER, "audience": AUDIENCE}
    with (
        RunningGateway(store, fulfilment=False, incident_sla=1.0, retry_delay=0.1, **settings) as running,
        ListenerProcess(tmp_path / "a.jsonl") as heard_by_a,
        ListenerProcess(tmp_path / "b.jsonl") as heard_by_b,
    ):
        a, b = Partner(running.url, keys.token("partner-a")), Partner(running.url, keys.token("partner-b"))
        for who, listener in ((a, heard_by_a), (b, heard_by_b)):
            hub = {"callback": listener.callback, "query": "eventType=TroubleTicketAttributeValueChangeEvent"}
            who.post("/tmf-api/troubleTicket/v4/hub", hub)
        customer = a.post("/tmf-api/customerManagement/v4/customer", {"name": "Grace", "engagedParty": PARTY})
        line = {"name": "Leased line", "state": "active", "serviceSpecification": {"id": "ss-leased-line"}}
        service = a.post(SERVICES, line)["id"]
        party = {"id": customer["id"], "role": "customer", "@referredType": "Customer"}
        realizing = [{"id": service, "@referredType": "Service"}]
        a.post(PRODUCTS, {"name": "Line", "status": "active", "relatedParty": [party], "realizingService": realizing})
        a.post(ALARMS, alarm(service))
        escalated = heard_by_a.wait_for(
            lambda found: any("Escalated" in str(e["body"]["event"]["troubleTicket"].get("note")) for e in found),
            60,
            "the escalation of A's incident",
        )
        ticket = next(
            e["body"]["event"]["troubleTicket"]
            for e in escalated
            if "Escalated" in str(e["body"]["event"]["troubleTicket"].get("note"))
        )
        assert ticket["priority"] in ("high", "critical"), ticket
        time.sleep(1.0)  # B's listener would have heard by now
        assert heard_by_b.delivered() == []
        b.get(f"{TICKETS}/{ticket['id']}", 404)
        assert b.get(TICKETS, id=ticket["id"]) == []
        assert a.get(f"{TICKETS}/{ticket['id']}")["priority"] == ticket["priority"]


def alarm(service: str) -> dict[str, Any]:
    """A critical alarm on the service: the gateway opens an incident for its customer."""
    return {
        "alarmType": "communicationsAlarm",
        "perceivedSeverity": "critical",
        "probableCause": "lossOfSignal",
        "alarmedObject": {"id": service, "@referredType": "Service"},
        "sourceSystemId": "ems-1",
        "state": "raised",
        "alarmRaisedTime": times.now(),
    }


@pytest.mark.parametrize(
    ("scope", "path", "body"),
    [
        ("tmf635:read", f"{USAGE}/usage", record("p-1", "1")),
        ("tmf635:read", "/tmfgate/usage/v1/usageBatch", [record("p-1", "1")]),
        ("tmf676:read", f"{PAYMENTS}/payment", payment("ba-1", 1.0)),
        ("tmf676:read", f"{PAYMENTS}/refund", payment("ba-1", 1.0)),
        ("tmf621:read", TICKETS, {"description": "x", "severity": "minor", "ticketType": "complaint"}),
        ("tmf678:read", f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": "ba-1"}}),
    ],
)
def test_a_partner_reading_only_writes_no_money_nor_tickets(
    tenanted: RunningGateway, keys: Keys, scope: str, path: str, body: Any
) -> None:
    reader = Partner(tenanted.url, keys.token("partner-r", scope))
    refused = reader.post(path, body, 403)
    assert refused["@type"] == "Error" and f"lacks the scope {scope.replace('read', 'write')}" in refused["message"]


def test_an_id_another_partner_used_gets_the_409_any_taken_id_gets_and_none_of_that_record(
    partners: tuple[Partner, Partner, Partner],
) -> None:
    """Usage ids are the sender's (a mediation system's record ids), unique per kind as every TMF id is,
    since an id names one resource at one href. So a taken id is refused; the refusal is the same
    whoever took it, and says nothing of the record but that the id is taken."""
    a, b, _ = partners
    mine = a.product(account())
    id = f"cdr-{uuid.uuid4().hex}"
    first = a.post(f"{USAGE}/usage", {**record(mine, "20"), "id": id})
    other = b.product(account())
    answers = []
    for partner, product in ((a, mine), (b, other)):  # A again, with its own product; B, with its own
        answer = partner.http.post(f"{partner.url}{USAGE}/usage", json={**record(product, "1"), "id": id}, timeout=30)
        assert answer.status_code == 409, answer.text
        answers.append(answer.content)
    assert answers[0] == answers[1]  # byte for byte: B cannot tell A's id from one B used itself
    assert mine not in answers[1].decode() and "rated" not in answers[1].decode()
    batch = b.post("/tmfgate/usage/v1/usageBatch", [{**record(other, "1"), "id": id}], 200)
    assert batch == {"rated": 0, "parked": [], "duplicate": [id], "refused": []}
    assert a.get(f"{USAGE}/usage/{id}") == first  # A's record is untouched
    b.get(f"{USAGE}/usage/{id}", 404)
    assert b.get(f"{USAGE}/usage", id=id) == []  # B lists none of it
