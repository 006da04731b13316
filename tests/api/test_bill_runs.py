"""``tmfgate bill-run`` guarded, on SQLite and PostgreSQL: a month bills once it has ended (or in advance,
asked for), months billed out of order skip none, a bill is due its payment terms after its date, and
the run writes hrefs with ``--public-url`` but never rewrites those the gateway had made.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal

import pytest

from tests.api.end_to_end import add, database_fixture
from tests.api.test_billing import BILLING, ROOT, Client, finished, gateway, moment, product_of
from tests.api.test_imported_prices import INVENTORY, imported
from tests.commands import Ran, run_tmfgate

database = database_fixture("tmfgate_bill_runs")


def month(offset: int) -> str:
    """The month ``offset`` months from the current one, as YYYY-MM."""
    today = dt.datetime.now(dt.UTC).date()
    index = today.year * 12 + today.month - 1 + offset
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def refused(client: Client, period: str, *options: str) -> str:
    """The one line a refused bill run writes (it exits 2 and bills nothing)."""
    run = client.bill_run(period, *options)
    assert run.returncode == 2 and run.stdout == "", run
    [line] = run.stderr.strip().splitlines()
    return line


def billed_months(client: Client, bill: dict[str, object]) -> list[str]:
    rates = client.rates(**{"bill.id": str(bill["id"])})
    return sorted(str(next(c["value"] for c in r["characteristic"] if c["name"] == "billingPeriod")) for r in rates)


def test_a_month_not_ended_is_billed_only_in_advance_and_no_further_than_the_next(database: str) -> None:
    with gateway(database, fulfilment=False) as client:
        client.post(f"{INVENTORY}/product", imported("ba-early"))
        line = refused(client, month(0))
        assert line.startswith(f"tmfgate bill-run: {month(0)} (") and "has not ended yet" in line
        assert "--in-advance" in line
        assert "too far ahead" in refused(client, month(2), "--in-advance")
        assert "too far ahead" in refused(client, "2999-01", "--in-advance")
        assert client.bills("ba-early") == [] and client.rates() == []

        out = finished(client.bill_run(month(1), "--in-advance"))
        [bill] = client.bills("ba-early")
        assert bill["billNo"] in out and billed_months(client, bill) == [month(1)]
        assert bill["taxExcludedAmount"]["value"] == Decimal("10.00")  # the whole coming month


def test_months_billed_out_of_order_skip_none_and_each_bill_is_due_from_its_date(database: str) -> None:
    with gateway(database, fulfilment=False, payment_terms=10) as client:
        product = imported("ba-late")
        product["startDate"] = f"{month(-4)}-01T00:00:00Z"
        client.post(f"{INVENTORY}/product", product)
        first = finished(client.bill_run(month(-3)))
        assert "INV-" in first
        # A month later than the next: the month between is billed with it, not skipped.
        finished(client.bill_run(month(-1)))
        assert "No bills" in finished(client.bill_run(month(-2)))
        bills = client.bills("ba-late")
        assert [billed_months(client, bill) for bill in bills] == [[month(-3)], [month(-2), month(-1)]]
        assert [bill["taxExcludedAmount"]["value"] for bill in bills] == [Decimal("10.00"), Decimal("20.00")]
        for bill in bills:
            assert moment(bill["paymentDueDate"]) - moment(bill["billDate"]) == dt.timedelta(days=10)
            assert moment(bill["billDate"]) > moment(bill["billingPeriod"]["endDateTime"])  # billed once ended
        assert client.rates(isBilled="false") == []


def test_a_bill_run_writes_its_public_url_and_keeps_the_hrefs_the_gateway_made(database: str) -> None:
    with gateway(database) as client:
        party = [{"id": "cust-h", "role": "customer", "@referredType": "Individual"}]
        order = client.ended(client.order("ba-href", party, add("1", "po-fibre-100")))
        made = client.rated(product_of(order), ["Fibre installation", "Fibre 100 monthly fee"])
        rates = f"{client.url}{BILLING}/appliedCustomerBillingRate"
        assert {r["href"] for r in made} == {f"{rates}/{r['id']}" for r in made}

        public = "https://bills.example.test"
        finished(client.bill_run(order["completionDate"][:7], "--in-advance", "--public-url", public))
        [bill] = client.bills("ba-href")
        assert bill["href"] == f"{public}{BILLING}/customerBill/{bill['id']}"
        [document] = bill["billDocument"]
        assert document["url"] == f"{public}/tmfgate/billing/v1/billDocument/{document['id']}"
        billed = client.rates(**{"bill.id": bill["id"]})
        assert {r["id"]: r["href"] for r in billed} == {r["id"]: r["href"] for r in made}


@pytest.mark.parametrize("command", [["bill-run", "--period", "2020-01"], ["dispatch"], ["deliveries"]])
def test_a_command_on_an_unreachable_database_is_one_line(command: list[str]) -> None:
    url = "postgresql+psycopg://tmfgate:secret@127.0.0.1:1/nope"
    if command == ["dispatch"]:  # a process of its own: dispatch configures logging process-wide
        result: Ran | subprocess.CompletedProcess[str] = subprocess.run(
            [sys.executable, "-m", "tmfgate", *command, "--database-url", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    else:
        result = run_tmfgate(*command, "--database-url", url)
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("tmfgate: cannot use the store at postgresql+psycopg://tmfgate:***@127.0.0.1:1/nope: ")
    assert "secret" not in line and "Traceback" not in result.stderr


def test_every_command_that_writes_hrefs_takes_the_public_url() -> None:
    for command in ("bill-run", "dispatch", "serve"):
        result = run_tmfgate(command, "--help")
        assert result.returncode == 0, result
        assert "--public-url URL" in result.stdout and "TMFGATE_PUBLIC_URL" in result.stdout, command
    help_text = run_tmfgate("bill-run", "--help").stdout
    assert "--in-advance" in help_text and "--date YYYY-MM-DD" in help_text
