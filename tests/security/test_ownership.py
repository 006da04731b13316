"""What the gateway makes on its own belongs to the partner whose document caused it, over HTTP with
two partners on SQLite and PostgreSQL: the billing cycle's bills (``tmfgate bill-run``), and what a
hub subscriber of each partner hears of them."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.api.end_to_end import add, database_fixture, wait
from tests.commands import run_tmfgate
from tests.conftest import RunningGateway
from tests.listeners import ListenerProcess
from tests.security.support import ALL_SCOPES, AUDIENCE, ISSUER, Keys, bearer, make_keys

ORDERING = "/tmf-api/productOrderingManagement/v4"
BILLING = "/tmf-api/customerBillManagement/v4"
ENDED = ("completed", "failed", "partial", "cancelled")

database = database_fixture("tmfgate_ownership")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


def auth(keys: Keys) -> dict[str, Any]:
    return {"auth": "jwt", "jwks": str(keys.jwks), "issuer": ISSUER, "audience": AUDIENCE}


def bill_run(url: str, database: str, period: str) -> str:
    """``tmfgate bill-run`` on the gateway's store, as an operator runs it (in this process: tests.commands)."""
    done = run_tmfgate(
        "bill-run", "--period", period, "--in-advance", "--database-url", database, env={"TMFGATE_PUBLIC_URL": url}
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def ordered(url: str, token: dict[str, str], account: str, offering: str) -> str:
    """The id of a fulfilled product order of one offering, billed to ``account``."""
    body = {"productOrderItem": [add("1", offering)], "billingAccount": {"id": account}}
    created = requests.post(f"{url}{ORDERING}/productOrder", json=body, headers=token, timeout=10)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    state = wait(lambda: requests.get(location, headers=token, timeout=10).json()["state"], ENDED.__contains__, 60, "")
    assert state == "completed"
    return str(created.json()["id"])


def test_the_billing_cycle_bills_each_partner_apart_under_one_account_id(
    database: str, keys: Keys, tmp_path: Path
) -> None:
    a, b = bearer(keys.token("partner-a")), bearer(keys.token("partner-b"))
    back_office = bearer(keys.token("back-office", ALL_SCOPES + " tmfgate:all"))
    account = f"ba-{uuid.uuid4().hex[:8]}"  # both partners name the same billing account id
    with (
        RunningGateway(database, fulfilment=True, retry_delay=0.1, retry_delay_max=0.5, **auth(keys)) as running,
        ListenerProcess(tmp_path / "a.jsonl") as heard_by_a,
        ListenerProcess(tmp_path / "b.jsonl") as heard_by_b,
    ):
        url = running.url
        for listener, token in ((heard_by_a, a), (heard_by_b, b)):
            hub = {"callback": listener.callback, "query": "eventType=CustomerBillCreateEvent"}
            made = requests.post(f"{url}{BILLING}/hub", json=hub, headers=token, timeout=10)
            assert made.status_code == 201, made.text
        ordered(url, a, account, "po-fibre-500")
        ordered(url, b, account, "po-mobile-10gb")
        period = dt.datetime.now(dt.UTC).strftime("%Y-%m")
        out = bill_run(url, database, period)

        bills = {}
        for name, token in (("a", a), ("b", b)):
            listed = requests.get(f"{url}{BILLING}/customerBill", params={"billingAccount.id": account}, headers=token)
            assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1", listed.text
            bills[name] = listed.json()[0]
            assert bills[name]["billNo"] in out and bills[name]["runType"] == "onCycle"
            rates = requests.get(
                f"{url}{BILLING}/appliedCustomerBillingRate", params={"bill.id": bills[name]["id"]}, headers=token
            ).json()
            assert rates and sum(Decimal(str(r["taxExcludedAmount"]["value"])) for r in rates) == Decimal(
                str(bills[name]["taxExcludedAmount"]["value"])
            )
        assert bills["a"]["id"] != bills["b"]["id"]
        assert bills["a"]["taxExcludedAmount"] != bills["b"]["taxExcludedAmount"]  # fibre vs mobile
        for mine, theirs in (("a", b), ("b", a)):
            assert requests.get(bills[mine]["href"], headers=theirs, timeout=10).status_code == 404
            document = (bills[mine].get("billDocument") or [{}])[0].get("href")
            if document:
                assert requests.get(document, headers=theirs, timeout=10).status_code == 404
        everyone = requests.get(
            f"{url}{BILLING}/customerBill", params={"billingAccount.id": account}, headers=back_office
        )
        assert everyone.headers["X-Total-Count"] == "2"

        for listener, name in ((heard_by_a, "a"), (heard_by_b, "b")):
            heard = listener.wait_for(lambda got: len(got) >= 1, 30, f"partner {name}'s bill")
            assert [e["body"]["event"]["customerBill"]["id"] for e in heard] == [bills[name]["id"]]
        assert f"No bills for {period}" in bill_run(url, database, period)  # each partner's billed once


def test_what_was_stored_before_authentication_is_the_back_offices_alone(
    database: str, keys: Keys, tmp_path: Path
) -> None:
    api = "/tmf-api/customerManagement/v4"
    a = bearer(keys.token("partner-a"))
    back_office = bearer(keys.token("back-office", ALL_SCOPES + " tmfgate:all"))
    with (
        ListenerProcess(tmp_path / "before.jsonl") as heard_before,
        ListenerProcess(tmp_path / "a.jsonl") as heard_by_a,
    ):
        with RunningGateway(database, fulfilment=False) as open_gateway:  # no --auth: no owners
            body = {"name": "Ada", "engagedParty": {"id": "p-legacy", "@referredType": "Individual"}}
            customer = requests.post(f"{open_gateway.url}{api}/customer", json=body, timeout=10).json()
            hub = {"callback": heard_before.callback, "query": "eventType=CustomerAttributeValueChangeEvent"}
            assert requests.post(f"{open_gateway.url}{api}/hub", json=hub, timeout=10).status_code == 201
        with RunningGateway(database, fulfilment=False, **auth(keys)) as running:
            url = f"{running.url}{api}"
            hub = {"callback": heard_by_a.callback, "query": "eventType=CustomerAttributeValueChangeEvent"}
            assert requests.post(f"{url}/hub", json=hub, headers=a, timeout=10).status_code == 201
            item = f"{url}/customer/{customer['id']}"
            assert requests.get(item, headers=a, timeout=10).status_code == 404
            listed = requests.get(f"{url}/customer", params={"id": customer["id"]}, headers=a, timeout=10)
            assert listed.headers["X-Total-Count"] == "0" and listed.json() == []
            merge = {"Content-Type": "application/merge-patch+json"}
            assert requests.patch(item, data=b"{}", headers={**merge, **a}, timeout=10).status_code == 404
            assert requests.delete(item, headers=a, timeout=10).status_code == 404
            party = {"id": customer["id"], "role": "customer", "@referredType": "Customer"}
            order = {"productOrderItem": [add("1", "po-fibre-500")], "relatedParty": [party]}
            named = requests.post(f"{running.url}{ORDERING}/productOrder", json=order, headers=a, timeout=10)
            assert named.status_code == 400, named.text  # not A's customer to name

            assert requests.get(item, headers=back_office, timeout=10).status_code == 200
            change = b'{"description": "reviewed"}'
            changed = requests.patch(item, data=change, headers={**merge, **back_office}, timeout=10)
            assert changed.status_code == 200, changed.text
            heard_before.wait_for(lambda got: any(e["body"]["event"]["customer"]["id"] == customer["id"] for e in got))
            assert heard_by_a.delivered() == []
