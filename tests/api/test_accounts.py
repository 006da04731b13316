"""TMF666 billing accounts over HTTP, on SQLite and PostgreSQL: their bill cycle, credit limit and balance.

An account follows a billing cycle specification by reference; ``tmfgate bill-run --date`` bills it on
its cycle's day and a legacy account (known only by the id orders give) on the 1st; its bills fall due
by its cycle; its balance follows its bills and payments; orders are refused while it owes more than
its credit limit. Bad accounts and cycles are refused with nothing stored.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests.api.end_to_end import Doc, database_fixture
from tests.api.test_billing import Client, gateway
from tests.api.test_payments import pay
from tests.api.test_usage import mobile
from tests.commands import Ran, run_tmfgate

ACCOUNTS = "/tmf-api/accountManagement/v4"
ORDERING = "/tmf-api/productOrderingManagement/v4"
BILLING = "/tmf-api/customerBillManagement/v4"
PARTY = [{"id": "cust-usage", "name": "Ada", "role": "customer", "@referredType": "Individual"}]
database = database_fixture("tmfgate_accounts")


def months_ago(count: int, day: int = 1) -> dt.date:
    first = dt.datetime.now(dt.UTC).date().replace(day=1)
    for _ in range(count):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return first.replace(day=day)


def bill_run(client: Client, *options: str) -> Ran:
    """``tmfgate bill-run`` on the client's store, run in this process (:mod:`tests.commands`)."""
    env = {"TMFGATE_PUBLIC_URL": client.url}
    return run_tmfgate("bill-run", "--database-url", client.database, *options, env=env)


def account(client: Client, status: int = 201, **more: object) -> Doc:
    return client.post(f"{ACCOUNTS}/billingAccount", {"name": "Ada's account", "relatedParty": PARTY, **more}, status)


def test_bad_accounts_and_cycles_are_refused_and_nothing_is_stored(database: str) -> None:
    with gateway(database, fulfilment=False) as client:
        cycle = client.post(f"{ACCOUNTS}/billingCycleSpecification", {"name": "5th", "billingDateShift": 4})
        made = account(client, billStructure={"cycleSpecification": {"id": cycle["id"]}})
        assert made["billStructure"]["cycleSpecification"]["href"] == cycle["href"]
        for more, says in [
            (
                {"accountBalance": [{"balanceType": "due", "amount": {"unit": "EUR", "value": 1}, "validFor": {}}]},
                "kept by the gateway",
            ),
            ({"creditLimit": {"unit": "USD", "value": 10}}, "accounts are kept in EUR"),
            ({"creditLimit": {"unit": "EUR", "value": -1}}, "0 or more"),
            ({"billStructure": {"cycleSpecification": {"id": "no-such-cycle"}}}, "names no billing cycle"),
            ({"billStructure": {"cycleSpecification": {"name": "x", "billingDateShift": 28}}}, "must be 0 to 27"),
            ({"billStructure": {"cycleSpecification": {"name": "x", "frequency": "weekly"}}}, "must be 'monthly'"),
        ]:
            assert says in account(client, 400, **more)["message"]
        for body in ({"name": "x", "billingDateShift": -1}, {"name": "x", "paymentDueDateOffset": -3}):
            client.post(f"{ACCOUNTS}/billingCycleSpecification", body, 400)
        path = f"{ACCOUNTS}/billingAccount/{made['id']}"
        client.patch(path, {"billStructure": {"cycleSpecification": {"name": "x", "billingDateShift": 99}}}, 400)
        assert len(client.get(f"{ACCOUNTS}/billingAccount")) == 1
        assert len(client.get(f"{ACCOUNTS}/billingCycleSpecification")) == 1  # the weekly one comes later
        assert client.get(path)["billStructure"]["cycleSpecification"] == {"id": cycle["id"], "href": cycle["href"]}
        weekly = client.post(f"{ACCOUNTS}/billingCycleSpecification", {"name": "Weekly", "frequency": "weekly"})
        says = account(client, 400, billStructure={"cycleSpecification": {"id": weekly["id"]}})["message"]
        assert "must be 'monthly'" in says
        followed = f"{ACCOUNTS}/billingCycleSpecification/{cycle['id']}"
        assert "must be 'monthly'" in client.patch(followed, {"frequency": "weekly"}, 400)["message"]
        assert client.patch(followed, {"paymentDueDateOffset": 7})["paymentDueDateOffset"] == 7
        refused = client.http.delete(f"{client.url}{ACCOUNTS}/billingCycleSpecification/{cycle['id']}", timeout=10)
        assert refused.status_code == 409 and made["id"] in refused.json()["message"]

        moved = client.patch(path, {"billStructure": {"cycleSpecification": {"name": "10th", "billingDateShift": 9}}})
        assert moved["billStructure"]["cycleSpecification"]["billingDateShift"] == 9
        found = client.get(f"{ACCOUNTS}/billingAccount", **{"billStructure.cycleSpecification.billingDateShift": "9"})
        assert [a["id"] for a in found] == [made["id"]]
        for kind in ("partyAccount", "settlementAccount"):
            client.post(f"{ACCOUNTS}/{kind}", {"name": "Partner", "relatedParty": PARTY})
        group = client.post(f"{ACCOUNTS}/financialAccount", {"name": "Group"})
        assert group["lastModified"]  # a v5 client reads it as lastUpdate
        refused = client.post(
            f"{ACCOUNTS}/financialAccount", {"name": "G", "creditLimit": {"unit": "USD", "value": 1}}, 400
        )
        assert "accounts are kept in EUR" in refused["message"]
        assert len(client.get(f"{ACCOUNTS}/financialAccount")) == 1


