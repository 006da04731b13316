"""The five revenue assurance rules, each a query over the store for one month that yields findings.

- ``inactive-usage``: usage dated in the month on a product terminated before it (rating parks it) or
  suspended before it (rating still charges it: billing goes on while suspended);
- ``usage-spike``: a customer whose usage of one unit in the month is more than ``assure_spike_factor``
  times its monthly average over the ``assure_spike_window`` months before;
- ``duplicate-usage``: usage records with other ids but the same product, ``usageDate`` and
  characteristics (a mediation system sending one event twice);
- ``unbilled-product``: a product active since before the month that no bill has ever charged;
- ``bill-mismatch``: a bill of the month whose totals differ from the sum of the rates it billed.

Every query filters in the store; the usage of a month is read in pages (sorted by date only where a
rule needs it), so memory grows with the customers and products seen, not with the records.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from backends.base import Condition, Page, Query, SortKey, where
from handlers.billing.prices import amount
from handlers.billing.rules import BILL, RATE, Period, signed
from handlers.usage import records
from handlers.usage.records import RecordError
from tmfgate import codec, documents, times
from tmfgate.types import Document

# Documents per query while paging through a month. The month's records are found through the usageDate
# index (revision 0005); before it every page scanned the whole kind (20,000 records on SQLite took 119 s
# a rule in pages of 500, 8 s in pages of 5,000, each a few MB). Pages still go by offset.
PAGE = 5000
PRODUCT = "product"


class Source(Protocol):
    """The store outside a transaction, or a transaction: what the rules read."""

    async def query(self, kind: str, query: Query) -> Page: ...

    async def get(self, kind: str, id: str) -> bytes | None: ...


@dataclass(frozen=True)
class Finding:
    """One thing a rule found: its subject, the evidence as text, and the products it names."""

    rule: str
    key: str  # what makes it the same finding when the rule runs again (deduplication)
    subject: Document  # a reference: the product, customer or bill the alarm is raised on
    summary: str
    evidence: str
    products: tuple[str, ...] = ()
    customer: Document | None = None


async def pages(source: Source, kind: str, *conditions: Condition, sort: tuple[str, ...]) -> AsyncIterator[Document]:
    """Every document meeting the conditions, read from the store a page at a time."""
    keys = _sort(*sort)
    offset = 0
    while True:
        page = await source.query(kind, Query(conditions=conditions, sort=keys, offset=offset, limit=PAGE))
        for raw in page.items:
            yield codec.loads(raw)
        if len(page.items) < PAGE:
            return
        offset += PAGE


def _sort(*keys: str) -> tuple[SortKey, ...]:
    return tuple(SortKey(tuple(key.split(".")), False) for key in keys)


def _ref(doc: Document, referred: str) -> Document:
    ref = {"id": str(doc["id"]), "@referredType": referred}
    if doc.get("href"):
        ref["href"] = doc["href"]
    if doc.get("name"):
        ref["name"] = doc["name"]
    return ref


def customer_of(product: Document) -> Document | None:
    """The product's customer (its related party of role customer, else its first)."""
    parties = [p for p in product.get("relatedParty") or [] if isinstance(p, dict) and p.get("id")]
    chosen = next((p for p in parties if str(p.get("role", "")).lower() == "customer"), parties[0] if parties else None)
    return None if chosen is None else {**chosen, "role": "customer"}


def _in(period: Period) -> tuple[Condition, Condition]:
    return where("usageDate", gte=period.start), where("usageDate", lt=period.end)


@dataclass
class _Stopped:
    product: Document
    since: dt.datetime | None  # None: not known, the whole month counts
    ids: list[str] = field(default_factory=list)  # the first records found
    count: int = 0


async def inactive_usage(source: Source, period: Period) -> AsyncIterator[Finding]:
    """Usage dated in the month after its product was terminated or suspended: one pass over the month's
    usage (a query per terminated product would scan the usage once each), a look-up per product seen."""
    seen: dict[str, _Stopped | None] = {}
    async for record in pages(source, records.KIND, *_in(period), sort=()):
        product_id = _product_id(record)
        if product_id not in seen:
            seen[product_id] = await _stopped(source, product_id)
        stopped = seen[product_id]
        if stopped is None or (stopped.since is not None and times.parse(record["usageDate"]) < stopped.since):
            continue
        stopped.count += 1
        if len(stopped.ids) < 5:
            stopped.ids.append(str(record["id"]))
    for product_id in sorted(id for id, stopped in seen.items() if stopped is not None and stopped.count):
        stopped = seen[product_id]
        assert stopped is not None
        product, status = stopped.product, stopped.product["status"]
        when = f" since {times.stamp(stopped.since)}" if stopped.since is not None else ""
        yield Finding(
            "inactive-usage",
            f"{product_id}/{period}",
            _ref(product, "Product"),
            f"{stopped.count} usage records in {period} on product {product_id}, {status}{when}",
            f"Product {product_id} is {status}{when}, yet {stopped.count} usage records dated in {period} name it "
            f"(among them {', '.join(sorted(stopped.ids))}).",
            customer=customer_of(product),
        )


