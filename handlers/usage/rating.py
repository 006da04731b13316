"""Rating usage records: each record's charge, and one applied customer billing rate per product, price and month.

Records are rated in batches, in one transaction (a single POST is a batch of one). A record is rated
against the usage price of its product's offering in the catalog whose ``unitOfMeasure.units`` is the
record's unit (:mod:`handlers.usage.tariffs`). What a month costs depends on all its usage (tiers,
allowances), so a running total per product, price and month is kept, locked while it grows: a record's
charge is ``round(cost(total after)) - round(cost(total before))``, rounded half-up to the cent, so the
charges of a month's records add up exactly to the month's rate, ``round(cost(total))``. That rate is one
``appliedCustomerBillingRate`` per product, price and month, unbilled until a bill run takes it; usage
arriving after its month was billed adds an adjustment rate for the difference, on the next bill.

A record that cannot be charged (unknown or ended product, no usage price for its unit, no billing
account) is parked: stored with ``status: rejected`` and the reason in ``rejectionReason``, unrated.
Rating holds the billing account's lock (:func:`handlers.billing.rating.lock_account`), as bill runs do.
A record of a product belongs to the product's owner, as its charge does, whoever sent it (the back
office's mediation): the partner reads its own usage; one of no known product stays the sender's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from backends.base import Transaction
from handlers import apis
from handlers.billing import rating as billing
from handlers.billing.prices import LIMIT, USAGE
from handlers.billing.rules import CENT, RATE, TAX_CATEGORY, Period, money, signed, tax, tax_rate
from handlers.catalog import loading as catalogs
from handlers.fulfilment.products import STARTED
from handlers.usage import records, tariffs
from handlers.usage.records import Reading
from handlers.usage.tariffs import UsagePrice
from tmfgate import codec, documents, operations, times
from tmfgate.calls import Actor, Call
from tmfgate.security import idempotency
from tmfgate.security.tenancy import visible
from tmfgate.types import Document

TOTALS = "tmfgate:usageTotal"  # the quantity used so far, per product, price and month
_NAMESPACE = uuid.UUID("1b6f7c52-3f43-4a55-9a0b-2f4f8a7c6d10")


@dataclass
class Outcome:
    """What a batch did: records stored (rated or parked), and ids already stored (not stored again)."""

    rated: list[Document] = field(default_factory=list)
    parked: list[Document] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


@dataclass
class _Group:
    """The records of one product, price and month."""

    account: Document
    product: Document
    price: UsagePrice
    period: Period
    items: list[tuple[Document, Reading]] = field(default_factory=list)


async def rate(tx: Transaction, actor: Actor, docs: list[Document]) -> Outcome:
    """Store and rate checked records (:func:`handlers.usage.records.received`); see the module docstring."""
    outcome = Outcome()
    if not docs:
        return outcome
    # Looked up by key, all at once: a query on ids would read the JSON of the records.
    stored = await tx.get_many(records.KIND, sorted({str(doc["id"]) for doc in docs}))
    fresh: dict[str, Document] = {}
    for doc in docs:
        if doc["id"] in fresh or doc["id"] in stored:
            outcome.duplicates.append(doc["id"])
        else:
            fresh[doc["id"]] = doc
    readings = {id: records.reading(doc) for id, doc in fresh.items()}
    wanted = sorted({r.product_id for r in readings.values()})
    # A partner charges usage to its own products only (tenancy): another's is as unknown as none.
    owners = visible(actor, "product") if isinstance(actor, Call) else None
    products = {}
    for id in wanted:
        product = await documents.get(tx, "product", id, owners=owners)
        if product is not None:
            products[id] = product
    groups: dict[tuple[str, str, str, Period], _Group] = {}
    for id, doc in fresh.items():
        reading = readings[id]
        product = products.get(reading.product_id)
        try:
            price = _price(actor, product, reading)
        except _Parked as why:
            doc.update(status="rejected", rejectionReason=str(why))
            outcome.parked.append(doc)
            continue
        assert product is not None
        account = product["billingAccount"]
        period = Period.of(reading.date)
        key = (str(account["id"]), str(product["id"]), price.id, period)
        group = groups.get(key) or groups.setdefault(key, _Group(account, product, price, period))
        group.items.append((doc, reading))
    locked: set[str] = set()  # accounts whose lock this transaction holds: taken once, kept until it ends
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2], str(k[3]))):  # one lock order: no deadlock
        if key[0] not in locked:
            await billing.lock_account(tx, groups[key].account, create=True)
            locked.add(key[0])
        rated, parked = await _rate_group(tx, actor, groups[key])
        outcome.rated += rated
        outcome.parked += parked
    await _store(tx, actor, outcome.rated + outcome.parked, readings, products)
    return outcome


async def _store(
    tx: Transaction, actor: Actor, docs: list[Document], readings: dict[str, Reading], products: dict[str, Document]
) -> None:
    """Store the records, each its product's owner's, as its charge is (the back office's mediation
    sends usage of every partner's products, and each partner reads its own); a record of no product
    the sender may see stays the sender's."""
    by_product: dict[str, Actor] = {}
    writers: dict[str | None, tuple[Actor, list[Document]]] = {actor.owner: (actor, [])}
    for doc in docs:
        product = products.get(readings[doc["id"]].product_id)
        writer = actor
        if product is not None:
            key = str(product["id"])
            if key not in by_product:
                by_product[key] = await billing.for_product(tx, actor, product)
            writer = by_product[key]
        writers.setdefault(writer.owner, (writer, []))[1].append(doc)
    for writer, mine in writers.values():
        if not mine:
            continue
        if writer is not actor and isinstance(actor, Call) and actor.idempotency is not None:
            # The sender's key answers its retry, whoever owns the record.
            for doc in mine:
                await idempotency.record(tx, actor, codec.dumps(doc), doc["href"])
        await operations.write_new_many(tx, writer, records.KIND, mine)


class _Parked(Exception):
    """Why a record is parked, as a whole sentence."""


def _price(actor: Actor, product: Document | None, reading: Reading) -> UsagePrice:
    if product is None:
        raise _Parked(f"No product {reading.product_id} exists in the product inventory.")
    if product.get("status") not in STARTED:
        raise _Parked(f"Product {product['id']} is {product.get('status')}: it takes no usage.")
    start = times.parse(product["startDate"])
    end = times.parse(product["terminationDate"]) if product.get("terminationDate") else None
    if reading.date < start or (end is not None and reading.date >= end):
        raise _Parked(f"Product {product['id']} was not active at the usageDate {times.stamp(reading.date)}.")
    if not (product.get("billingAccount") or {}).get("id"):
        raise _Parked(f"Product {product['id']} has no billing account to charge the usage to.")
    found = usage_prices(actor, product)
    matching = [p for p in found if reading.unit in (None, p.units)]
    if reading.unit is None and len(found) > 1:
        units = ", ".join(sorted(p.units for p in found))
        raise _Parked(f"The record gives no unit, and product {product['id']} has usage prices in {units}.")
    if not matching:
        unit = f" in {reading.unit}" if reading.unit else ""
        raise _Parked(f"Product {product['id']}'s offering has no usage price{unit}.")
    return matching[0]


def usage_prices(actor: Actor, product: Document) -> list[UsagePrice]:
    """The usage prices of the product's offering in the catalog (checked at start-up)."""
    catalog = catalogs.of(actor.gateway)
    offering = catalog.offering(str((product.get("productOffering") or {}).get("id"))) or {}
    found = []
    for ref in offering.get("productOfferingPrice") or []:
        price = catalog.get("productOfferingPrice", str(ref.get("id")))
        if price is not None and tariffs.is_usage(price):
            found.append(tariffs.usage_price(price, catalog.currency))
    return found


async def _rate_group(tx: Transaction, actor: Actor, group: _Group) -> tuple[list[Document], list[Document]]:
    """Rate a group's records in usage order, grow the month's total, and make the month's rate what it costs
    (the account's lock held)."""
    key = f"{group.product['id']}/{group.price.id}/{group.period}"
    total = await documents.locked(tx, TOTALS, key)
    if total is None:
        total = {"id": key, "quantity": "0"}
        await documents.create(tx, TOTALS, total)
    used = Decimal(total["quantity"])
    levy = tax_rate(actor.gateway)
    now = times.now()
    ref = billing.product_ref(group.product)
    price = group.price
    rated, parked = [], []
    for doc, reading in sorted(group.items, key=lambda item: (item[1].date, item[0]["id"])):
        if price.cost(used + reading.quantity) >= LIMIT:  # more than an amount keeps exactly (prices.LIMIT)
            doc.update(status="rejected", rejectionReason=f"The month's usage would cost {LIMIT:,} or more.")
            parked.append(doc)
            continue
        before, after = _cents(price.cost(used)), _cents(price.cost(used + reading.quantity))
        charge = after - before
        doc["status"] = "rated"
        doc["ratedProductUsage"] = [
            {
                **doc["ratedProductUsage"][0],
                "productRef": ref,
                "ratingDate": now,
                "ratingAmountType": "total",
                "usageRatingTag": price.tag(used, used + reading.quantity),
                "offerTariffType": price.name,
                "isTaxExempt": levy == 0,
                "taxRate": float(levy),
                "taxExcludedRatingAmount": money(charge, price.currency),
                "taxIncludedRatingAmount": money(after + tax(after, levy) - before - tax(before, levy), price.currency),
                "@type": "RatedProductUsage",
            }
        ]
        used += reading.quantity
        rated.append(doc)
    if rated:
        await documents.replace(tx, TOTALS, {**total, "quantity": str(used)})
        # The charge is the product owner's, whoever sent the usage: it goes on that owner's bill.
        await _charge_month(tx, await billing.for_product(tx, actor, group.product), group, used)
    return rated, parked


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


async def _charge_month(tx: Transaction, actor: Actor, group: _Group, used: Decimal) -> None:
    """The month's usage rate: its cost less what was billed already, in the one unbilled rate of it."""
    key = f"{group.product['id']}/{group.price.id}/{group.period}/usage"
    mine, n = [], 0
    while (found := await documents.get(tx, RATE, _id(key, n))) is not None:
        mine.append(found)
        n += 1
    billed = sum((signed(rate) for rate in mine if rate.get("isBilled")), Decimal(0))
    target = _cents(group.price.cost(used)) - billed
    open_rate = next((rate for rate in mine if not rate.get("isBilled")), None)
    if open_rate is not None:
        new = {**await _rate(tx, actor, group, open_rate["id"], target, used, billed), "date": open_rate.get("date")}
        new["href"] = open_rate.get("href") or new["href"]
        await operations.write_changed(tx, actor, RATE, open_rate, new)
    elif target != 0:
        await operations.write_new(tx, actor, RATE, await _rate(tx, actor, group, _id(key, n), target, used, billed))


def _id(key: str, n: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, key if n == 0 else f"{key}#{n}"))


