"""Billing end to end, over HTTP and the command line only, on SQLite and PostgreSQL.

Product orders (TMF622) fulfilled by the gateway are rated into applied customer billing rates and
billed into customer bills (TMF678) for their billing account and customer (TMF629): by the billing
cycle (``tmfgate bill-run --period``) and on demand (``customerBillOnDemand``). Orders complete
now, so the month billed is the current one, as an operator's bill run at the end of this month
would bill it, and the next one, billed in advance; every expected amount is worked out here with
Decimal from the catalog prices and the dates the gateway reports, to the cent.
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.api.end_to_end import Doc, add, database_fixture, wait
from tests.commands import Ran, run_tmfgate
from tests.conftest import RunningGateway
from tests.listeners import ListenerProcess

ROOT = Path(__file__).resolve().parents[2]
ORDERING = "/tmf-api/productOrderingManagement/v4"
SERVICE_ORDERING = "/tmf-api/serviceOrdering/v4"
BILLING = "/tmf-api/customerBillManagement/v4"
CUSTOMERS = "/tmf-api/customerManagement/v4"
ENDED = ("completed", "failed", "partial", "cancelled")
CENT = Decimal("0.01")

database = database_fixture("tmfgate_billing")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def days_in(period: str) -> int:
    return calendar.monthrange(int(period[:4]), int(period[5:]))[1]


def next_month(period: str) -> str:
    year, month = int(period[:4]), int(period[5:])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


class Client:
    """A BSS client of one gateway; JSON numbers read as Decimal, so money is compared exactly."""

    def __init__(self, url: str, database: str, settings: dict[str, Any]) -> None:
        self.url, self.database, self.settings = url, database, settings
        self.http = requests.Session()

    def get(self, path: str, **params: str) -> Any:
        response = self.http.get(self.url + path, params=params, timeout=10)
        assert response.status_code in (200, 206), response.text
        # Every amount the gateway writes has at most two decimals: no binary rounding shows.
        for number in re.findall(r'"value":(-?[0-9.eE+-]+)', response.text):
            assert re.fullmatch(r"-?\d+(\.\d{1,2})?", number), f"{number} is not an exact amount"
        return response.json(parse_float=Decimal)

    def post(self, path: str, body: Doc, status: int = 201) -> Doc:
        response = self.http.post(self.url + path, json=body, timeout=30)
        assert response.status_code == status, response.text
        if status == 201 and "href" in response.json():
            assert response.headers["location"] == response.json()["href"]
        return response.json(parse_float=Decimal)  # type: ignore[no-any-return]

    def patch(self, path: str, body: Any, status: int = 200, media: str = "application/merge-patch+json") -> Doc:
        response = self.http.patch(self.url + path, json=body, headers={"content-type": media}, timeout=10)
        assert response.status_code == status, response.text
        return response.json(parse_float=Decimal)  # type: ignore[no-any-return]

    def order(self, account: str, party: list[Doc], *items: Doc) -> Doc:
        body = {"productOrderItem": list(items), "relatedParty": party, "billingAccount": {"id": account}}
        return self.post(f"{ORDERING}/productOrder", body)

    def ended(self, order: Doc, timeout: float = 60) -> Doc:
        return wait(
            lambda: self.get(f"{ORDERING}/productOrder/{order['id']}"),
            lambda o: o["state"] in ENDED,
            timeout,
            f"order {order['id']} to end",
        )  # type: ignore[no-any-return]

    def rates(self, **params: str) -> list[Doc]:
        return self.get(f"{BILLING}/appliedCustomerBillingRate", **params)  # type: ignore[no-any-return]

    def rated(self, product: str, names: list[str]) -> list[Doc]:
        """The product's rates once rating has made exactly these (by name), in that order."""
        return wait(
            lambda: sorted(
                self.rates(**{"product.id": product}),
                key=lambda r: names.index(r["name"]) if r["name"] in names else -1,
            ),
            lambda found: [r["name"] for r in found] == names,
            20,  # type: ignore[no-any-return]
            f"the rates {names} of product {product}",
        )

    def bills(self, account: str) -> list[Doc]:
        return self.get(
            f"{BILLING}/customerBill",
            sort="billNo",  # type: ignore[no-any-return]
            **{"billingAccount.id": account},
        )

    def environment(self) -> dict[str, str]:
        """The gateway's public URL and settings as the ``TMFGATE_*`` variables a command reads."""
        return {"TMFGATE_PUBLIC_URL": self.url, **{f"TMFGATE_{k.upper()}": str(v) for k, v in self.settings.items()}}

    def bill_run(self, period: str, *options: str) -> Ran:
        """``tmfgate bill-run`` on the gateway's store and settings, run in this process (:mod:`tests.commands`)."""
        return run_tmfgate(
            "bill-run", "--period", period, "--database-url", self.database, *options, env=self.environment()
        )

    def bill_run_process(self, period: str, *options: str) -> subprocess.Popen[str]:
        """``tmfgate bill-run`` in a process of its own, as each of two operators running it at once would."""
        return subprocess.Popen(
            [sys.executable, "-m", "tmfgate", "bill-run", "--period", period, "--database-url", self.database]
            + list(options),
            cwd=ROOT,
            env={**os.environ, **self.environment()},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )


