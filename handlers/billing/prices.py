"""Prices as billing charges them: the one check for catalog prices, imported products, orders and rating.

A price is billable when its type is ``oneTime`` or ``recurring`` (TMF678's ``oneTimeCharge`` and
``recurringCharge`` are read as those; usage is not rated), its amount is a finite number of 0 or
more, under :data:`LIMIT`, in the catalog's currency, and a recurring price is per month or per
year (a yearly price is charged a twelfth a month, prorated by days like a monthly one).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tmfgate.types import Document

ONE_TIME = "oneTime"
RECURRING = "recurring"
# The priceType values billing rates, and the TMF678 v4 names (AppliedCustomerBillingRate.type) of them.
TYPES = {"oneTime": ONE_TIME, "oneTimeCharge": ONE_TIME, "recurring": RECURRING, "recurringCharge": RECURRING}
# Months one recurring charge covers, by period; billing's period is the calendar month.
PERIODS = {"month": 1, "monthly": 1, "year": 12, "yearly": 12}
# So that a bill adding up a hundred thousand such prices stays within the 15 significant digits
# an amount keeps exactly as a JSON number (handlers.billing.rules.money).
LIMIT = Decimal(10) ** 9


class PriceError(ValueError):
    """A price billing cannot charge; the message says what is wrong, as a whole sentence."""


@dataclass(frozen=True)
class Charge:
    """A price as billing charges it."""

    type: str
    value: Decimal
    unit: str
    period: str | None = None  # "month" or "year" for a recurring price

    @property
    def months(self) -> int:
        """The months one recurring charge covers: each month is charged ``value / months``."""
        return PERIODS[self.period] if self.period else 1


def amount(value: Any) -> Decimal:
    """The exact Decimal of a stored amount or a catalog price (a JSON number or numeric text)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"{value!r} is not an amount of money.")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount of money.") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not an amount of money.")
    return number


def catalog_charge(price: Document, currency: str) -> Charge:
    """The charge of a catalog ProductOfferingPrice (TMF620: ``price``, ``recurringChargePeriodType``)."""
    length = price.get("recurringChargePeriodLength", 1)
    if price.get("priceType") in TYPES and TYPES[price["priceType"]] == RECURRING and length != 1:
        raise PriceError(f"recurringChargePeriodLength must be 1 (one month or one year); it is {length!r}.")
    return _charge(price.get("priceType"), price.get("price"), currency, price.get("recurringChargePeriodType"))


def product_charge(price: Document, currency: str) -> Charge:
    """The charge of a TMF637 ProductPrice or a TMF622 OrderPrice (``price.dutyFreeAmount``, tax excluded)."""
    if price.get("productPriceAlteration") or price.get("priceAlteration"):
        raise PriceError("billing applies no price alterations; give the altered price as an entry of its own.")
    given = price.get("price")
    if not isinstance(given, dict) or "dutyFreeAmount" not in given:
        raise PriceError(
            "price.dutyFreeAmount is missing: billing charges the amount without tax and adds the tax itself."
        )
    included = given.get("taxIncludedAmount")
    if isinstance(included, dict) and included.get("unit", currency) != currency:
        raise PriceError(f"price.taxIncludedAmount is in {included.get('unit')}; billing charges in {currency}.")
    return _charge(price.get("priceType"), given["dutyFreeAmount"], currency, price.get("recurringChargePeriod"))


def checked_amount(money: Any, currency: str, what: str, per: str = "") -> Decimal:
    """The value of a price's money (``what``, charged ``per`` a unit when given): 0 or more, under the
    limit, in the catalog's ``currency``; :class:`PriceError` saying what to give otherwise."""
    if not isinstance(money, dict) or "value" not in money:
        raise PriceError(f"{what} needs a value, an amount of 0 or more{per}.")
    try:
        value = amount(money["value"])
    except ValueError as why:
        raise PriceError(f"{what} needs a value of 0 or more: {why}") from None
    if not 0 <= value < LIMIT:
        raise PriceError(f"{what} must be 0 or more and less than {LIMIT:,}; it is {value}.")
    unit = money.get("unit", currency)
    if unit != currency:
        raise PriceError(f"{what} is in {unit}; billing charges in {currency}, the catalog's currency.")
    return value


def _charge(price_type: Any, money: Any, currency: str, period: Any) -> Charge:
    if price_type not in TYPES:
        raise PriceError(
            f"priceType {price_type!r} is not one billing charges: use oneTime or recurring "
            "(oneTimeCharge and recurringCharge are read as those; usage is not billed)."
        )
    value = checked_amount(money, currency, "the price")
    if TYPES[price_type] == ONE_TIME:
        return Charge(ONE_TIME, value, currency)
    named = "month" if period is None else str(period).strip().lower()
    if named not in PERIODS:
        raise PriceError(
            f"the recurring period {period!r} is not one billing charges: month (or monthly), or year "
            "(or yearly, charged a twelfth each month)."
        )
    return Charge(RECURRING, value, currency, "month" if PERIODS[named] == 1 else "year")


def checked(prices: Any, currency: str, what: str = "productPrice") -> list[Document]:
    """The ProductPrice (or OrderPrice) entries with tmfgate's names (``priceType``, the period, the
    currency); PriceError naming the entry (``productPrice[1] "Yearly fee"``) and what is wrong."""
    if prices is None:
        return []
    entries: list[Document] = []
    for n, price in enumerate(prices):
        try:
            charge = product_charge(price, currency)
        except PriceError as why:
            name = f' "{price["name"]}"' if isinstance(price, dict) and price.get("name") else ""
            raise PriceError(f"{what}[{n}]{name}: {why}") from None
        entries.append(product_price(price, charge))
    return entries


def product_price(price: Document, charge: Charge) -> Document:
    """``price`` with the names billing uses for its charge."""
    entry = {**price, "priceType": charge.type}
    entry.pop("recurringChargePeriod", None)
    if charge.period is not None:
        entry["recurringChargePeriod"] = charge.period
    given = dict(price.get("price") or {})
    given["dutyFreeAmount"] = {**given.get("dutyFreeAmount", {}), "unit": charge.unit}
    entry["price"] = given
    return entry
