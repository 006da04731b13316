"""Catalog prices of a product: those of its offering that apply to the characteristic values chosen.

A ProductOfferingPrice with ``prodSpecCharValueUse`` applies only while the product has one of the
values it lists (a price per speed or allowance); one without applies always. Orders show the
prices at capture (``itemPrice``, ``itemTotalPrice``, ``orderTotalPrice``) and products carry them.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from handlers.billing import prices
from handlers.billing.rules import money
from handlers.catalog.loading import Catalog
from handlers.usage import tariffs
from tmfgate.types import Document


def applicable(catalog: Catalog, offering: Document, characteristics: list[Document]) -> list[Document]:
    """The catalog prices of ``offering`` that apply to these characteristic values."""
    chosen = {str(c.get("name")): str(c.get("value")) for c in characteristics}
    found = []
    for ref in offering.get("productOfferingPrice", []):
        price = catalog.get("productOfferingPrice", str(ref.get("id")))
        if price is None or tariffs.is_usage(price):  # charged by usage rating, never as a product price
            continue
        if all(_holds(use, chosen) for use in price.get("prodSpecCharValueUse", [])):
            found.append(price)
    return found


def _holds(use: Document, chosen: dict[str, str]) -> bool:
    values = {str(v.get("value")) for v in use.get("productSpecCharacteristicValue", [])}
    return not values or chosen.get(str(use.get("name"))) in values


def entry(price: Document, currency: str) -> Document:
    """A TMF637 ProductPrice (or TMF622 OrderPrice, the same shape) from a catalog price."""
    charge = prices.catalog_charge(price, currency)
    found: Document = {
        "name": price.get("name", ""),
        "priceType": charge.type,
        "productOfferingPrice": {
            "id": price["id"],
            "name": price.get("name", ""),
            "@referredType": "ProductOfferingPrice",
        },
        "price": {"dutyFreeAmount": {**price.get("price", {}), "unit": charge.unit}},
    }
    if charge.period is not None:
        found["recurringChargePeriod"] = charge.period
    return found


def entries(catalog: Catalog, offering: Document, characteristics: list[Document]) -> list[Document]:
    """The ProductPrice entries of a product of ``offering`` with these characteristic values."""
    return [entry(price, catalog.currency) for price in applicable(catalog, offering, characteristics)]


def times(found: list[Document], quantity: int) -> list[Document]:
    """The entries for ``quantity`` products (an item's ``itemTotalPrice``)."""
    return [_with_amount(e, _amount(e) * quantity) for e in found]


def totals(found: Iterable[Document], currency: str) -> list[Document]:
    """One OrderPrice per price type and period, adding up ``found`` (an order's ``orderTotalPrice``)."""
    sums: dict[tuple[str, str | None], Decimal] = {}
    for e in found:
        key = (str(e["priceType"]), e.get("recurringChargePeriod"))
        sums[key] = sums.get(key, Decimal(0)) + _amount(e)
    result = []
    for (price_type, period), value in sums.items():
        total: Document = {
            "name": f"Total {price_type}" + (f" per {period}" if period else ""),
            "priceType": price_type,
            "price": {"dutyFreeAmount": money(value, currency)},
        }
        if period:
            total["recurringChargePeriod"] = period
        result.append(total)
    return result


def _amount(found: Document) -> Decimal:
    return prices.amount(found["price"]["dutyFreeAmount"]["value"])


def _with_amount(found: Document, value: Decimal) -> Document:
    unit = found["price"]["dutyFreeAmount"]["unit"]
    return {**found, "price": {**found["price"], "dutyFreeAmount": money(value, unit)}}
