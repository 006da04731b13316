"""Rating usage records: each record's charge, and one applied customer billing rate per product, price and month.

Records are rated in batches, in one transaction (a single POST is a batch of one). A record is rated
against the usage price of its product's offering in the catalog whose ``unitOfMeasure.units`` is the
record's unit (:mod:`handlers.usage.tariffs`). What a month costs depends on all its usage (tiers,
allowances), so a running total per product, price and month is kept, grown under the account's lock: a record's
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
from tmfgate import codec, operations, times
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

    @property
    def key(self) -> str:
        return f"{self.product['id']}/{self.price.id}/{self.period}"


async def rate(tx: Transaction, actor: Actor, docs: list[tuple[Document, Reading]]) -> Outcome:
    """Store and rate checked records (:func:`handlers.usage.records.received`) with their readings; see
    the module docstring.

    A batch costs a few statements whatever its size: each lookup reads all the batch needs at once
    (records, products and owners, running totals, month rates, customers) and each write is one
    statement per kind."""
    outcome = Outcome()
    if not docs:
        return outcome
    # Looked up by key, all at once: a query on ids would read the JSON of the records.
    stored = await tx.get_many(records.KIND, sorted({str(doc["id"]) for doc, _ in docs}))
    fresh: dict[str, Document] = {}
    readings: dict[str, Reading] = {}
    for doc, reading in docs:
        if doc["id"] in fresh or doc["id"] in stored:
            outcome.duplicates.append(doc["id"])
        else:
            fresh[doc["id"]], readings[doc["id"]] = doc, reading
    products, owners = await _products(tx, actor, sorted({r.product_id for r in readings.values()}))
    groups = _grouped(actor, fresh, readings, products, outcome)
    await _lock_accounts(tx, {str(group.account["id"]): group.account for group in groups})
    await _rate_groups(tx, actor, groups, owners, outcome)
    await _store(tx, actor, outcome.rated + outcome.parked, readings, owners)
    return outcome


async def _lock_accounts(tx: Transaction, accounts: dict[str, Document]) -> None:
    """Lock the billing accounts (:func:`handlers.billing.rating.lock_account`) until the transaction ends.

    All in one read when all have their record; else one by one, making the missing: a batch read would
    hold the others' locks while waiting on a record another transaction is making, out of order. Both
    ways take them in id order, as every locker of several accounts does: no deadlock."""
    ids = sorted(accounts)
    every = len(await tx.get_many(billing.ACCOUNTS, ids)) == len(ids)
    if every and len(await tx.get_many(billing.ACCOUNTS, ids, for_update=True)) == len(ids):
        return
    for id in ids:
        await billing.lock_account(tx, accounts[id], create=True)


async def _products(tx: Transaction, actor: Actor, ids: list[str]) -> tuple[dict[str, Document], dict[str, str | None]]:
    """The stored products of ``ids`` the actor may charge, and their owners, by id."""
    owners = await tx.owner_many("product", ids)
    # A partner charges usage to its own products only (tenancy): another's is as unknown as none.
    seen = visible(actor, "product") if isinstance(actor, Call) else None
    if seen is not None:
        owners = {id: owner for id, owner in owners.items() if owner in seen}
    found = await tx.get_many("product", sorted(owners))
    return {id: codec.loads(raw) for id, raw in found.items()}, owners


def _grouped(
    actor: Actor,
    fresh: dict[str, Document],
    readings: dict[str, Reading],
    products: dict[str, Document],
    outcome: Outcome,
) -> list[_Group]:
    """The records by account, product, price and month, in that order; those that cannot be charged parked."""
    prices = {id: usage_prices(actor, product) for id, product in products.items()}
    groups: dict[tuple[str, str, str, str], _Group] = {}
    for id, doc in fresh.items():
        reading = readings[id]
        product = products.get(reading.product_id)
        try:
            price = _price(product, reading, prices.get(reading.product_id, []))
        except _Parked as why:
            doc.update(status="rejected", rejectionReason=str(why))
            outcome.parked.append(doc)
            continue
        assert product is not None
        account = product["billingAccount"]
        period = Period.of(reading.date)
        key = (str(account["id"]), str(product["id"]), price.id, str(period))
        group = groups.get(key) or groups.setdefault(key, _Group(account, product, price, period))
        group.items.append((doc, reading))
    return [groups[key] for key in sorted(groups)]


async def _store(
    tx: Transaction, actor: Actor, docs: list[Document], readings: dict[str, Reading], owners: dict[str, str | None]
) -> None:
    """Store the records, each its product's owner's, as its charge is (the back office's mediation
    sends usage of every partner's products, and each partner reads its own); a record of no product
    the sender may see stays the sender's."""
    writers: dict[str | None, tuple[Actor, list[Document]]] = {}
    for doc in docs:
        product_id = readings[doc["id"]].product_id
        writer = billing.acting_for(actor, owners[product_id]) if product_id in owners else actor
        writers.setdefault(writer.owner, (writer, []))[1].append(doc)
    for writer, mine in writers.values():
        if writer is not actor and isinstance(actor, Call) and actor.idempotency is not None:
            for doc in mine:  # the sender's key answers its retry, whoever owns the record
                await idempotency.record(tx, actor, codec.dumps(doc), doc["href"])
        await operations.write_new_many(tx, writer, records.KIND, mine)


class _Parked(Exception):
    """Why a record is parked, as a whole sentence."""


def _price(product: Document | None, reading: Reading, found: list[UsagePrice]) -> UsagePrice:
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


async def _rate_groups(
    tx: Transaction, actor: Actor, groups: list[_Group], owners: dict[str, str | None], outcome: Outcome
) -> None:
    """Rate each group's records on its month's running total, grow the totals, and make each month's
    rate what it costs (the accounts' locks held)."""
    stored = await tx.get_many(TOTALS, sorted(group.key for group in groups))
    levy, now = tax_rate(actor.gateway), times.now()
    fresh: list[tuple[str, bytes]] = []
    grown: list[tuple[str, bytes]] = []
    charged: list[tuple[_Group, Decimal]] = []
    for group in groups:
        raw = stored.get(group.key)
        total = codec.loads(raw) if raw is not None else {"id": group.key, "quantity": "0"}
        used, rated, parked = _charge(group, Decimal(total["quantity"]), levy, now)
        outcome.rated += rated
        outcome.parked += parked
        if rated:
            (grown if raw is not None else fresh).append((group.key, codec.dumps({**total, "quantity": str(used)})))
            charged.append((group, used))
    await tx.create_many(TOTALS, fresh)
    await tx.replace_many(TOTALS, grown)
    await _charge_months(tx, actor, charged, owners)


def _charge(group: _Group, used: Decimal, levy: Decimal, now: str) -> tuple[Decimal, list[Document], list[Document]]:
    """Rate a group's records in usage order from ``used`` so far: the total after, the records rated and parked."""
    ref = billing.product_ref(group.product)
    price = group.price
    rated, parked = [], []
    before = _cents(price.cost(used))  # what the month cost so far: each record's "after" is the next one's
    before_taxed = before + tax(before, levy)
    for doc, reading in sorted(group.items, key=lambda item: (item[1].date, item[0]["id"])):
        cost = price.cost(used + reading.quantity)
        if cost >= LIMIT:  # more than an amount keeps exactly (prices.LIMIT)
            doc.update(status="rejected", rejectionReason=f"The month's usage would cost {LIMIT:,} or more.")
            parked.append(doc)
            continue
        after = _cents(cost)
        after_taxed = after + tax(after, levy)
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
                "taxExcludedRatingAmount": money(after - before, price.currency),
                "taxIncludedRatingAmount": money(after_taxed - before_taxed, price.currency),
                "@type": "RatedProductUsage",
            }
        ]
        used += reading.quantity
        before, before_taxed = after, after_taxed
        rated.append(doc)
    return used, rated, parked


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