def _product_id(record: Document) -> str:
    rated = record.get("ratedProductUsage") or [{}]
    ref = rated[0].get("productRef") if isinstance(rated[0], dict) else None
    return str(ref.get("id") or "") if isinstance(ref, dict) else ""


async def _stopped(source: Source, product_id: str) -> _Stopped | None:
    """The product, if it is suspended or terminated, and since when; None otherwise."""
    raw = await source.get(PRODUCT, product_id) if product_id else None
    product = None if raw is None else codec.loads(raw)
    if product is None or product.get("status") not in ("suspended", "terminated"):
        return None
    return _Stopped(product, await _inactive_since(source, product))


async def _inactive_since(source: Source, product: Document) -> dt.datetime | None:
    """When the product stopped: its termination date, or the completion of the order that suspended it
    (None when unknown: a product imported or changed as suspended counts from the month's start)."""
    if product["status"] == "terminated":
        return times.parse(product["terminationDate"]) if product.get("terminationDate") else None
    found = await documents.find(
        source,
        "productOrder",
        where("productOrderItem.product.id", eq=str(product["id"])),
        where("productOrderItem.product.status", eq="suspended"),
        where("state", eq="completed"),
        sort="-completionDate",
        limit=1,
    )
    done = found[0].get("completionDate") if found else None
    return times.parse(done) if isinstance(done, str) else None


@dataclass
class _Customer:
    ref: Document
    used: dict[tuple[str, Period], Decimal] = field(default_factory=dict)  # by unit and month
    products: set[str] = field(default_factory=set)  # those with usage in the checked month


async def usage_spikes(source: Source, period: Period, factor: Decimal, window: int) -> AsyncIterator[Finding]:
    """Customers whose usage of a unit in the month is above ``factor`` times their trailing monthly average."""
    first = period
    for _ in range(window):
        first = Period.of(first.start - dt.timedelta(days=1))
    products: dict[str, Document | None] = {}
    customers: dict[str, _Customer] = {}
    span = (where("usageDate", gte=first.start), where("usageDate", lt=period.end))
    async for record in pages(source, records.KIND, *span, sort=()):  # in the order stored: no sort to pay for
        try:
            reading = records.reading(record)
        except RecordError:
            continue  # a record rating could not read was refused, never stored; nothing to add up
        if reading.product_id not in products:
            raw = await source.get(PRODUCT, reading.product_id)
            products[reading.product_id] = None if raw is None else codec.loads(raw)
        product = products[reading.product_id]
        ref = customer_of(product) if product is not None else None
        if ref is None:
            continue
        customer = customers.setdefault(str(ref["id"]), _Customer(ref))
        month = Period.of(reading.date)
        key = (reading.unit or "", month)
        customer.used[key] = customer.used.get(key, Decimal(0)) + reading.quantity
        if month == period:
            customer.products.add(reading.product_id)
    for id in sorted(customers):
        found = _spike(customers[id], period, factor, window)
        if found is not None:
            yield found


def _spike(customer: _Customer, period: Period, factor: Decimal, window: int) -> Finding | None:
    for unit in sorted({unit for unit, _ in customer.used}):
        now = customer.used.get((unit, period), Decimal(0))
        before = [used for (u, month), used in customer.used.items() if u == unit and month != period]
        if not before:
            continue  # no usage in the window: no average to compare with
        average = sum(before, Decimal(0)) / window
        if average > 0 and now > factor * average:
            id = customer.ref["id"]
            shown = f"{unit} " if unit else ""
            return Finding(
                "usage-spike",
                f"{id}/{unit}/{period}",
                {"id": str(id), "@referredType": str(customer.ref.get("@referredType") or "Customer")},
                f"customer {id} used {now.normalize():f} {shown}in {period}, over {factor}x its average",
                f"Customer {id} used {now.normalize():f} {shown}in {period}; its monthly average over the {window} "
                f"months before is {average.quantize(Decimal('0.001')).normalize():f} {shown}and the rule allows "
                f"{factor} times that. Products used: {', '.join(sorted(customer.products))}.",
                tuple(sorted(customer.products)),
                customer.ref,
            )
    return None


