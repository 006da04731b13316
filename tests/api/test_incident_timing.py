"""An alarm incident with time, over HTTP on SQLite and PostgreSQL (in process): a resolved incident closes
after the quiet time whatever its SLA time, and one whose outage runs past the SLA credits it, to the cent,
on the next bill of the product's account (alarm → ticket → SLA passes → clear → bill on demand)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

import pytest

from handlers.billing.rules import Period
from tests.api.clients import BASE_URL, AppClient, in_process
from tests.api.end_to_end import wait
from tests.api.test_incidents import PRODUCTS, RESOURCES, SERVICES, Doc, clear, created, raise_alarm, tickets_of
from tmfgate import times

BILLING = f"{BASE_URL}/tmf-api/customerBillManagement/v4"
FEE = Decimal("12345.67")  # a month: large, so one minute beyond the SLA is worth cents
TAX = Decimal("0.20")  # the default tax_rate
STORES = pytest.mark.parametrize("store", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def long_sla(store: str) -> Iterator[AppClient]:
    with in_process(store, fulfilment=False, incident_sla=3600.0, incident_quiet_time=1.0) as running:
        yield running


@pytest.fixture
def short_sla(store: str) -> Iterator[AppClient]:
    with in_process(store, fulfilment=False, incident_sla=1.0, incident_quiet_time=3600.0) as running:
        yield running


def customer_on_a_resource(http: AppClient, account: str) -> tuple[Doc, Doc, str]:
    """A resource, the RFS on it, a CFS on that realizing a customer's product billed monthly on ``account``:
    the resource, the product and the customer's id."""
    olt = created(http, RESOURCES, {"name": f"olt-{uuid.uuid4().hex[:6]}", "@type": "LogicalResource"})
    spec = {"serviceSpecification": {"id": "ss-broadband", "@referredType": "ServiceSpecification"}}
    port = [{"id": olt["id"], "href": olt["href"], "@referredType": "LogicalResource"}]
    access = created(
        http, SERVICES, {"name": "access", "category": "RFS", "state": "active", "supportingResource": port, **spec}
    )
    on_access = [{"id": access["id"], "href": access["href"]}]
    cfs_body = {"name": "broadband", "category": "CFS", "state": "active", "supportingService": on_access}
    cfs = created(http, SERVICES, {**cfs_body, **spec})
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    fee = {
        "name": "Fibre 1G monthly fee",
        "priceType": "recurring",
        "recurringChargePeriod": "month",
        "price": {"dutyFreeAmount": {"unit": "EUR", "value": float(FEE)}},
    }
    product = created(
        http,
        PRODUCTS,
        {
            "name": "Fibre 1G",
            "status": "active",
            "startDate": times.stamp(Period.of(dt.datetime.now(dt.UTC)).start),
            "billingAccount": {"id": account, "@referredType": "BillingAccount"},
            "productPrice": [fee],
            "realizingService": [{"id": cfs["id"], "href": cfs["href"], "@referredType": "Service"}],
            "relatedParty": [{"id": customer, "role": "customer", "@referredType": "Individual"}],
        },
    )
    return olt, product, customer


@STORES
def test_a_resolved_incident_closes_after_the_quiet_time_long_before_its_sla(long_sla: AppClient) -> None:
    http = long_sla
    olt, _, customer = customer_on_a_resource(http, f"ba-{uuid.uuid4().hex[:8]}")
    alarm = raise_alarm(http, olt)
    (ticket,) = wait(lambda: tickets_of(http, customer), bool, 20, "the incident")
    clear(http, alarm)
    (closed,) = wait(lambda: tickets_of(http, customer), lambda f: f[0]["status"] == "closed", 30, "the closure")
    resolved, closing = closed["statusChange"][-2:]
    assert [resolved["status"], closing["status"]] == ["resolved", "closed"]
    quiet = times.parse(closing["changeDate"]) - times.parse(resolved["changeDate"])
    assert quiet >= dt.timedelta(seconds=1)  # the quiet time, and not the SLA's hour
    assert closing["changeDate"] < ticket["expectedResolutionDate"]
    assert closed["priority"] == ticket["priority"] == "high"  # not escalated: the SLA has not passed
    assert closed["note"][-1]["text"] == "Closed: the service stayed restored."


@STORES
def test_an_alarm_outage_past_the_sla_is_credited_on_the_next_bill_to_the_cent(short_sla: AppClient) -> None:
    http = short_sla
    account = f"ba-{uuid.uuid4().hex[:8]}"
    olt, product, customer = customer_on_a_resource(http, account)
    alarm = raise_alarm(http, olt, severity="major")
    (ticket,) = wait(lambda: tickets_of(http, customer), bool, 20, "the incident")
    assert ticket["priority"] == "medium"
    (escalated,) = wait(lambda: tickets_of(http, customer), lambda f: f[0]["priority"] == "high", 30, "escalation")
    assert escalated["status"] == "acknowledged"  # the SLA passed with the outage on
    due = times.parse(ticket["expectedResolutionDate"])
    time.sleep(max(0.0, (due - dt.datetime.now(dt.UTC)).total_seconds() + 61))  # a whole minute beyond it
    clear(http, alarm)
    (resolved,) = wait(lambda: tickets_of(http, customer), lambda f: f[0]["status"] == "resolved", 20, "resolution")
    ended = times.parse(resolved["resolutionDate"])
    minutes = int((ended - due).total_seconds() // 60)
    assert minutes >= 1
    rates = http.get(f"{BILLING}/appliedCustomerBillingRate", params={"product.id": product["id"]}).json()
    (credit,) = [r for r in rates if r["type"] == "appliedBillingCredit"]
    month = Period.of(ended)
    net = (FEE * minutes / (month.days * 24 * 60)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    levied = (net * TAX).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert Decimal(str(credit["taxExcludedAmount"]["value"])) == net > 0
    assert Decimal(str(credit["taxIncludedAmount"]["value"])) == net + levied
    assert {"name": "troubleTicket", "valueType": "string", "value": ticket["id"]} in credit["characteristic"]
    assert {"name": "outageMinutesBeyondSla", "valueType": "integer", "value": minutes} in credit["characteristic"]
    assert credit["periodCoverage"]["startDateTime"] == ticket["expectedResolutionDate"]
    task = http.post(f"{BILLING}/customerBillOnDemand", json={"billingAccount": {"id": account}}).json()
    assert task["state"] == "done", task
    bill = http.get(f"{BILLING}/customerBill/{task['customerBill']['id']}").json()
    billed = http.get(f"{BILLING}/appliedCustomerBillingRate", params={"bill.id": bill["id"]}).json()
    assert credit["id"] in {r["id"] for r in billed}
    charges = [r for r in billed if r["type"] == "appliedBillingCharge"]
    assert charges and all(r["product"]["id"] == product["id"] for r in charges)
    total = sum((Decimal(str(r["taxExcludedAmount"]["value"])) for r in charges), Decimal(0))
    assert Decimal(str(bill["taxExcludedAmount"]["value"])) == total - net