def test_accounts_are_billed_on_their_cycle_day_and_held_to_their_credit_limit(database: str) -> None:
    with gateway(database) as client:
        cycle = client.post(
            f"{ACCOUNTS}/billingCycleSpecification",
            {"name": "5th", "billingDateShift": 4, "paymentDueDateOffset": 10, "frequency": "monthly"},
        )
        ada = account(
            client,
            billStructure={"cycleSpecification": {"id": cycle["id"]}},
            creditLimit={"unit": "EUR", "value": 500},
        )
        start = f"{months_ago(3).isoformat()}T00:00:00Z"
        fee = {"name": "Line", "priceType": "recurring", "recurringChargePeriod": "month"}
        fee["price"] = {"dutyFreeAmount": {"unit": "EUR", "value": 10}}
        for id in (ada["id"], "ba-legacy"):
            mobile(client, id, startDate=start, productPrice=[fee])

        fifth = months_ago(1, 5)  # bills the month before last for the accounts billed on the 5th
        run = bill_run(client, "--date", fifth.isoformat())
        assert run.returncode == 0, run.stderr
        assert ada["id"] in run.stdout and "ba-legacy" not in run.stdout
        (bill,) = client.bills(ada["id"])
        assert bill["billingPeriod"]["startDateTime"].startswith(months_ago(2).isoformat())
        assert bill["billingAccount"] == {
            "id": ada["id"],
            "href": ada["href"],
            "name": ada["name"],
            "@referredType": "BillingAccount",
        }
        billed = dt.datetime.fromisoformat(bill["billDate"])
        assert dt.datetime.fromisoformat(bill["paymentDueDate"]) == billed + dt.timedelta(days=10)
        assert bill["nextBillDate"].startswith(months_ago(0, 5).isoformat())
        assert bill_run(client, "--date", fifth.isoformat()).returncode == 0  # idempotent: nothing billed twice
        assert len(client.bills(ada["id"])) == 1
        assert client.bills("ba-legacy") == []

        first = bill_run(client, "--date", months_ago(1).isoformat())  # the accounts without a cycle
        assert first.returncode == 0 and "ba-legacy" in first.stdout and ada["id"] not in first.stdout
        assert len(client.bills("ba-legacy")) == 1 and len(client.bills(ada["id"])) == 1

        owed = bill["amountDue"]["value"]
        assert owed > 0
        now = client.get(f"{ACCOUNTS}/billingAccount/{ada['id']}")
        assert {b["balanceType"]: b["amount"]["value"] for b in now["accountBalance"]} == {"due": owed, "credit": 0}

        path = f"{ACCOUNTS}/billingAccount/{ada['id']}"
        client.patch(path, {"creditLimit": {"unit": "EUR", "value": float(owed - Decimal("0.01"))}})
        item = {"id": "1", "action": "add", "productOffering": {"id": "po-mobile-10gb"}}
        refused = client.post(
            f"{ORDERING}/productOrder",
            {"productOrderItem": [item], "relatedParty": PARTY, "billingAccount": {"id": ada["id"]}},
            409,
        )
        assert "over its credit limit" in refused["message"]
        for state in ("validated", "sent"):
            client.patch(f"{BILLING}/customerBill/{bill['id']}", {"state": state})
        pay(client, ada["id"], str(owed + 1))
        now = client.get(path)
        assert {b["balanceType"]: b["amount"]["value"] for b in now["accountBalance"]} == {"due": 0, "credit": 1}
        client.order(ada["id"], PARTY, item)

        future = bill_run(client, "--date", (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat())
        assert future.returncode == 2 and "has not come yet" in future.stderr
        both = bill_run(client, "--date", fifth.isoformat(), "--in-advance")
        assert both.returncode == 2 and "--in-advance goes with --period only" in both.stderr
        assert "still owes" not in client.http.delete(f"{client.url}{path}", timeout=10).text
