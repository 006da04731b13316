"""Revenue assurance end to end: usage, products and bills stored over HTTP, ``tmfgate assure`` run in process
on the same store (SQLite and PostgreSQL), and what it raised read back over HTTP (TMF642, TMF621, TMF622).

The demo catalog's Mobile 10 GB plan charges a month's fee and 2.00 EUR a GB beyond 10 GB; the products
are imported into TMF637 (no order needed to charge usage), except the one an order installs, which an
order can suspend.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from backends import open_backend
from handlers.billing.rules import Period
from tests.api.end_to_end import Doc, add, database_fixture
from tests.api.test_billing import BILLING, Client, gateway
from tests.api.test_usage import INVENTORY, USAGE, usage
from tests.commands import Ran, run_tmfgate
from tmfgate import codec

ALARMS = "/tmf-api/alarmManagement/v4/alarm"
TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
ORDERING = "/tmf-api/productOrderingManagement/v4/productOrder"
database = database_fixture("tmfgate_assure")


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def months_ago(n: int, day: int = 1) -> str:
    """The ``day`` of the month ``n`` months before this one, at midnight UTC."""
    period = Period.of(dt.datetime.now(dt.UTC))
    for _ in range(n):
        period = Period.of(period.start - dt.timedelta(days=1))
    return stamp(period.start.replace(day=day))


def imported(client: Client, account: str, customer: str, **more: Any) -> str:
    """A Mobile 10 GB product imported into TMF637, active since four months ago unless ``more`` says else."""
    body = {
        "name": "Mobile 10 GB",
        "status": "active",
        "startDate": months_ago(4),
        "productOffering": {"id": "po-mobile-10gb", "@referredType": "ProductOffering"},
        "billingAccount": {"id": account, "@referredType": "BillingAccount"},
        "relatedParty": [{"id": customer, "role": "customer", "@referredType": "Individual"}],
        **more,
    }
    return str(client.post(f"{INVENTORY}/product", body)["id"])


def assure(client: Client, *options: str) -> Ran:
    """``tmfgate assure`` for this month, on the gateway's store and settings, run in this process."""
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    return run_tmfgate(
        "assure", "--period", month, "--database-url", client.database, *options, env=client.environment()
    )


def raised(client: Client, rule: str) -> list[Doc]:
    return client.get(ALARMS, specificProblem=rule, sort="alarmRaisedTime")  # type: ignore[no-any-return]


def tamper(database: str, bill_id: str) -> None:
    """Change a stored bill's total behind the gateway's back, as a faulty bill run or a bad import would."""

    async def change() -> None:
        store = open_backend(database)
        await store.open()
        try:
            async with store.transaction() as tx:
                bill = codec.loads(await tx.get("customerBill", bill_id) or b"{}")
                bill["taxExcludedAmount"] = {**bill["taxExcludedAmount"], "value": 999.99}
                await tx.replace("customerBill", bill_id, codec.dumps(bill))
        finally:
            await store.close()

    asyncio.run(change())


