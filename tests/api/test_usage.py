"""Usage charging end to end (TMF635 into TMF678), over HTTP and the command line, on SQLite and PostgreSQL.

A mobile plan of the demo catalog includes 10 GB a month and charges 2.00 EUR a GB beyond; its usage
records are rated one by one with the allowance, de-duplicated by id, parked when they cannot be
charged, refused when malformed, and billed on the account's next bill. Every expected amount is
worked out here from the catalog's prices.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from tests.api.end_to_end import Doc, database_fixture
from tests.api.test_billing import BILLING, Client, gateway
from tests.commands import run_tmfgate

USAGE = "/tmf-api/usageManagement/v4"
INVENTORY = "/tmf-api/productInventory/v4"
database = database_fixture("tmfgate_usage")


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def start_of_last_month() -> str:
    today = dt.datetime.now(dt.UTC).date()
    return f"{(today.replace(day=1) - dt.timedelta(days=1)).replace(day=1).isoformat()}T00:00:00Z"


def mobile(client: Client, account: str, **more: Any) -> Doc:
    """A Mobile 10 GB product of the account, imported into TMF637 (no order needed to charge usage)."""
    body = {
        "name": "Mobile 10 GB",
        "status": "active",
        "startDate": start_of_last_month(),
        "productOffering": {"id": "po-mobile-10gb", "@referredType": "ProductOffering"},
        "billingAccount": {"id": account, "@referredType": "BillingAccount"},
        "relatedParty": [{"id": "cust-usage", "role": "customer", "@referredType": "Individual"}],
        **more,
    }
    return client.post(f"{INVENTORY}/product", body)


def usage(product: str, gigabytes: str, id: str | None = None, **more: Any) -> Doc:
    record: Doc = {
        "usageDate": now(),
        "usageType": "data",
        "ratedProductUsage": [{"productRef": {"id": product}}],
        "usageCharacteristic": [{"name": "quantity", "value": gigabytes}, {"name": "unit", "value": "GB"}],
        **more,
    }
    if id:
        record["id"] = id
    return record


def charged(record: Doc) -> tuple[Decimal, Decimal, str]:
    rated = record["ratedProductUsage"][0]
    return rated["taxExcludedRatingAmount"]["value"], rated["taxIncludedRatingAmount"]["value"], rated["usageRatingTag"]


def test_usage_is_rated_with_the_allowance_and_billed(database: str) -> None:
    with gateway(database) as client:
        product = mobile(client, "ba-usage")["id"]
        first = client.post(f"{USAGE}/usage", usage(product, "8", "cdr-1"))
        assert first["status"] == "rated" and first["id"] == "cdr-1"
        assert charged(first) == (Decimal(0), Decimal(0), "included usage")
        second = client.post(f"{USAGE}/usage", usage(product, "3.5", "cdr-2"))
        assert charged(second) == (Decimal("3.00"), Decimal("3.60"), "non included usage")  # 1.5 GB over
        third = client.post(f"{USAGE}/usage", usage(product, "0.125", "cdr-3"))
        assert charged(third) == (Decimal("0.25"), Decimal("0.30"), "non included usage")
        assert client.get(f"{USAGE}/usage/cdr-2")["ratedProductUsage"][0]["productRef"]["id"] == product

        again = client.post(f"{USAGE}/usage", usage(product, "100", "cdr-1"), status=409)
        assert "cdr-1 is stored already" in again["reason"] + again.get("message", "")
        [rate] = client.rates(**{"product.id": product})
        assert rate["taxExcludedAmount"] == {"unit": "EUR", "value": Decimal("3.25")}  # 11.625 GB: 1.625 over
        assert rate["taxIncludedAmount"]["value"] == Decimal("3.90")
        quantity = {c["name"]: c["value"] for c in rate["characteristic"]}
        assert quantity["usageQuantity"] == "11.625" and quantity["priceType"] == "usage"

        bill = client.post(f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": "ba-usage"}})
        assert bill["state"] == "done"
        [billed] = client.bills("ba-usage")
        assert billed["amountDue"]["value"] == Decimal("3.90")
        later = client.post(f"{USAGE}/usage", usage(product, "1", "cdr-4"))
        assert charged(later)[0] == Decimal("2.00")
        rates = client.rates(**{"product.id": product, "isBilled": "false"})
        assert [(r["taxExcludedAmount"]["value"], r["isBilled"]) for r in rates] == [(Decimal("2.00"), False)]


def test_usage_that_cannot_be_charged_is_parked_or_refused(database: str) -> None:
    with gateway(database) as client:
        ended = mobile(client, "ba-parked", status="terminated", terminationDate=start_of_last_month())["id"]
        parked = client.post(f"{USAGE}/usage", usage("no-such-product", "1", "cdr-x"))
        assert parked["status"] == "rejected" and "No product no-such-product" in parked["rejectionReason"]
        gone = client.post(f"{USAGE}/usage", usage(ended, "1"))
        assert gone["status"] == "rejected" and "is terminated" in gone["rejectionReason"]
        assert "ratedProductUsage" in gone and "taxExcludedRatingAmount" not in gone["ratedProductUsage"][0]
        live = mobile(client, "ba-parked")["id"]
        minutes = usage(live, "3")
        minutes["usageCharacteristic"][1]["value"] = "minute"
        assert "no usage price in minute" in client.post(f"{USAGE}/usage", minutes)["rejectionReason"]
        huge = client.post(f"{USAGE}/usage", usage(live, "999999999999"))  # 2 EUR a GB: 2e12 EUR
        assert huge["status"] == "rejected" and "would cost 1,000,000,000 or more" in huge["rejectionReason"]

        for body, says in [
            ({**usage(live, "1"), "usageCharacteristic": []}, "'quantity' is missing"),
            (usage(live, "-1"), "must be a number from 0"),
            (usage(live, "lots"), "must be a number from 0"),
            ({**usage(live, "1"), "ratedProductUsage": []}, "productRef.id is missing"),
            ({**usage(live, "1"), "usageDate": "yesterday"}, "usageDate"),
            ({**usage(live, "1"), "status": "rated"}, "status is set by the server"),
        ]:
            refused = client.post(f"{USAGE}/usage", {**body, "id": "bad"}, status=400)
            assert says in refused["reason"] + refused.get("message", ""), refused
        assert client.http.get(client.url + f"{USAGE}/usage/bad").status_code == 404  # nothing stored
        assert client.http.delete(client.url + f"{USAGE}/usage/cdr-x").status_code == 204  # parked: may go
        rated = client.post(f"{USAGE}/usage", usage(live, "1", "cdr-y"))
        assert client.http.delete(client.url + f"{USAGE}/usage/cdr-y").status_code == 409
        client.patch(f"{USAGE}/usage/{rated['id']}", {"usageCharacteristic": []}, status=400)
        assert client.patch(f"{USAGE}/usage/{rated['id']}", {"description": "roaming"})["description"] == "roaming"


def test_usage_import_takes_an_ndjson_file_in_batches(database: str, tmp_path: Path) -> None:
    with gateway(database) as client:
        product = mobile(client, "ba-import")["id"]
        lines = [usage(product, "0.01", f"imp-{n}") for n in range(1200)]  # 12 GB: 2 over, across two batches
        lines += [usage(product, "5", "imp-3"), usage("nope", "1", "imp-nope")]
        text = b"\n".join(orjson.dumps(line) for line in lines) + b"\nnot json\n"
        (tmp_path / "usage.ndjson").write_bytes(text)
        env = {"TMFGATE_PUBLIC_URL": client.url, "TMFGATE_RATE_LIMIT": "0"}
        run = run_tmfgate("usage", "import", str(tmp_path / "usage.ndjson"), "--database-url", database, env=env)
        assert run.returncode == 1, run.stderr  # a line was refused
        assert run.stdout.startswith("1200 rated, 1 parked, 1 already stored, 1 refused."), run.stdout
        assert "refused line 1203" in run.stdout
        [rate] = client.rates(**{"product.id": product})
        assert rate["taxExcludedAmount"]["value"] == Decimal("4.00")
        over = {"ratedProductUsage.productRef.id": product, "ratedProductUsage.usageRatingTag": "non included usage"}
        records = client.get(f"{USAGE}/usage", **over)
        assert sum(charged(r)[0] for r in records) == Decimal("4.00") and len(records) == 200


def test_a_batch_is_stored_and_rated_in_one_request(database: str) -> None:
    with gateway(database) as client:
        product = mobile(client, "ba-batch")["id"]
        client.post(f"{USAGE}/usage", usage(product, "4", "b-0"))
        body = [usage(product, "4", f"b-{n}") for n in range(4)]  # b-0 stored already: 16 GB in all
        body += [usage(product, "1", "b-1"), usage("ghost", "1", "b-ghost"), {**usage(product, "1"), "usageDate": 3}]
        answer = client.http.post(client.url + "/tmfgate/usage/v1/usageBatch", json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert report["rated"] == 3 and report["duplicate"] == ["b-0", "b-1"]
        assert [p["id"] for p in report["parked"]] == ["b-ghost"]
        assert [r["index"] for r in report["refused"]] == [6] and "usageDate" in report["refused"][0]["reason"]
        [rate] = client.rates(**{"product.id": product})
        assert rate["taxExcludedAmount"]["value"] == Decimal("12.00")  # 16 GB: 6 over, at 2.00
        too_many = client.http.post(client.url + "/tmfgate/usage/v1/usageBatch", json=[{}] * 1001, timeout=30)
        assert too_many.status_code == 400
