"""Prices as billing charges them: the one check for catalog prices, imported products, orders and rating.

A price is billable when its type is ``oneTime`` or ``recurring`` (TMF678's ``oneTimeCharge`` and
``recurringCharge`` are read as those; ``usage`` and ``usageCharge`` are catalog prices rated per record,
:mod:`handlers.usage.tariffs`), its amount is a finite number of 0 or more, under :data:`LIMIT`, in the
catalog's currency, and a recurring price is per month, per year or per week, charged for the days a
product is active in each calendar month: a month's share of a monthly price, a twelfth of that of
a yearly one, a seventh of a weekly price a day. No price is a credit: money owed back is
billing's own ``appliedBillingCredit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tmfgate.types import Document

ONE_TIME = "oneTime"
RECURRING = "recurring"
USAGE = "usage"
# The priceType values billing knows, and the TMF678 v4 names (AppliedCustomerBillingRate.type) of them.
TYPES = {
    "oneTime": ONE_TIME,
    "oneTimeCharge": ONE_TIME,
    "recurring": RECURRING,
    "recurringCharge": RECURRING,
    "usage": USAGE,
    "usageCharge": USAGE,
}
# The recurring periods billing prorates, by the names clients give them (TMF620/637 v4: "month, week...").
PERIODS = {"month": "month", "monthly": "month", "year": "year", "yearly": "year", "week": "week", "weekly": "week"}
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
    period: str | None = None  # "month", "year" or "week" for a recurring price

    def days(self, month_days: int) -> int:
        """The days ``value`` pays for, seen from a month of ``month_days`` days: the month's charge is
        ``value × active days / days``."""
        if self.period == "week":
            return 7
        return month_days * (12 if self.period == "year" else 1)


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


def price_type(given: Any) -> str | None:
    """tmfgate's name (oneTime, recurring, usage) of a ``priceType``; None for one billing does not know."""
    return TYPES.get(given) if isinstance(given, str) else None


def catalog_charge(price: Document, currency: str) -> Charge:
    """The charge of a catalog ProductOfferingPrice (TMF620: ``price``, ``recurringChargePeriodType``) that
    is not a usage price (those are :func:`handlers.usage.tariffs.usage_price`'s)."""
    length = price.get("recurringChargePeriodLength", 1)
    if price_type(price.get("priceType")) == RECURRING and length != 1:
        raise PriceError(f"recurringChargePeriodLength must be 1 (one month, year or week); it is {length!r}.")
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
    if isinstance(included, dict) and "value" in included:  # shown to clients beside the charge: never negative
        checked_amount(included, currency, "price.taxIncludedAmount")
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


def _charge(given: Any, money: Any, currency: str, period: Any) -> Charge:
    known = price_type(given)
    if known is None:
        raise PriceError(
            f"priceType {given!r} is not one billing charges: use oneTime or recurring "
            "(oneTimeCharge and recurringCharge are read as those), or usage (usageCharge) in the catalog."
        )
    if known == USAGE:
        raise PriceError(
            f"priceType {given!r} is not one billing charges as a product's price: usage is charged by usage "
            "rating, from the usage prices of the product's offering in the catalog; use oneTime or recurring."
        )
    value = checked_amount(money, currency, "the price")
    if known == ONE_TIME:
        return Charge(ONE_TIME, value, currency)
    named = "month" if period is None else str(period).strip().lower()
    if named not in PERIODS:
        raise PriceError(
            f"the recurring period {period!r} is not one billing charges: month (or monthly), year (or "
            "yearly, charged a twelfth each month) or week (or weekly, charged a seventh a day)."
        )
    return Charge(RECURRING, value, currency, PERIODS[named])


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