def finished(run: Ran | subprocess.Popen[str]) -> str:
    """What a bill run that succeeded wrote."""
    if isinstance(run, subprocess.Popen):
        out, err = run.communicate(timeout=120)
        run = Ran(run.returncode, out, err)
    assert run.returncode == 0, run.stderr
    return run.stdout


@contextmanager
def gateway(database: str, **settings: Any) -> Iterator[Client]:
    fast = {"retry_delay": 0.1, "retry_delay_max": 0.5}
    with RunningGateway(database, **{**fast, **settings}) as running:
        yield Client(running.url, database, settings)


def product_of(order: Doc, item: str = "1") -> str:
    return str(next(i for i in order["productOrderItem"] if i["id"] == item)["product"]["id"])


def start_day(first_rate: Doc, order: Doc) -> int:
    """The day a product started, from the coverage of its first charge, checked against its order."""
    started = moment(first_rate["periodCoverage"]["startDateTime"])
    assert moment(order["orderDate"][:10] + "T00:00:00Z") <= started <= moment(order["completionDate"])
    return started.day


def expected_bill(lines: list[Decimal], rate: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(tax excluded, tax, tax included): each line taxed and rounded on its own, then added up."""
    net = sum(lines, Decimal(0))
    levied = sum((cents(line * rate) for line in lines), Decimal(0))
    return net, levied, net + levied


def check_bill(bill: Doc, lines: list[Decimal], rate: Decimal) -> None:
    net, levied, gross = expected_bill(lines, rate)
    euros = {"unit": "EUR"}
    assert bill["taxExcludedAmount"] == {**euros, "value": net}
    assert bill["taxItem"] == [{"taxCategory": "VAT", "taxRate": rate, "taxAmount": {**euros, "value": levied}}]
    assert bill["taxIncludedAmount"] == bill["amountDue"] == bill["remainingAmount"] == {**euros, "value": gross}


def test_a_month_with_orders_completed_modified_and_cancelled_is_billed_to_the_cent(database: str) -> None:
    rate = Decimal("0.21")
    # Slow activations, so an order can be cancelled while it is being fulfilled.
    with gateway(database, activation_delay=0.4, tax_rate="0.21", payment_terms=30) as client:
        ada = client.post(
            f"{CUSTOMERS}/customer",
            {
                "name": "Ada Lovelace",
                "engagedParty": {"id": "party-ada", "name": "Ada Lovelace", "@referredType": "Individual"},
            },
        )
        party = [{"id": ada["id"], "role": "customer", "@referredType": "Individual"}]
        fibre = client.order("ba-1", party, add("1", "po-fibre-500"))
        mobile = client.order("ba-1", party, add("1", "po-mobile-10gb"))
        partial = client.order(
            "ba-1", party, add("phone", "po-home-phone"), {"id": "net", "action": "modify", "product": {"id": "none"}}
        )
        doomed = client.order("ba-1", party, add("1", "po-mobile-unlimited"))
        wait(
            lambda: client.get(f"{SERVICE_ORDERING}/serviceOrder", externalId=doomed["id"]),
            lambda found: found and found[0]["serviceOrderItem"][0]["state"] == "completed",
            20,
            "the first activation of the order to cancel",
        )
        client.post(f"{ORDERING}/cancelProductOrder", {"productOrder": {"id": doomed["id"]}})
        fibre, mobile, partial, doomed = (client.ended(o) for o in (fibre, mobile, partial, doomed))
        assert [o["state"] for o in (fibre, mobile, partial, doomed)] == [
            "completed",
            "completed",
            "partial",
            "cancelled",
        ]
        # Later in the month: the fibre is modified (no price change), the mobile plan terminated.
        modify = client.order(
            "ba-1",
            party,
            {
                "id": "1",
                "action": "modify",
                "productOffering": {"id": "po-fibre-500"},
                "product": {
                    "id": product_of(fibre),
                    "productCharacteristic": [{"name": "downloadSpeed", "value": 500}],
                },
            },
        )
        delete = client.order("ba-1", party, {"id": "1", "action": "delete", "product": {"id": product_of(mobile)}})
        modify, delete = client.ended(modify), client.ended(delete)
        assert (modify["state"], delete["state"]) == ("completed", "completed")

        net = client.rated(product_of(fibre), ["Fibre installation", "Fibre 500 monthly fee"])
        # Installed and terminated the same day: the SIM card is charged, no day of the plan is.
        sim = client.rated(product_of(mobile), ["SIM card"])
        phone = client.rated(product_of(partial, "phone"), ["Home phone monthly fee"])
        assert len(client.rates(**{"billingAccount.id": "ba-1"})) == 4  # nothing for the failed or cancelled items
        period = fibre["completionDate"][:7]
        if any(o["completionDate"][:7] != period for o in (fibre, mobile, partial, modify, delete)):
            pytest.skip("the month changed while the orders ran; run the test again")
        month = days_in(period)
        fibre_day, phone_day = start_day(net[0], fibre), start_day(phone[0], partial)
        fibre_month = cents(Decimal("39.99") * (month - fibre_day + 1) / month)
        phone_month = cents(Decimal("9.99") * (month - phone_day + 1) / month)
        assert net[1]["taxExcludedAmount"] == {"unit": "EUR", "value": fibre_month}
        assert net[1]["taxIncludedAmount"]["value"] == fibre_month + cents(fibre_month * rate)
        assert net[1]["periodCoverage"]["endDateTime"].startswith(f"{next_month(period)}-01T00:00:00")
        assert sim[0]["taxExcludedAmount"]["value"] == Decimal("5.00") and sim[0]["type"] == "appliedBillingCharge"
        customer = {
            "id": ada["id"],
            "href": ada["href"],
            "name": "Ada Lovelace",
            "role": "customer",
            "@referredType": "Customer",
        }
        for each in net + sim + phone:
            assert each["isBilled"] is False and each["billingAccount"]["id"] == "ba-1"
            assert {"name": "customer", "valueType": "object", "value": customer} in each["characteristic"]

        # Two operators start the month's bill run at once, before it ends: one bill, made once.
        runs = [client.bill_run_process(period, "--in-advance"), client.bill_run_process(period, "--in-advance")]
        outputs = [finished(run) for run in runs]
        bills = client.bills("ba-1")
        assert len(bills) == 1
        bill = bills[0]
        assert sorted(bill["billNo"] in out for out in outputs) == [False, True]
        assert any(f"No bills for {period}" in out for out in outputs)
        check_bill(bill, [Decimal("49.00"), fibre_month, Decimal("5.00"), phone_month], rate)
        assert bill["state"] == "new" and bill["runType"] == "onCycle" and bill["category"] == "normal"
        assert bill["billingPeriod"] == {
            "startDateTime": f"{period}-01T00:00:00.000Z",
            "endDateTime": f"{next_month(period)}-01T00:00:00.000Z",
        }
        assert bill["nextBillDate"] == f"{next_month(next_month(period))}-01T00:00:00.000Z"
        assert moment(bill["paymentDueDate"]) - moment(bill["billDate"]) == dt.timedelta(days=30)
        assert bill["billingAccount"] == {"id": "ba-1", "@referredType": "BillingAccount"}
        assert bill["relatedParty"] == [customer]
        assert bill["href"] == f"{client.url}{BILLING}/customerBill/{bill['id']}"
        billed = client.rates(**{"bill.id": bill["id"]})
        assert sorted(r["id"] for r in billed) == sorted(r["id"] for r in net + sim + phone)
        assert {r["isBilled"] for r in billed} == {True}
        assert client.rates(isBilled="false", **{"billingAccount.id": "ba-1"}) == []

        # Once more: nothing billed twice.
        assert f"No bills for {period}" in finished(client.bill_run(period, "--in-advance"))
        assert [b["id"] for b in client.bills("ba-1")] == [bill["id"]]

        # The next month, billed in advance: whole months of what is still active, no one-time charges.
        after = next_month(period)
        out = finished(client.bill_run(after, "--in-advance"))
        bills = client.bills("ba-1")
        assert len(bills) == 2 and bills[1]["billNo"] in out
        check_bill(bills[1], [Decimal("39.99"), Decimal("9.99")], rate)
        assert bills[1]["billingPeriod"]["startDateTime"] == f"{after}-01T00:00:00.000Z"
        monthly = client.rates(**{"bill.id": bills[1]["id"]})
        assert sorted(r["name"] for r in monthly) == ["Fibre 500 monthly fee", "Home phone monthly fee"]
        assert {r["description"].split(", ")[1] for r in monthly} == {
            f"{days_in(after)} of {days_in(after)} days of {calendar.month_name[int(after[5:])]} {after[:4]}"
        }
        assert f"No bills for {after}" in finished(client.bill_run(after, "--in-advance"))


def test_a_bill_on_demand_and_a_termination_after_it_credit_what_was_billed_in_advance(database: str) -> None:
    rate = Decimal("0.20")
    with gateway(database, payment_terms=14) as client:
        grace = [{"id": "cust-9", "name": "Grace Hopper", "role": "customer", "@referredType": "Individual"}]
        order = client.ended(client.order("ba-2", grace, add("1", "po-fibre-100")))
        product = product_of(order)
        installation, monthly = client.rated(product, ["Fibre installation", "Fibre 100 monthly fee"])
        period = order["completionDate"][:7]
        month, day = days_in(period), start_day(installation, order)
        fibre_month = cents(Decimal("29.99") * (month - day + 1) / month)

        requester = {"id": "agent-1", "name": "Shop assistant", "role": "requester", "@referredType": "Individual"}
        task = client.post(
            f"{BILLING}/customerBillOnDemand",
            {"billingAccount": {"id": "ba-2"}, "name": "Leaving", "relatedParty": requester},
        )
        assert task["state"] == "done" and task["customerBill"]["@referredType"] == "CustomerBill"
        assert client.get(f"{BILLING}/customerBillOnDemand/{task['id']}") == task
        bill = client.get(f"{BILLING}/customerBill/{task['customerBill']['id']}")
        assert task["customerBill"]["href"] == bill["href"]
        check_bill(bill, [Decimal("49.00"), fibre_month], rate)
        assert bill["runType"] == "offCycle" and "nextBillDate" not in bill
        assert bill["billingPeriod"]["startDateTime"] == f"{period}-01T00:00:00.000Z"
        assert moment(bill["paymentDueDate"]) - moment(bill["billDate"]) == dt.timedelta(days=14)
        assert bill["relatedParty"] == [grace[0], requester]  # not a TMF629 customer: as the order named it
        assert {r["id"] for r in client.rates(**{"bill.id": bill["id"]})} == {installation["id"], monthly["id"]}

        again = client.post(
            f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": "ba-2"}, "description": "Just in case"}
        )
        assert again["state"] == "rejected" and "customerBill" not in again
        assert again["description"] == "Just in case"
        assert again["errorMessage"].startswith("Nothing to bill: billing account ba-2 has no unbilled")
        assert len(client.bills("ba-2")) == 1

        # Terminated after the month was billed: the days not used come back on the next bill.
        delete = client.ended(client.order("ba-2", grace, {"id": "1", "action": "delete", "product": {"id": product}}))
        assert delete["state"] == "completed"
        if delete["completionDate"][:7] != period:
            pytest.skip("the month changed while the test ran; run it again")
        used = moment(delete["completionDate"]).day - day  # the termination day is not charged
        credit = fibre_month - cents(Decimal("29.99") * used / month)
        adjustment = wait(
            lambda: client.rates(isBilled="false", **{"billingAccount.id": "ba-2"}),
            lambda found: found,
            20,
            "the credit of the termination",
        )
        assert len(adjustment) == 1 and adjustment[0]["type"] == "appliedBillingCredit"
        assert adjustment[0]["taxExcludedAmount"] == {"unit": "EUR", "value": credit}
        assert adjustment[0]["description"].startswith("Adjustment of Fibre 100 monthly fee")
        closing = client.post(f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": "ba-2"}})
        last = client.get(f"{BILLING}/customerBill/{closing['customerBill']['id']}")
        tax = cents(credit * rate)
        assert last["amountDue"] == {"unit": "EUR", "value": -(credit + tax)}
        assert last["category"] == "creditNote"
        assert last["billNo"] > bill["billNo"]


def test_a_bill_changes_only_its_state_along_its_lifecycle_and_raises_events(database: str, tmp_path: Path) -> None:
    with gateway(database) as client, ListenerProcess(tmp_path / "listener.log") as listener:
        client.post(f"{BILLING}/hub", {"callback": listener.callback})
        order = client.ended(client.order("ba-3", [], add("1", "po-home-phone")))
        client.rated(product_of(order), ["Home phone monthly fee"])
        task = client.post(f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": "ba-3"}})
        path = f"{BILLING}/customerBill/{task['customerBill']['id']}"
        bill = client.get(path)
        for change in (
            {"amountDue": {"unit": "EUR", "value": 0}},
            {"billNo": "X-1"},
            {"note": "paid in cash"},
            {"state": "new", "remainingAmount": {"unit": "EUR", "value": 0}},
        ):
            error = client.patch(path, change, 400)
            assert error["status"] == "400" and "cannot be changed by PATCH" in error["message"]
        error = client.patch(path, {"state": "settled"}, 409)
        assert "from new it can go to onHold, validated" in error["message"]
        held = client.patch(path, {"state": "onHold"})
        assert held["lastUpdate"] > bill["lastUpdate"]
        assert (
            client.patch(
                path, [{"op": "replace", "path": "/state", "value": "validated"}], media="application/json-patch+json"
            )["state"]
            == "validated"
        )
        client.patch(path, {"state": "sent"})
        assert "record the payments that cover it" in client.patch(path, {"state": "settled"}, 409)["message"]
        due = {"unit": "EUR", "value": float(bill["amountDue"]["value"])}
        paid = {"account": {"id": "ba-3"}, "paymentMethod": {"id": "pm-1"}, "totalAmount": due}
        client.post("/tmf-api/paymentManagement/v4/payment", paid)
        settled = client.get(path)
        assert settled["state"] == "settled" and settled["remainingAmount"] == {"unit": "EUR", "value": 0}
        assert settled["amountDue"] == bill["amountDue"]
        assert "settled is a final state" in client.patch(path, {"state": "sent"}, 409)["message"]
        assert {k: v for k, v in client.get(path).items() if k != "lastUpdate"} == {
            k: v for k, v in settled.items() if k != "lastUpdate"
        }

        wanted = {
            "AppliedCustomerBillingRateCreateEvent",
            "AppliedCustomerBillingRateAttributeValueChangeEvent",
            "CustomerBillOnDemandCreateEvent",
            "CustomerBillOnDemandStateChangeEvent",
            "CustomerBillCreateEvent",
            "CustomerBillStateChangeEvent",
        }

        def states(got: list[Doc]) -> list[str]:
            return [
                e["body"]["event"]["customerBill"]["state"]
                for e in got
                if e["body"]["eventType"] == "CustomerBillStateChangeEvent"
            ]

        entries = listener.wait_for(
            lambda got: wanted <= {e["body"]["eventType"] for e in got} and len(states(got)) >= 4,
            20,
            "the billing events",
        )
        assert states(entries) == ["onHold", "validated", "sent", "settled"]
        billed = [
            e["body"]["event"]["appliedCustomerBillingRate"]
            for e in entries
            if e["body"]["eventType"] == "AppliedCustomerBillingRateAttributeValueChangeEvent"
        ]
        assert [(r["isBilled"], r["bill"]["id"]) for r in billed] == [(True, bill["id"])]


def test_bad_bill_on_demand_requests_are_refused_and_store_nothing(database: str) -> None:
    with gateway(database, fulfilment=False) as client:
        for body, words in (
            ({}, "billingAccount is required"),
            ({"billingAccount": {"id": "ba-1"}, "state": "done"}, "state is set by the server"),
            ({"billingAccount": {"id": "ba-1"}, "customerBill": {"id": "b"}}, "customerBill is set"),
            ({"billingAccount": {"name": "no id"}}, "id"),
        ):
            error = client.post(f"{BILLING}/customerBillOnDemand", body, 400)
            assert words in error["message"], error
        assert client.get(f"{BILLING}/customerBillOnDemand") == []
        nothing = client.post(f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": "ba-unknown"}})
        assert nothing["state"] == "rejected" and "Nothing to bill" in nothing["errorMessage"]
        assert client.get(f"{BILLING}/customerBill") == []


def test_customers_are_listed_filtered_and_changed_like_every_resource(database: str) -> None:
    with gateway(database, fulfilment=False) as client:
        for name, status in (("Ada Lovelace", "approved"), ("Grace Hopper", "approved"), ("Alan Turing", "closed")):
            client.post(
                f"{CUSTOMERS}/customer",
                {
                    "name": name,
                    "status": status,
                    "engagedParty": {"id": name.split()[0].lower(), "@referredType": "Individual"},
                },
            )
        approved = client.get(f"{CUSTOMERS}/customer", status="approved", sort="-name", fields="name")
        assert [c["name"] for c in approved] == ["Grace Hopper", "Ada Lovelace"]
        assert set(approved[0]) == {"id", "href", "name"}
        ada = client.get(f"{CUSTOMERS}/customer", **{"engagedParty.id": "ada"})[0]
        changed = client.patch(f"{CUSTOMERS}/customer/{ada['id']}", {"status": "closed", "statusReason": "Moved away"})
        assert (changed["status"], changed["statusReason"]) == ("closed", "Moved away")
        assert len(client.get(f"{CUSTOMERS}/customer", status="closed")) == 2
        assert client.post(f"{CUSTOMERS}/customer", {"name": "No party"}, 400)["status"] == "400"
