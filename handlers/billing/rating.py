"""Rating: the products of completed orders become applied customer billing rates (TMF678).

The rules (what is charged, proration, rounding, re-rating) are in :mod:`handlers.billing.rules`. Every
rating of one billing account holds the account's lock (:func:`lock_account`), as bill runs do, so
rating and billing of an account take turns and a rate is never changed while it is being billed.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from backends.base import DuplicateId, Transaction, where
from handlers import apis
from handlers.billing import chunks, prices, repricing
from handlers.billing.chunks import Chunk
from handlers.billing.rules import (
    RATE,
    TAX_CATEGORY,
    Period,
    active_days,
    coverage,
    money,
    prorate,
    signed,
    tax,
    tax_rate,
)
from handlers.catalog import loading as catalogs
from handlers.fulfilment.product_orders import products_of
from handlers.ordering.lifecycle import PRODUCT_ORDERS
from tmfgate import documents, operations, times
from tmfgate.calls import Actor, Job
from tmfgate.types import Document

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

log = logging.getLogger("tmfgate.billing")

# One document per billing account ever rated: the accounts a bill run goes through, and the lock
# that makes rating and billing of one account take turns.
ACCOUNTS = "tmfgate:billingAccount"
ORDER_ENDINGS = frozenset({"completed", "partial"})
_NAMESPACE = uuid.UUID("60206e03-7c7c-4f4b-aeef-d51ac0f95ff1")


async def rate_order(job: Job) -> None:
    """A product order ended completed or partial: rate the products of its completed items.

    A reaction to ``ProductOrderStateChangeEvent``: it reads the stored order and products, so running
    it twice changes nothing."""
    if job.document.get("state") not in ORDER_ENDINGS:
        return
    async with job.gateway.transaction() as tx:
        order = await documents.get(tx, "productOrder", job.event.resource_id)
        if order is None:
            return
        completed = {str(item["id"]) for item in PRODUCT_ORDERS.items(order) if item.get("state") == "completed"}
        found: list[tuple[Document, str, bool]] = []  # (billing account, product id, installed by this order)
        for product_id in sorted(await products_of(tx, order)):
            product = await documents.get(tx, "product", product_id) or {}
            action = next(
                (
                    entry.get("orderItemAction")
                    for entry in product.get("productOrderItem", [])
                    if entry.get("productOrderId") == order["id"] and str(entry.get("orderItemId")) in completed
                ),
                None,
            )
            if action is None:
                continue
            account = product.get("billingAccount") or {}
            if not account.get("id"):
                log.warning(
                    "Product %s of product order %s has no billing account: it is not billed.",
                    product["id"],
                    order["id"],
                )
                continue
            found.append((account, str(product["id"]), action == "add"))
        # Accounts locked in one order (sorted), so two transactions never wait on each other in a cycle.
        for account, product_id, installed in sorted(found, key=lambda entry: (str(entry[0]["id"]), entry[1])):
            await lock_account(tx, account, create=True)
            product = await documents.get(tx, "product", product_id) or {}  # read again under the lock
            if product:
                start = Period.of(times.parse(product["startDate"]))
                await rate_product(tx, job, product, periods={start} if installed else set(), one_time=installed)


@dataclass(frozen=True)
class Worker:
    """The actor of billing work done for an owner outside a request (``tmfgate bill-run``), or for
    the owner of a product whose charges someone else caused."""

    gateway: Gateway
    correlation_id: str
    owner: str | None = None  # the partner whose products and rates it bills; None: those stored without one


async def for_product(tx: Transaction, actor: Actor, product: Document) -> Actor:
    """The actor of the charges and credits of ``product``: they are its owner's (tenancy), whoever
    caused them (the back office's mediation, its ticket), so that they reach that owner's bill."""
    return acting_for(actor, await tx.owner("product", str(product["id"])))


def acting_for(actor: Actor, owner: str | None) -> Actor:
    """``actor`` when it acts for ``owner``, else the worker acting for that owner (see :func:`for_product`)."""
    return actor if owner == actor.owner else Worker(actor.gateway, actor.correlation_id, owner)


async def lock_account(tx: Transaction, account: Document, *, create: bool) -> Document | None:
    """The billing account's record, locked until the transaction ends (made first when ``create``)."""
    id = str(account["id"])
    record = await documents.locked(tx, ACCOUNTS, id)
    if record is None and create:
        record = {"id": id, "billingAccount": account_ref(account)}
        try:
            await documents.create(tx, ACCOUNTS, record)
        except DuplicateId:  # made by another transaction meanwhile; the store stays usable
            record = await documents.locked(tx, ACCOUNTS, id)
    return record


def account_ref(account: Document) -> Document:
    """A BillingAccountRef from the reference an order gave."""
    ref = {k: v for k, v in account.items() if k in ("id", "href", "name", "@type", "@referredType")}
    ref.setdefault("@referredType", "BillingAccount")
    return ref


async def rate_product(
    tx: Transaction,
    actor: Actor,
    product: Document,
    *,
    periods: set[Period],
    one_time: bool,
    chunk: Chunk | None = None,
) -> None:
    """Make the product's rates what the rules say: its one-time charges (when ``one_time``), and its
    recurring charges for ``periods``, every month already rated, and every month between them, so that
    billing months out of order skips none. Hold the account's lock; a bill run gives the ``chunk`` it
    read under it, which holds the product's rates and price changes."""
    gateway = actor.gateway
    unit = catalogs.of(gateway).currency
    customer = await customer_of(tx, product)
    if chunk is None:
        existing = await documents.find(tx, RATE, where("product.id", eq=str(product["id"])))
    else:
        existing = chunk.rates.get(str(product["id"]), [])
    start = times.parse(product["startDate"])
    end = times.parse(product["terminationDate"]) if product.get("terminationDate") else None
    periods = periods | await _drop_replaced(tx, actor, product, existing)
    for price in product.get("productPrice", []):
        price_id = chunks.price_id(price)
        try:
            charge = prices.product_charge(price, unit)
        except prices.PriceError as why:  # stored before prices were checked (see handlers.billing.prices)
            log.error("Price %s of product %s is left unbilled: %s", price_id, product["id"], why)
            continue
        mine = [rate for rate in existing if characteristic_value(rate, "productOfferingPrice") == price_id]
        rater = _Rater(actor, product, price, price_id, charge, customer)
        if charge.type == prices.ONE_TIME and one_time and not mine:
            id = _id(f"{product['id']}/{price_id}/oneTime")
            moment = {"startDateTime": product["startDate"], "endDateTime": product["startDate"]}
            await operations.write_new(tx, actor, RATE, rater.rate(id, rater.value, moment, str(price.get("name", ""))))
        elif charge.type == prices.RECURRING:
            months = {rate["id"]: characteristic_value(rate, "billingPeriod") for rate in mine}
            rated = {Period.parse(str(month)) for month in months.values() if month}
            if chunk is None:  # the catalog's, from the next month
                changes = await repricing.since(tx, product, price_id)
            else:
                changes = chunk.price_changes(product, price_id)
            for period in Period.span(periods | rated):
                now = repricing.charge_in(changes, period, charge)
                by = rater if now == charge else _Rater(actor, product, price, price_id, now, customer)
                await by.month(tx, period, [r for r in mine if months[r["id"]] == str(period)], start, end)


async def _drop_replaced(tx: Transaction, actor: Actor, product: Document, existing: list[Document]) -> set[Period]:
    """Delete the unbilled recurring rates of prices the product no longer has (a modify repriced it:
    its new prices are charged for those months instead); the months they were for."""
    current = {chunks.price_id(price) for price in product.get("productPrice", [])}
    months = set()
    for rate in existing:
        month = characteristic_value(rate, "billingPeriod")
        price = characteristic_value(rate, "productOfferingPrice")
        usage = characteristic_value(rate, "priceType") == "usage"  # handlers.usage.rating's, by the month's use
        if month and not usage and not rate.get("isBilled") and price not in current:
            months.add(Period.parse(str(month)))
            await operations.write_deleted(tx, actor, RATE, rate)
    return months


class _Rater:
    """The rates of one price of one product."""

    def __init__(
        self,
        actor: Actor,
        product: Document,
        price: Document,
        price_id: str,
        charge: prices.Charge,
        customer: Document | None,
    ) -> None:
        self.actor, self.product, self.price, self.price_id = actor, product, price, price_id
        self.charge, self.unit, self.customer, self.value = charge, charge.unit, customer, charge.value

    async def month(
        self, tx: Transaction, period: Period, mine: list[Document], start: dt.datetime, end: dt.datetime | None
    ) -> None:
        """Rate one month: the amount due less what is billed already sits in one unbilled rate."""
        days = active_days(period, start, end)
        due = prorate(self.value, days, self.charge.days(period.days))  # a yearly price: a twelfth a month
        billed = sum((signed(rate) for rate in mine if rate.get("isBilled")), Decimal(0))
        target = due - billed
        open_rates = [rate for rate in mine if not rate.get("isBilled")]
        for surplus in open_rates[1:]:  # never more than one, but a rate must not be counted twice
            await operations.write_deleted(tx, self.actor, RATE, surplus)
        extra: list[Document] = [
            {"name": "billingPeriod", "valueType": "string", "value": str(period)},
            {"name": "activeDays", "valueType": "integer", "value": days},
            {"name": "daysInPeriod", "valueType": "integer", "value": period.days},
        ]
        name = str(self.price.get("name", ""))
        text = f"{name}, {days} of {period.days} days of {period.label}"
        if self.charge.period == "year":
            text += f", a twelfth of {self.value} {self.unit} a year"
        elif self.charge.period == "week":
            text += f", at {self.value} {self.unit} a week"
        if billed:
            text = f"Adjustment of {text}: {due} {self.unit} due, {billed} {self.unit} billed already"
        moment = coverage(period, start, end)
        key = f"{self.product['id']}/{self.price_id}/{period}"
        if open_rates:
            old = open_rates[0]
            if target == 0:
                await operations.write_deleted(tx, self.actor, RATE, old)
                return
            # The date and href stay as first made: a bill run elsewhere never rewrites the gateway's links.
            new = {**self.rate(old["id"], target, moment, text, extra), "date": old.get("date")}
            new["href"] = old.get("href") or new["href"]
            if new != old:
                await operations.write_changed(tx, self.actor, RATE, old, new)
        elif target != 0:
            taken = {rate["id"] for rate in mine}
            id = _id(key) if not mine else next(i for i in _adjustment_ids(key) if i not in taken)
            await operations.write_new(tx, self.actor, RATE, self.rate(id, target, moment, text, extra))

    def rate(
        self, id: str, value: Decimal, moment: Document, description: str, extra: list[Document] | None = None
    ) -> Document:
        """An unbilled rate; a negative ``value`` is a credit."""
        rate_of_tax = tax_rate(self.actor.gateway)
        net = abs(value)
        levied = tax(net, rate_of_tax)
        product = self.product
        characteristic: list[Document] = [
            {"name": "priceType", "valueType": "string", "value": self.charge.type},
            {"name": "productOfferingPrice", "valueType": "string", "value": self.price_id},
        ]
        characteristic += extra or []
        first: Document = next(iter(product.get("productOrderItem", [])), {})
        order = first.get("productOrderId")
        if order:
            characteristic.append({"name": "productOrder", "valueType": "string", "value": order})
        if self.customer:
            characteristic.append({"name": "customer", "valueType": "object", "value": self.customer})
        return {
            "id": id,
            "href": self.actor.gateway.href(apis.BILL, RATE, id),
            "@type": "AppliedCustomerBillingRate",
            "name": str(self.price.get("name", "")),
            "description": description,
            "date": times.now(),
            "type": "appliedBillingCredit" if value < 0 else "appliedBillingCharge",
            "isBilled": False,
            "billingAccount": account_ref(product["billingAccount"]),
            "product": product_ref(product),
            "periodCoverage": moment,
            "taxExcludedAmount": money(net, self.unit),
            "appliedTax": [
                {"taxCategory": TAX_CATEGORY, "taxRate": float(rate_of_tax), "taxAmount": money(levied, self.unit)}
            ],
            "taxIncludedAmount": money(net + levied, self.unit),
            "characteristic": characteristic,
        }


async def customer_of(tx: Transaction, holder: Document) -> Document | None:
    """The customer party of a product: the TMF629 customer it names, when there is one."""
    party = customer_party(holder)
    if party is None:
        return None
    return customer_ref(party, await documents.get(tx, "customer", str(party["id"])))


def customer_party(holder: Document) -> Document | None:
    """The related party of a product in the role of customer, when it has one with an id."""
    party = next((p for p in holder.get("relatedParty", []) if str(p.get("role", "")).lower() == "customer"), None)
    return None if party is None or "id" not in party else party


def customer_ref(party: Document, customer: Document | None) -> Document:
    """The customer party of a rate: the stored TMF629 ``customer`` the product's party names, else that party."""
    if customer is None:
        return {k: v for k, v in party.items() if k in ("id", "href", "name", "role", "@referredType")}
    return {
        "id": customer["id"],
        "href": customer.get("href", ""),
        "name": customer.get("name", ""),
        "role": "customer",
        "@referredType": "Customer",
    }


def characteristic_value(rate: Document, name: str) -> Any:
    """The value of a rate's characteristic, None when it has none of that name."""
    return next((c.get("value") for c in rate.get("characteristic", []) if c.get("name") == name), None)


def _id(key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, key))


def _adjustment_ids(key: str) -> Iterator[str]:
    n = 1
    while True:
        yield _id(f"{key}#{n}")
        n += 1


def product_ref(product: Document) -> Document:
    """A TMF678 ProductRef to an installed product (its href when it has one: TMF637 serves it)."""
    ref: Document = {"id": product["id"], "name": product.get("name", ""), "@referredType": "Product"}
    if product.get("href"):
        ref["href"] = product["href"]
    return ref