def test_each_rule_finds_its_case_raises_an_alarm_and_a_ticket_once(database: str) -> None:
    with gateway(database) as client:
        spiking = imported(client, "ba-a", "cust-a")
        client.post(f"{USAGE}/usage", usage(spiking, "1", "cdr-old", usageDate=months_ago(1, 10)))
        client.post(f"{USAGE}/usage", usage(spiking, "20", "cdr-big"))
        twice = stamp(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
        for id in ("cdr-dup-1", "cdr-dup-2"):
            client.post(f"{USAGE}/usage", usage(spiking, "0.5", id, usageDate=twice))
        ended = imported(client, "ba-b", "cust-b", status="terminated", terminationDate=months_ago(0))
        assert client.post(f"{USAGE}/usage", usage(ended, "2", "cdr-late"))["status"] == "rejected"
        for account in ("ba-c", "ba-d"):
            charged = imported(client, account, f"cust-{account}", startDate=months_ago(0))
            client.post(f"{USAGE}/usage", usage(charged, "11"))  # 1 GB beyond the allowance: a rate to bill
            assert (
                client.post(f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": account}})["state"] == "done"
            )
        [wrong] = client.bills("ba-c")
        [right] = client.bills("ba-d")
        tamper(client.database, wrong["id"])

        first = assure(client)
        assert first.returncode == 1, first.stdout + first.stderr
        assert "5 findings, 5 new." in first.stdout
        for rule in ("inactive-usage", "usage-spike", "duplicate-usage", "unbilled-product", "bill-mismatch"):
            assert f"  {rule}: 1" in first.stdout

        [late] = raised(client, "inactive-usage")
        assert late["alarmedObject"]["id"] == ended and "cdr-late" in late["alarmDetails"]
        assert (late["state"], late["perceivedSeverity"], late["sourceSystemId"]) == (
            "raised",
            "major",
            "tmfgate-assurance",
        )
        [spike] = raised(client, "usage-spike")
        assert spike["alarmedObject"] == {"id": "cust-a", "@referredType": "Individual"}
        assert (
            "used 21 GB in" in spike["alarmDetails"]
            and "average over the 3 months before is 0.333 GB" in spike["alarmDetails"]
        )
        [dup] = raised(client, "duplicate-usage")
        assert "cdr-dup-1, cdr-dup-2" in dup["alarmDetails"] and dup["alarmedObject"]["id"] == spiking
        [unbilled] = raised(client, "unbilled-product")
        assert unbilled["alarmedObject"]["id"] == spiking  # the other products started this month or ended
        [mismatch] = raised(client, "bill-mismatch")
        assert mismatch["alarmedObject"]["id"] == wrong["id"] != right["id"]
        assert "999.99 EUR excluding tax" in mismatch["alarmDetails"]

        [ticket] = client.get(TICKETS, **{"relatedEntity.id": dup["id"]})
        assert (ticket["status"], ticket["ticketType"], ticket["priority"]) == ("acknowledged", "inquiry", "high")
        assert ticket["relatedParty"] == [{"id": "cust-a", "role": "customer", "@referredType": "Individual"}]
        assert "cdr-dup-2" in ticket["note"][0]["text"]
        assert client.get(ORDERING, category="revenue assurance") == []  # no rule suspends by default

        again = assure(client)
        assert again.returncode == 1 and "5 findings, 0 new." in again.stdout
        assert again.stdout.count("raised already") == 5
        assert len(client.get(ALARMS)) == 5 and len(client.get(TICKETS)) == 5

        only = assure(client, "--assure-rules", "bill-mismatch")
        assert "1 findings, 0 new." in only.stdout and "usage-spike" not in only.stdout


def test_a_rule_may_suspend_the_product_through_an_order_and_then_finds_its_usage(database: str) -> None:
    with gateway(database) as client:
        order = client.ended(
            client.order(
                "ba-s",
                [{"id": "cust-s", "role": "customer", "@referredType": "Individual"}],
                add("1", "po-mobile-10gb"),
            )
        )
        product = order["productOrderItem"][0]["product"]["id"]
        twice = stamp(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        for id in ("cdr-s-1", "cdr-s-2"):
            client.post(f"{USAGE}/usage", usage(product, "0.25", id, usageDate=twice))

        ran = assure(client, "--assure-suspend", "duplicate-usage", "--assure-severity", "critical")
        assert ran.returncode == 1 and "suspension order" in ran.stdout, ran.stdout + ran.stderr
        [suspension] = client.get(ORDERING, category="revenue assurance")
        assert suspension["productOrderItem"][0]["product"] == {"id": product, "status": "suspended"}
        done = client.ended(suspension)
        assert done["state"] == "completed", done.get("note")
        assert client.get(f"{INVENTORY}/product/{product}")["status"] == "suspended"
        [alarm] = raised(client, "duplicate-usage")
        assert alarm["perceivedSeverity"] == "critical" and suspension["externalId"] == alarm["id"]
        [ticket] = client.get(TICKETS, **{"relatedEntity.id": suspension["id"]})
        assert ticket["priority"] == "critical"

        later = stamp(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2))  # after the suspension completed
        assert client.post(f"{USAGE}/usage", usage(product, "1", "cdr-s-3", usageDate=later))["status"] == "rated"
        after = assure(client, "--assure-rules", "inactive-usage")
        assert after.returncode == 1 and "1 findings, 1 new." in after.stdout, after.stdout
        [inactive] = raised(client, "inactive-usage")
        assert "cdr-s-3" in inactive["alarmDetails"] and "cdr-s-1" not in inactive["alarmDetails"]
        assert len(client.get(ORDERING, category="revenue assurance")) == 1  # inactive-usage never suspends


def test_a_clean_store_has_no_findings_and_a_bad_month_or_setting_is_refused(database: str) -> None:
    with gateway(database) as client:
        imported(client, "ba-n", "cust-n", startDate=months_ago(0))
        clean = assure(client)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "0 findings, 0 new." in clean.stdout
        assert client.get(ALARMS) == [] and client.get(TICKETS) == []
        future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=62)).strftime("%Y-%m")
        ahead = run_tmfgate("assure", "--period", future, "--database-url", client.database)
        assert ahead.returncode == 2 and "has not started" in ahead.stderr
        bad = run_tmfgate("assure", "--period", "2026-13", "--database-url", client.database)
        assert bad.returncode == 2 and "2026-13" in bad.stderr
        for option, value, says in [
            ("--assure-rules", "spikes", "must name rules among"),
            ("--assure-suspend", "bill-mismatch", "must name rules among usage-spike"),
            ("--assure-spike-factor", "1", "must be a number above 1"),
            ("--assure-spike-window", "0", "must be from 1 to 24"),
        ]:
            refused = assure(client, option, value)
            assert refused.returncode != 0 and says in refused.stderr, refused.stderr