async def _rate(
    tx: Transaction, actor: Actor, group: _Group, id: str, value: Decimal, used: Decimal, billed: Decimal
) -> Document:
    """An unbilled usage rate of ``value`` (negative: a credit) for the group's month."""
    price, period, product = group.price, group.period, group.product
    levy = tax_rate(actor.gateway)
    net = abs(value)
    levied = tax(net, levy)
    text = f"{price.name or price.id}: {used.normalize():f} {price.units} in {period.label}"
    if billed:
        text = f"Adjustment of {text}: {billed} {price.currency} billed already"
    characteristic: list[Document] = [
        {"name": "priceType", "valueType": "string", "value": USAGE},
        {"name": "productOfferingPrice", "valueType": "string", "value": price.id},
        {"name": "billingPeriod", "valueType": "string", "value": str(period)},
        {"name": "usageQuantity", "valueType": "string", "value": f"{used.normalize():f}"},
        {"name": "unitOfMeasure", "valueType": "string", "value": price.units},
    ]
    customer = await billing.customer_of(tx, product)
    if customer:
        characteristic.append({"name": "customer", "valueType": "object", "value": customer})
    return {
        "id": id,
        "href": actor.gateway.href(apis.BILL, RATE, id),
        "@type": "AppliedCustomerBillingRate",
        "name": price.name,
        "description": text,
        "date": times.now(),
        "type": "appliedBillingCredit" if value < 0 else "appliedBillingCharge",
        "isBilled": False,
        "billingAccount": billing.account_ref(group.account),
        "product": billing.product_ref(product),
        "periodCoverage": {"startDateTime": times.stamp(period.start), "endDateTime": times.stamp(period.end)},
        "taxExcludedAmount": money(net, price.currency),
        "appliedTax": [
            {"taxCategory": TAX_CATEGORY, "taxRate": float(levy), "taxAmount": money(levied, price.currency)}
        ],
        "taxIncludedAmount": money(net + levied, price.currency),
        "characteristic": characteristic,
    }
