"""Catalog price changes applied to the recurring charges of products already sold, from the next month.

A product keeps the prices it was ordered at (``productPrice``). When the catalog changes the amount or
period of a recurring ProductOfferingPrice (TMF620 PATCH), the change is recorded with the month it
takes effect: the one after the change. Rating then charges every product that names the price, and
was ordered before the change, at the new amount from that month on; earlier months keep the amount the
product was ordered at, and orders captured after the change carry the new amount already.
"""

from __future__ import annotations

from backends.base import Transaction, ValueType, where
from handlers.billing import prices
from handlers.billing.rules import Period
from tmfgate import documents, times
from tmfgate.ids import new_id
from tmfgate.types import Document

KIND = "tmfgate:priceChange"  # {price, at, from (YYYY-MM), type, value, unit, period}


def _charge(price: Document, currency: str) -> prices.Charge | None:
    try:
        return prices.catalog_charge(price, currency)
    except prices.PriceError:
        return None


async def record(tx: Transaction, old: Document, new: Document, currency: str) -> None:
    """Record the change of a recurring catalog price's charge, effective from the next month."""
    before, after = _charge(old, currency), _charge(new, currency)
    if after is None or after.type != prices.RECURRING or before == after:
        return
    now = times.now()
    change: Document = {"id": new_id(), "price": str(new["id"]), "at": now}
    change["from"] = str(Period.of(times.parse(now)).next())
    change.update(type=after.type, value=str(after.value), unit=after.unit, period=after.period)
    await documents.create(tx, KIND, change)


async def since(tx: Transaction, product: Document, price_id: str) -> list[Document]:
    """The changes of the price made after the product was ordered, oldest first."""
    ordered = product.get("orderDate") or product.get("startDate")
    conditions = [where("price", eq=price_id)]
    if ordered:
        conditions.append(where("at", gt=str(ordered), type=ValueType.DATETIME))
    return await documents.find(tx, KIND, *conditions, sort="at")


def charge_in(changes: list[Document], period: Period, default: prices.Charge) -> prices.Charge:
    """The charge of a month: the last change in effect by then, else the product's own."""
    found = default
    for change in changes:
        if Period.parse(change["from"]) <= period:
            found = prices.Charge(change["type"], prices.amount(change["value"]), change["unit"], change["period"])
    return found
