"""The one check of prices: what billing can charge, from the catalog, an import, an order or a stored product."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from handlers.billing.prices import Charge, PriceError, catalog_charge, checked, price_type, product_charge


def product_price(value: Any = 10, unit: str = "EUR", **entry: Any) -> dict[str, Any]:
    return {
        "name": "Fee",
        "priceType": "recurring",
        "price": {"dutyFreeAmount": {"unit": unit, "value": value}},
        **entry,
    }


def test_the_names_of_tmf678_and_of_the_periods_are_read_as_tmfgates() -> None:
    assert product_charge(product_price(priceType="recurringCharge", recurringChargePeriod="monthly"), "EUR") == Charge(
        "recurring", Decimal(10), "EUR", "month"
    )
    yearly = product_charge(product_price(120, recurringChargePeriod=" Year "), "EUR")
    assert (yearly.period, yearly.days(31), yearly.days(28)) == ("year", 372, 336)  # a twelfth of a month's days
    weekly = product_charge(product_price(70, recurringChargePeriod="weekly"), "EUR")
    assert (weekly.period, weekly.days(31), weekly.days(30)) == ("week", 7, 7)
    assert product_charge(product_price(), "EUR").days(30) == 30
    assert product_charge(product_price(priceType="oneTimeCharge"), "EUR") == Charge("oneTime", Decimal(10), "EUR")
    assert product_charge(product_price(), "EUR").period == "month"  # no period given: monthly, as the catalog's
    assert product_charge(product_price(0, recurringChargePeriod="yearly"), "EUR").value == 0


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        (product_price(10, "USD"), "the price is in USD; billing charges in EUR"),
        (product_price(-10), "must be 0 or more and less than 1,000,000,000; it is -10"),
        (product_price(10**9), "less than 1,000,000,000"),
        (product_price("ten"), "'ten' is not an amount of money"),
        (product_price(True), "not an amount of money"),
        (product_price(priceType="usageCharge"), "priceType 'usageCharge' is not one billing charges as a product's"),
        (product_price(priceType="usage"), "usage is charged by usage rating"),
        (product_price(priceType="discount"), "priceType 'discount' is not one billing charges: use oneTime or"),
        (product_price(priceType=None), "priceType None is not one billing charges"),
        (product_price(recurringChargePeriod="day"), "the recurring period 'day' is not one billing charges"),
        (product_price(recurringChargePeriod="fortnight"), "month .or monthly., year .or yearly.* or week"),
        ({"priceType": "oneTime", "price": {"taxIncludedAmount": {"unit": "EUR", "value": 12}}}, "dutyFreeAmount"),
        (
            {**product_price(), "price": {"dutyFreeAmount": {"value": 1}, "taxIncludedAmount": {"unit": "GBP"}}},
            "taxIncludedAmount is in GBP",
        ),
        (
            {**product_price(), "price": {"dutyFreeAmount": {"value": 1}, "taxIncludedAmount": {"value": -1.2}}},
            "price.taxIncludedAmount must be 0 or more",
        ),
        ({**product_price(), "productPriceAlteration": [{"priceType": "discount"}]}, "no price alterations"),
        ({"priceType": "recurring", "price": {"dutyFreeAmount": {"unit": "EUR"}}}, "needs a value"),
    ],
)
def test_a_price_billing_cannot_charge_is_refused_saying_why(entry: dict[str, Any], says: str) -> None:
    with pytest.raises(PriceError, match=says):
        product_charge(entry, "EUR")


def test_a_list_of_prices_comes_back_with_tmfgates_names_or_names_the_entry_that_is_wrong() -> None:
    given = [
        product_price(
            priceType="recurringCharge", recurringChargePeriod="monthly", price={"dutyFreeAmount": {"value": 5}}
        ),
        {**product_price(1), "priceType": "oneTime", "recurringChargePeriod": "month"},
    ]
    assert checked(given, "EUR") == [
        {
            "name": "Fee",
            "priceType": "recurring",
            "recurringChargePeriod": "month",
            "price": {"dutyFreeAmount": {"value": 5, "unit": "EUR"}},
        },
        {"name": "Fee", "priceType": "oneTime", "price": {"dutyFreeAmount": {"unit": "EUR", "value": 1}}},
    ]
    assert checked(None, "EUR") == []
    with pytest.raises(PriceError, match=r'itemPrice\[1\] "Daily": the recurring period \'day\''):
        checked([product_price(), product_price(name="Daily", recurringChargePeriod="day")], "EUR", "itemPrice")


def test_catalog_prices_go_through_the_same_check() -> None:
    monthly = {"priceType": "recurring", "recurringChargePeriodType": "month", "price": {"unit": "EUR", "value": 9.99}}
    assert catalog_charge(monthly, "EUR") == Charge("recurring", Decimal("9.99"), "EUR", "month")
    assert catalog_charge({**monthly, "recurringChargePeriodType": "year"}, "EUR").period == "year"
    assert catalog_charge({**monthly, "recurringChargePeriodType": "week"}, "EUR").period == "week"
    assert catalog_charge({**monthly, "priceType": "recurringCharge"}, "EUR").type == "recurring"
    with pytest.raises(PriceError, match="billing charges in GBP"):
        catalog_charge(monthly, "GBP")
    with pytest.raises(PriceError, match="recurringChargePeriodLength must be 1"):
        catalog_charge({**monthly, "recurringChargePeriodLength": 12}, "EUR")


def test_every_name_of_a_price_type_is_read_as_tmfgates_and_no_other() -> None:
    names = {"oneTime": "oneTime", "oneTimeCharge": "oneTime", "recurring": "recurring"}
    names |= {"recurringCharge": "recurring", "usage": "usage", "usageCharge": "usage"}
    assert {given: price_type(given) for given in names} == names
    assert [price_type(given) for given in ("discount", "Recurring", None, 1, ["usage"])] == [None] * 5