async def duplicate_usage(source: Source, period: Period) -> AsyncIterator[Finding]:
    """Records of the month with other ids but the same product, ``usageDate`` and characteristics."""
    moment: str | None = None
    seen: dict[bytes, list[Document]] = {}
    async for record in pages(source, records.KIND, *_in(period), sort=("usageDate", "id")):
        if record.get("usageDate") != moment:  # only records of the same instant can be duplicates
            for found in _duplicates(seen):
                yield await _with_customer(source, found)
            moment, seen = record.get("usageDate"), {}
        seen.setdefault(_identity(record), []).append(record)
    for found in _duplicates(seen):
        yield await _with_customer(source, found)


async def _with_customer(source: Source, found: Finding) -> Finding:
    raw = await source.get(PRODUCT, found.products[0])
    return found if raw is None else dataclasses.replace(found, customer=customer_of(codec.loads(raw)))


def _identity(record: Document) -> bytes:
    product = _product_id(record)
    characteristics = sorted(
        (str(c.get("name")), codec.dumps(c.get("value")).decode())
        for c in record.get("usageCharacteristic") or []
        if isinstance(c, dict)
    )
    return codec.dumps([product, record.get("usageDate"), characteristics])


def _duplicates(seen: dict[bytes, list[Document]]) -> list[Finding]:
    found = []
    for same in seen.values():
        if len(same) < 2:
            continue
        ids = sorted(str(record["id"]) for record in same)
        product = _product_id(same[0])
        found.append(
            Finding(
                "duplicate-usage",
                "/".join(ids),
                {"id": product, "@referredType": "Product"},
                f"{len(ids)} usage records of product {product} at {same[0]['usageDate']} are alike",
                f"Usage records {', '.join(ids)} name product {product}, the usageDate {same[0]['usageDate']} and the "
                "same characteristics: one event charged more than once.",
                (product,),
            )
        )
    return found


async def unbilled_products(source: Source, period: Period) -> AsyncIterator[Finding]:
    """Products active since before the month that no bill has ever charged."""
    active = (where("status", eq="active"), where("startDate", lt=period.start))
    async for product in pages(source, PRODUCT, *active, sort=("startDate", "id")):
        billed = await source.query(
            RATE, Query(conditions=(where("product.id", eq=str(product["id"])), where("isBilled", eq=True)), limit=1)
        )
        if billed.total:
            continue
        account = (product.get("billingAccount") or {}).get("id")
        yield Finding(
            "unbilled-product",
            str(product["id"]),
            _ref(product, "Product"),
            f"product {product['id']} active since {product['startDate'][:10]} was never billed",
            f"Product {product['id']} ({product.get('name') or 'no name'}) is active since {product['startDate']}, "
            f"billing account {account or 'none'}, and no bill has charged it up to {period}.",
            (str(product["id"]),),
            customer_of(product),
        )


async def bill_mismatches(source: Source, period: Period) -> AsyncIterator[Finding]:
    """Bills of the month whose totals differ from the sum of the rates they billed."""
    of_month = where("billingPeriod.startDateTime", eq=period.start)
    async for bill in pages(source, BILL, of_month, sort=("billNo", "id")):
        excluded, included, count = Decimal(0), Decimal(0), 0
        async for rate in pages(source, RATE, where("bill.id", eq=str(bill["id"])), sort=("id",)):
            excluded += signed(rate)
            included += signed(rate, "taxIncludedAmount")
            count += 1
        stated = amount((bill.get("taxExcludedAmount") or {}).get("value", 0))
        stated_in = amount((bill.get("taxIncludedAmount") or {}).get("value", 0))
        if (stated, stated_in) == (excluded, included):
            continue
        unit = (bill.get("amountDue") or {}).get("unit", "")
        yield Finding(
            "bill-mismatch",
            str(bill["id"]),
            _ref({**bill, "name": bill.get("billNo")}, "CustomerBill"),
            f"bill {bill.get('billNo', bill['id'])} states {stated} {unit}, its rates add up to {excluded} {unit}",
            f"Customer bill {bill.get('billNo')} ({bill['id']}) states {stated} {unit} excluding tax and {stated_in} "
            f"{unit} including tax; its {count} rates add up to {excluded} and {included} {unit}.",
        )