async def _charge_months(
    tx: Transaction, actor: Actor, charged: list[tuple[_Group, Decimal]], owners: dict[str, str | None]
) -> None:
    """Each month's usage rate: its cost less what was billed already, in the one unbilled rate of it.
    The charge is the product owner's, whoever sent the usage: it goes on that owner's bill."""
    mine = await _month_rates(tx, [f"{group.key}/usage" for group, _ in charged])
    customers = await _customers(tx, [group.product for group, _ in charged])
    made: dict[str | None, list[Document]] = {}
    changed: dict[str | None, list[tuple[Document, Document]]] = {}
    for group, used in charged:
        key, owner = f"{group.key}/usage", owners.get(str(group.product["id"]))
        rates = mine[key]
        billed = sum((signed(rate) for rate in rates if rate.get("isBilled")), Decimal(0))
        target = _cents(group.price.cost(used)) - billed
        open_rate = next((rate for rate in rates if not rate.get("isBilled")), None)
        customer = customers.get(str(group.product["id"]))
        if open_rate is not None:
            new = {
                **_rate(actor, group, open_rate["id"], target, used, billed, customer),
                "date": open_rate.get("date"),
            }
            new["href"] = open_rate.get("href") or new["href"]
            changed.setdefault(owner, []).append((open_rate, new))
        elif target != 0:
            made.setdefault(owner, []).append(_rate(actor, group, _id(key, len(rates)), target, used, billed, customer))
    for owner in sorted(made.keys() | changed.keys(), key=str):
        by = billing.acting_for(actor, owner)
        await operations.write_new_many(tx, by, RATE, made.get(owner, []))
        await operations.write_changed_many(tx, by, RATE, changed.get(owner, []))


async def _month_rates(tx: Transaction, keys: list[str]) -> dict[str, list[Document]]:
    """The usage rates of each month key, first to last: the n-th of every key read together, while any has one."""
    mine: dict[str, list[Document]] = {key: [] for key in keys}
    pending, n = keys, 0
    while pending:
        ids = {_id(key, n): key for key in pending}
        found = await tx.get_many(RATE, sorted(ids))
        for id in sorted(found):
            mine[ids[id]].append(codec.loads(found[id]))
        pending, n = [ids[id] for id in sorted(found)], n + 1
    return mine


async def _customers(tx: Transaction, products: list[Document]) -> dict[str, Document]:
    """The customer of each product that names one (:func:`handlers.billing.rating.customer_of`), by product id."""
    parties = {str(p["id"]): party for p in products if (party := billing.customer_party(p)) is not None}
    stored = await tx.get_many("customer", sorted({str(party["id"]) for party in parties.values()}))
    return {
        id: billing.customer_ref(party, codec.loads(raw) if (raw := stored.get(str(party["id"]))) else None)
        for id, party in parties.items()
    }


def _id(key: str, n: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, key if n == 0 else f"{key}#{n}"))


def _rate(
    actor: Actor, group: _Group, id: str, value: Decimal, used: Decimal, billed: Decimal, customer: Document | None
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
