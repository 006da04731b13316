"""Prices given over HTTP (a product imported into TMF637, an order item's prices) checked as billing checks them.

On SQLite and PostgreSQL: a price billing cannot charge is a 400 naming the entry and storing
nothing; TMF678's names are stored as tmfgate's and billed; a yearly price is billed a twelfth a
month, never its whole amount each month.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from tests.api.end_to_end import Doc, add, database_fixture
from tests.api.test_billing import BILLING, ORDERING, gateway

INVENTORY = "/tmf-api/productInventory/v4"
database = database_fixture("tmfgate_prices")


def first_of_last_month() -> str:
    """A start before the month billed now, so that the whole of this month is charged."""
    today = dt.datetime.now(dt.UTC).date()
    last = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return f"{last.isoformat()}T00:00:00Z"


def imported(account: str, **price: Any) -> Doc:
    """A product another system had, with one price (a monthly 10 EUR fee, changed by ``price``)."""
    entry = {
        "name": "Legacy fee",
        "priceType": "recurring",
        "recurringChargePeriod": "month",
        "price": {"dutyFreeAmount": {"unit": "EUR", "value": 10}},
        **price,
    }
    return {
        "name": "Legacy line",
        "status": "active",
        "startDate": first_of_last_month(),
        "billingAccount": {"id": account, "@referredType": "BillingAccount"},
        "relatedParty": [{"id": "cust-import", "role": "customer", "@referredType": "Individual"}],
        "productPrice": [entry],
    }


def euros(value: Any) -> Doc:
    return {"dutyFreeAmount": {"unit": "EUR", "value": value}}


@pytest.mark.parametrize(
    ("price", "says"),
    [
        ({"price": {"dutyFreeAmount": {"unit": "USD", "value": 10}}}, "the price is in USD; billing charges in EUR"),
        ({"price": euros(-10)}, "must be 0 or more"),
        ({"priceType": "usageCharge"}, "priceType 'usageCharge' is not one billing charges"),
        ({"priceType": "discount"}, "priceType 'discount' is not one billing charges"),
        ({"recurringChargePeriod": "week"}, "the recurring period 'week' is not one billing charges"),
        ({"price": {"taxIncludedAmount": {"unit": "EUR", "value": 12}}}, "price.dutyFreeAmount is missing"),
        ({"billingAccount": {"id": "ba-other"}}, "names the billing account ba-other"),
    ],
    ids=["currency", "negative", "usage", "unknown-type", "weekly", "no-duty-free-amount", "other-account"],
)
def test_an_imported_price_billing_cannot_charge_is_refused_naming_it(database: str, price: Doc, says: str) -> None:
    with gateway(database, fulfilment=False) as client:
        refused = client.post(f"{INVENTORY}/product", imported("ba-bad", **price), 400)
        assert refused["status"] == "400" and refused["message"].startswith('productPrice[0] "Legacy fee": ')
        assert says in refused["message"], refused["message"]
        assert client.get(f"{INVENTORY}/product") == []
        # The same price by PATCH of a product that is right: refused, and the product stays as it was.
        product = client.post(f"{INVENTORY}/product", imported("ba-bad"))
        changed = {"productPrice": imported("ba-bad", **price)["productPrice"]}
        assert says in client.patch(f"{INVENTORY}/product/{product['id']}", changed, 400)["message"]
        assert client.get(f"{INVENTORY}/product/{product['id']}") == product


def test_a_yearly_price_is_billed_a_twelfth_a_month(database: str) -> None:
    with gateway(database, fulfilment=False, tax_rate="0.20") as client:
        product = client.post(
            f"{INVENTORY}/product", imported("ba-yearly", recurringChargePeriod="yearly", price=euros(120))
        )
        assert product["productPrice"][0]["recurringChargePeriod"] == "year"
        bill = client.post(f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": "ba-yearly"}})
        assert bill["state"] == "done", bill
        [rate] = client.rates(**{"billingAccount.id": "ba-yearly"})
        assert rate["taxExcludedAmount"] == {"unit": "EUR", "value": Decimal("10.00")}
        assert "a twelfth of 120 EUR a year" in rate["description"]
        charged = client.get(f"{BILLING}/customerBill/{bill['customerBill']['id']}")
        assert charged["taxExcludedAmount"]["value"] == Decimal("10.00")
        assert charged["amountDue"]["value"] == Decimal("12.00")


def test_tmf678s_names_are_stored_as_tmfgates_and_billed(database: str) -> None:
    with gateway(database, fulfilment=False) as client:
        given = imported("ba-v5", priceType="recurringCharge", recurringChargePeriod="monthly", price=euros(10))
        product = client.post(f"{INVENTORY}/product", given)
        [price] = product["productPrice"]
        assert (price["priceType"], price["recurringChargePeriod"]) == ("recurring", "month")
        assert client.get(f"{INVENTORY}/product/{product['id']}")["productPrice"] == [price]
        bill = client.post(f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": "ba-v5"}})
        assert bill["state"] == "done", bill
        [rate] = client.rates(**{"billingAccount.id": "ba-v5"})
        assert rate["taxExcludedAmount"]["value"] == Decimal("10.00")
        assert {"name": "priceType", "valueType": "string", "value": "recurring"} in rate["characteristic"]


def test_an_order_items_prices_are_checked_the_same_way(database: str) -> None:
    with gateway(database, fulfilment=False) as client:
        item = {
            **add("1", "po-home-phone"),
            "itemPrice": [{"name": "Fee", "priceType": "recurring", "price": euros(5)}],
        }
        wrong = {**item, "itemPrice": [{"name": "Fee", "priceType": "recurring", "price": euros(-5)}]}
        refused = client.post(f"{ORDERING}/productOrder", {"productOrderItem": [wrong]}, 400)
        assert refused["message"].startswith('productOrderItem 1: itemPrice[0] "Fee": the price must be 0 or more')
        weekly = {
            **add("1", "po-home-phone"),
            "product": {"productPrice": [{**item["itemPrice"][0], "recurringChargePeriod": "week"}]},
        }
        refused = client.post(f"{ORDERING}/productOrder", {"productOrderItem": [weekly]}, 400)
        assert "productOrderItem 1: product.productPrice[0]" in refused["message"]
        assert client.get(f"{ORDERING}/productOrder") == []
        v5 = {**item, "itemPrice": [{"name": "Fee", "priceType": "recurringCharge", "price": euros(5)}]}
        order = client.post(f"{ORDERING}/productOrder", {"productOrderItem": [v5]})
        assert order["productOrderItem"][0]["itemPrice"][0]["priceType"] == "recurring"
