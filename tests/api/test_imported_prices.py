"""Prices given over HTTP (a product imported into TMF637, an order item's, a TMF620 catalog price) checked
as billing checks them.

On SQLite and PostgreSQL: a price billing cannot charge is a 400 naming the entry and storing
nothing; TMF678's names are stored as tmfgate's and billed; a yearly price is billed a twelfth a
month, never its whole amount each month, and a weekly one a seventh a day.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from tests.api.end_to_end import Doc, add, database_fixture
from tests.api.test_billing import BILLING, ORDERING, gateway
from tests.api.test_catalog_authoring import CATALOG, author
from tests.api.test_fulfilment import CUSTOMER

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
        ({"priceType": "usageCharge"}, "priceType 'usageCharge' is not one billing charges as a product's price"),
        ({"priceType": "discount"}, "priceType 'discount' is not one billing charges"),
        ({"recurringChargePeriod": "day"}, "the recurring period 'day' is not one billing charges"),
        ({"price": {"taxIncludedAmount": {"unit": "EUR", "value": 12}}}, "price.dutyFreeAmount is missing"),
        ({"price": {**euros(10), "taxIncludedAmount": {"value": -12}}}, "price.taxIncludedAmount must be 0 or more"),
        ({"billingAccount": {"id": "ba-other"}}, "names the billing account ba-other"),
    ],
    ids=[
        "currency",
        "negative",
        "usage",
        "unknown-type",
        "daily",
        "no-duty-free-amount",
        "negative-tax-included",
        "other-account",
    ],
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


def test_a_weekly_price_is_billed_a_seventh_a_day(database: str) -> None:
    with gateway(database, fulfilment=False) as client:
        product = client.post(
            f"{INVENTORY}/product", imported("ba-weekly", recurringChargePeriod="weekly", price=euros(7))
        )
        assert product["productPrice"][0]["recurringChargePeriod"] == "week"
        bill = client.post(f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": "ba-weekly"}})
        assert bill["state"] == "done", bill
        [rate] = client.rates(**{"billingAccount.id": "ba-weekly"})
        today = dt.datetime.now(dt.UTC).date()
        days = calendar.monthrange(today.year, today.month)[1]  # the whole month billed: every day of it
        assert rate["taxExcludedAmount"] == {"unit": "EUR", "value": Decimal(days)}
        assert f"{days} of {days} days" in rate["description"] and "at 7 EUR a week" in rate["description"]


def test_an_imported_one_time_price_is_billed_with_its_start_month_only(database: str) -> None:
    """Started before this month, it was the other system's to bill; starting this month, it is billed."""
    today = dt.datetime.now(dt.UTC).date()
    fee = {"name": "Set-up", "priceType": "oneTimeCharge", "price": euros(50)}
    with gateway(database, fulfilment=False) as client:
        client.post(f"{INVENTORY}/product", {**imported("ba-older"), "productPrice": [fee]})
        older = client.post(f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": "ba-older"}})
        assert older["state"] == "rejected" and "Nothing to bill" in older["errorMessage"], older
        new = {**imported("ba-new"), "startDate": f"{today.isoformat()}T00:00:00Z", "productPrice": [fee]}
        assert client.post(f"{INVENTORY}/product", new)["productPrice"][0]["priceType"] == "oneTime"
        assert client.post(f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": "ba-new"}})["state"] == "done"
        [rate] = client.rates(**{"billingAccount.id": "ba-new"})
        assert (rate["name"], rate["taxExcludedAmount"]["value"]) == ("Set-up", Decimal("50.00"))


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
            "product": {"productPrice": [{**item["itemPrice"][0], "recurringChargePeriod": "day"}]},
        }
        refused = client.post(f"{ORDERING}/productOrder", {"productOrderItem": [weekly]}, 400)
        assert "productOrderItem 1: product.productPrice[0]" in refused["message"]
        assert client.get(f"{ORDERING}/productOrder") == []
        v5 = {**item, "itemPrice": [{"name": "Fee", "priceType": "recurringCharge", "price": euros(5)}]}
        order = client.post(f"{ORDERING}/productOrder", {"productOrderItem": [v5]})
        assert order["productOrderItem"][0]["itemPrice"][0]["priceType"] == "recurring"


def test_catalog_management_checks_a_price_as_billing_does(database: str) -> None:
    """TMF620: a price on sale is one billing charges, named in the 400; TMF678's names are billing's."""

    def on_sale(**given: Any) -> Doc:
        price = {"name": "Fee", "priceType": "recurring", "recurringChargePeriodType": "month", **given}
        return {"price": {"unit": "EUR", "value": 10}, "lifecycleStatus": "launched", **price}

    with author(database) as client:
        before = client.get(f"{CATALOG}/productOfferingPrice", fields="id")
        for wrong, says in [
            ({"price": {"unit": "USD", "value": 10}}, "the price is in USD; billing charges in EUR"),
            ({"price": {"unit": "EUR", "value": -10}}, "the price must be 0 or more"),
            ({"priceType": "discount"}, "priceType 'discount' is not one billing charges"),
            ({"recurringChargePeriodType": "day"}, "the recurring period 'day' is not one billing charges"),
        ]:
            refused = client.post(f"{CATALOG}/productOfferingPrice", on_sale(**wrong), status=400)
            assert refused["message"].startswith("productOfferingPrice "), refused
            assert '"Fee": ' in refused["message"] and says in refused["message"], refused
        assert client.get(f"{CATALOG}/productOfferingPrice", fields="id") == before
        weekly = client.post(
            f"{CATALOG}/productOfferingPrice",
            on_sale(priceType="recurringCharge", recurringChargePeriodType="weekly", price={"unit": "EUR", "value": 7}),
        )
        data = {"name": "Data", "priceType": "usageCharge", "unitOfMeasure": {"amount": 1, "units": "GB"}}
        unmeasured = {**on_sale(**data), "unitOfMeasure": {"units": ""}}
        assert (
            "unitOfMeasure.units" in client.post(f"{CATALOG}/productOfferingPrice", unmeasured, status=400)["message"]
        )
        usage = client.post(f"{CATALOG}/productOfferingPrice", on_sale(**data))
        offered = {
            "name": "Weekly plan",
            "productSpecification": {"id": "ps-fibre-broadband"},
            "productOfferingPrice": [{"id": weekly["id"]}, {"id": usage["id"]}],
        }
        offering = client.launch(client.post(f"{CATALOG}/productOffering", offered))
        order = client.post(
            f"{ORDERING}/productOrder", {"productOrderItem": [add("1", offering["id"])], "relatedParty": CUSTOMER}
        )
        [price] = order["productOrderItem"][0]["itemPrice"]  # the usage price is rated per record, not carried
        assert (price["priceType"], price["recurringChargePeriod"]) == ("recurring", "week")
        assert price["productOfferingPrice"]["id"] == weekly["id"]
