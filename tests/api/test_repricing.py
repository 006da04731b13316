"""A catalog price change applies to the products sold already from the next month, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from handlers.billing.rules import Period
from tests.api.end_to_end import database_fixture
from tests.api.test_accounts import bill_run, months_ago
from tests.api.test_billing import gateway
from tests.api.test_usage import mobile

CATALOG = "/tmf-api/productCatalogManagement/v4"
database = database_fixture("tmfgate_repricing")


def test_a_recurring_price_changed_in_the_catalog_is_charged_from_the_next_month(database: str) -> None:
    with gateway(database, fulfilment=False) as client:
        body = {"name": "Line fee", "priceType": "recurring", "recurringChargePeriodType": "month"}
        price = client.post(
            f"{CATALOG}/productOfferingPrice",
            {**body, "price": {"unit": "EUR", "value": 10}, "lifecycleStatus": "launched"},
        )
        fee = {"name": "Line fee", "priceType": "recurring", "recurringChargePeriod": "month"}
        fee.update(price={"dutyFreeAmount": {"unit": "EUR", "value": 10}}, productOfferingPrice={"id": price["id"]})
        product = mobile(client, "ba-reprice", startDate=f"{months_ago(2).isoformat()}T00:00:00Z", productPrice=[fee])
        client.patch(f"{CATALOG}/productOfferingPrice/{price['id']}", {"description": "no new amount"})
        client.patch(f"{CATALOG}/productOfferingPrice/{price['id']}", {"price": {"unit": "EUR", "value": 15}})

        current = Period.parse(months_ago(0).isoformat()[:7])
        for month, advance in ((Period.parse(months_ago(1).isoformat()[:7]), ()), (current, ("--in-advance",))):
            run = bill_run(client, "--period", str(month), *advance)
            assert run.returncode == 0, run.stderr
        run = bill_run(client, "--period", str(current.next()), "--in-advance")
        assert run.returncode == 0, run.stderr
        charged = {
            next(c["value"] for c in rate["characteristic"] if c["name"] == "billingPeriod"): rate["taxExcludedAmount"][
                "value"
            ]
            for rate in client.rates(**{"product.id": product["id"]})
        }
        # Months up to the change's keep the amount the product was sold at.
        assert charged[months_ago(1).isoformat()[:7]] == Decimal(10)
        assert charged[str(current)] == Decimal(10)
        assert charged[str(current.next())] == Decimal(15)
