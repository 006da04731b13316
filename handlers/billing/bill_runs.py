"""Bill runs: the unbilled rates of a billing account gathered into one customer bill (TMF678).

A bill run for an account and a month (:func:`bill_account`) holds the account's lock, rates the month's
recurring charges of every product active in it (and the one-time charges of those installed in it,
should their order's rating still be on its way), then gathers every unbilled rate whose coverage starts
before the end of the month, earlier months' leftovers included, into one CustomerBill, with its
document (:mod:`handlers.billing.documents`), and marks each billed with a reference to it, all in one
transaction. A billed rate is never gathered again, so running the same month twice bills nothing twice:
the second run makes no bill unless something new was rated meanwhile. Bills are numbered in one gapless
sequence. The billing cycle (:func:`run_cycle`, ``tmfgate bill-run``) does this for every account rated
or named by a product, for a month that has ended, or in advance for the current or coming one
(:func:`refusal`), a chunk of accounts to a transaction (:mod:`handlers.billing.chunks`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from backends.base import DuplicateId, Owners, Transaction, where
from handlers import apis
from handlers.billing import accounts, chunks, rating
from handlers.billing import documents as bill_documents
from handlers.billing.chunks import Chunk
from handlers.billing.prices import amount
from handlers.billing.rating import Worker
from handlers.billing.rules import BILL, PAYMENT_TERMS, RATE, TAX_CATEGORY, Period, money, signed
from handlers.catalog import loading as catalogs
from tmfgate import documents, operations, times
from tmfgate.calls import Actor, Call
from tmfgate.ids import new_id
from tmfgate.security.tenancy import visible
from tmfgate.types import Document

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

log = logging.getLogger("tmfgate.billing")
SEQUENCE = "tmfgate:billing"  # the last bill number given, in the document "billNo"


async def bill_account(
    tx: Transaction, actor: Actor, account_id: str, period: Period, *, run_type: str, requester: Document | None = None
) -> list[Document]:
    """Bill one account for one month (see the module docstring and :func:`bill_accounts`); [] when
    nothing is unbilled."""
    billed = await bill_accounts(tx, actor, [account_id], period, run_type=run_type, requester=requester)
    return [bill for _, bill in billed if bill is not None]


async def bill_accounts(
    tx: Transaction,
    actor: Actor,
    ids: list[str],
    period: Period,
    *,
    run_type: str,
    requester: Document | None = None,
) -> list[tuple[str, Document | None]]:
    """Bill the accounts (ids in order) for one month in this transaction, read a chunk at a time
    (:mod:`handlers.billing.chunks`): one bill per partner owning an account's products and rates, each
    owned by that partner (tenancy: partner B never reads partner A's bill, even under the same account
    id). A partner's call bills only its own; the cycle and the back office's call bill every owner's
    apart. (account, bill) per bill made, (account, None) for an account that has nothing unbilled."""
    scoped = visible(actor, "product") if isinstance(actor, Call) else None
    # Every account locked first, in the order of their ids, as rating locks them: no two wait in a cycle.
    records = {id: await rating.lock_account(tx, {"id": id}, create=False) for id in sorted(ids)}
    chunk = await Chunk.read(tx, ids, period, scoped)
    groups: list[tuple[str, Actor, Owners]] = []
    for id in ids:
        if scoped is not None:
            groups.append((id, actor, scoped))
        for owner in chunk.owners(id) if scoped is None else ():
            groups.append((id, Worker(actor.gateway, actor.correlation_id, owner), (owner,)))  # the owner's
    for id, by, owners in groups:
        products = chunks.of(chunk.products.get(id, []), owners)
        if records[id] is None and products:  # never rated: its record made now
            records[id] = await rating.lock_account(tx, products[0]["billingAccount"], create=True)
        for product in products:
            started = Period.of(times.parse(product["startDate"]))
            await rating.rate_product(tx, by, product, periods={period}, one_time=started == period, chunk=chunk)
    await chunk.read_unbilled(tx, ids, scoped)
    made: dict[str, list[Document]] = {id: [] for id in ids}
    for id, by, owners in groups:
        record = records[id]
        rates = chunks.of(chunk.unbilled.get(id, []), owners)
        bill = None if record is None else await _bill_account(tx, by, id, period, record, rates, run_type, requester)
        made[id] += [bill] if bill is not None else []
    billed = [id for id in ids if made[id]]
    due = await accounts.owed_by(tx, billed) if billed else {}
    for id in billed:
        unit = made[id][0]["amountDue"]["unit"]
        await accounts.refresh_balance(tx, actor, id, None, unit, due=due.get(id, Decimal(0)))
    none: list[Document | None] = [None]
    return [(id, bill) for id in ids for bill in [*made[id]] or none]


async def _bill_account(
    tx: Transaction,
    actor: Actor,
    account_id: str,
    period: Period,
    record: Document,
    unbilled: list[Document],
    run_type: str,
    requester: Document | None,
) -> Document | None:
    """One bill of the account's ``unbilled`` rates (rated already) in the catalog's currency, each
    marked billed; None when there are none."""
    unit = catalogs.of(actor.gateway).currency
    rates = []
    for rate in unbilled:
        if (rate.get("taxExcludedAmount") or {}).get("unit") == unit:
            rates.append(rate)
        else:
            log.error("Rate %s is not in %s, the catalog's currency: it is left unbilled.", rate["id"], unit)
    if not rates:
        return None
    account = await accounts.find(tx, account_id)
    bill = await _bill(tx, actor, record, period, rates, unit, run_type, requester)
    _follow(bill, account, await accounts.cycle_of(tx, account), actor.gateway.settings.get(PAYMENT_TERMS))
    bill["billDocument"] = [await bill_documents.attach(tx, actor, bill, rates)]
    await operations.write_new(tx, actor, BILL, bill)
    reference = {"id": bill["id"], "href": bill["href"], "@referredType": "CustomerBill"}
    for rate in rates:
        await operations.write_changed(tx, actor, RATE, rate, {**rate, "isBilled": True, "bill": reference})
    return bill


def _follow(bill: Document, account: Document | None, cycle: Document, terms: int) -> None:
    """The bill as the TMF666 account's cycle has it: its due date, next bill date, and the account's ref."""
    if account is None:
        return
    billed = times.parse(bill["billDate"])
    due = accounts.due_days(cycle)
    bill["paymentDueDate"] = times.stamp(billed + dt.timedelta(days=terms if due is None else due))
    if "nextBillDate" in bill:
        bill["nextBillDate"] = times.stamp(times.parse(bill["nextBillDate"]) + dt.timedelta(days=accounts.shift(cycle)))
    bill["billingAccount"] = accounts.reference(account)


async def run_cycle(gateway: Gateway, period: Period, *, shift: int | None = None) -> list[tuple[str, Document | None]]:
    """Bill every account ever rated or named by a product for ``period``, a chunk of accounts to a
    transaction (:func:`bill_accounts`); (account, bill). With ``shift``, only the accounts billed that
    many days after the first (:func:`handlers.billing.accounts.shift`)."""
    actor = Worker(gateway, f"bill-run:{period}:{new_id()}")
    results: list[tuple[str, Document | None]] = []
    last = ""
    # Keyset order over both: accounts rated meanwhile are neither skipped nor repeated, and an account
    # only an imported product names (never rated yet) is billed too.
    while True:
        ids, last = await _next_due(gateway, last, shift)
        if not ids:
            return results
        async with gateway.transaction() as tx:
            results += await bill_accounts(tx, actor, ids, period, run_type="onCycle")


async def _next_due(gateway: Gateway, last: str, shift: int | None) -> tuple[list[str], str]:
    """The next account ids after ``last`` that the run bills, a chunk at most (any, or those whose cycle
    has ``shift``), and the last id looked at; no ids when none is left."""
    while True:
        # Only TMF666 accounts have a shift other than 0: the store finds them by it.
        if shift:
            ids = await accounts.with_shift(gateway.backend, shift, last, chunks.SIZE)
        else:
            ids = await _next_accounts(gateway, last)
        if not ids or shift is None:
            return ids, ids[-1] if ids else last
        async with gateway.transaction() as tx:
            cycles = [await accounts.cycle_of(tx, await accounts.find(tx, id)) for id in ids]
        due = [id for id, cycle in zip(ids, cycles, strict=True) if accounts.shift(cycle) == shift]
        if due:
            return due, ids[-1]
        last = ids[-1]


async def _next_accounts(gateway: Gateway, last: str) -> list[str]:
    """The first billing account ids after ``last``, a chunk or a few more, that were rated or that a
    product names."""
    pages = []
    for kind, path in ((rating.ACCOUNTS, "id"), ("product", "billingAccount.id")):
        found = await documents.find(gateway.backend, kind, where(path, gt=last), sort=path, limit=chunks.SIZE)
        pages.append([str(doc["id"] if kind == rating.ACCOUNTS else doc["billingAccount"]["id"]) for doc in found])
    return chunks.first_ids(pages, chunks.SIZE)


def refusal(period: Period, now: dt.datetime, *, in_advance: bool) -> str | None:
    """Why a bill run of ``period`` cannot run at ``now``, in one sentence; None when it can.

    A month is billed once it has ended; ``in_advance`` also bills the current month and the coming
    one, whose recurring charges are then billed whole (a later termination is credited back)."""
    current = Period.of(now)
    if period < current or (in_advance and period <= current.next()):
        return None
    if in_advance:
        return (
            f"{period} ({period.label}) is too far ahead: --in-advance bills the current month or the "
            f"coming one ({current.next()}), no later."
        )
    return (
        f"{period} ({period.label}) has not ended yet: bill it once it has, or give --in-advance to bill "
        "its recurring charges now."
    )


def day_refusal(day: dt.date, now: dt.datetime, *, in_advance: bool) -> tuple[str | None, Period, int]:
    """Why the bill cycle of ``day`` cannot run at ``now`` (None when it can), the month it bills (the one
    before ``day``'s), and the shift of the accounts whose bill is made that day."""
    period = Period.of(dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC) - dt.timedelta(days=1))
    shift = day.day - 1
    if in_advance:
        return "--in-advance goes with --period only: a cycle day bills a month that has ended.", period, shift
    if day > now.astimezone(dt.UTC).date():
        return f"{day} has not come yet: a bill cycle runs on its day or later.", period, shift
    return None, period, shift  # past the 28th no account's bill is made: the run finds none


def summary(period: Period, results: list[tuple[str, Document | None]], *, day: dt.date | None = None) -> str:
    """What a bill run did, for people: one line per bill, then the totals."""
    bills = [bill for _, bill in results if bill is not None]
    if day is not None and not results:
        return f"No bills on {day} for {period} ({period.label}): no billing account's bill cycle falls that day."
    if not bills:
        why = {
            0: "no product names a billing account yet",
            1: "the one billing account has no unbilled charges in it or before it",
        }.get(len(results), f"none of the {len(results)} billing accounts has unbilled charges in it or before it")
        return f"No bills for {period} ({period.label}): {why}."
    lines = [f"Bill run for {period} ({period.label}):"]
    total: dict[str, Decimal] = {}
    for bill in bills:
        due = bill["amountDue"]
        total[due["unit"]] = total.get(due["unit"], Decimal(0)) + amount(due["value"])
        lines.append(
            f"  {bill['billNo']}  billing account {bill['billingAccount']['id']}: "
            f"{amount(due['value']):.2f} {due['unit']} due by {bill['paymentDueDate'][:10]} "
            f"(customerBill {bill['id']})"
        )
    amounts = ", ".join(f"{value:.2f} {unit}" for unit, value in sorted(total.items()))
    idle = len(results) - len(bills)
    lines.append(
        f"{len(bills)} bill{'s' if len(bills) != 1 else ''}, {amounts} due in all; "
        f"{idle} billing account{' has' if idle == 1 else 's have'} nothing unbilled."
    )
    return "\n".join(lines)


async def _bill(
    tx: Transaction,
    actor: Actor,
    record: Document,
    period: Period,
    rates: list[Document],
    unit: str,
    run_type: str,
    requester: Document | None,
) -> Document:
    billed = dt.datetime.now(dt.UTC)
    due = billed + dt.timedelta(days=actor.gateway.settings.get(PAYMENT_TERMS))  # counted from the bill date
    excluded = sum((signed(rate) for rate in rates), Decimal(0))
    taxes: dict[Decimal, Decimal] = {}
    for rate, levied in _taxes(rates):
        taxes[rate] = taxes.get(rate, Decimal(0)) + levied
    included = excluded + sum(taxes.values(), Decimal(0))
    id = new_id()
    bill: Document = {
        "id": id,
        "href": actor.gateway.href(apis.BILL, BILL, id),
        "@type": "CustomerBill",
        "billNo": f"INV-{await _next_number(tx):06d}",
        "billDate": times.stamp(billed),
        "lastUpdate": times.stamp(billed),
        "category": "normal" if included >= 0 else "creditNote",
        "runType": run_type,
        "billingPeriod": {"startDateTime": times.stamp(period.start), "endDateTime": times.stamp(period.end)},
        "paymentDueDate": times.stamp(due),
        "amountDue": money(included, unit),
        "remainingAmount": money(included, unit),
        "taxExcludedAmount": money(excluded, unit),
        "taxIncludedAmount": money(included, unit),
        "taxItem": [
            {"taxCategory": TAX_CATEGORY, "taxRate": float(rate), "taxAmount": money(levied, unit)}
            for rate, levied in sorted(taxes.items())
        ],
        "appliedPayment": [],
        "billingAccount": record.get("billingAccount") or rates[0]["billingAccount"],
        "relatedParty": await _parties(tx, rates, requester),
        "state": "new",
    }
    if run_type == "onCycle":
        bill["nextBillDate"] = times.stamp(period.next().end)
    return bill


def _taxes(rates: list[Document]) -> Iterator[tuple[Decimal, Decimal]]:
    """(tax rate, signed tax amount) of every tax applied to the rates."""
    for rate in rates:
        sign = -1 if rate.get("type") == "appliedBillingCredit" else 1
        for applied in rate.get("appliedTax", []):
            yield amount(applied.get("taxRate", 0)), sign * amount((applied.get("taxAmount") or {}).get("value", 0))


async def _parties(tx: Transaction, rates: list[Document], requester: Document | None) -> list[Document]:
    """The customers of the rates, as TMF629 knows them now; then who asked for the bill."""
    parties: dict[str, Document] = {}
    for rate in rates:
        customer = rating.characteristic_value(rate, "customer")
        if isinstance(customer, dict) and customer.get("id") and customer["id"] not in parties:
            parties[str(customer["id"])] = await rating.customer_of(tx, {"relatedParty": [customer]}) or customer
    if requester and requester.get("id") not in parties:
        parties[str(requester.get("id"))] = requester
    return list(parties.values())


async def _next_number(tx: Transaction) -> int:
    """The next bill number; the sequence stays locked until the bill is committed, so it has no gaps."""
    record = await documents.locked(tx, SEQUENCE, "billNo")
    if record is None:
        try:
            await documents.create(tx, SEQUENCE, {"id": "billNo", "last": 1})
            return 1
        except DuplicateId:  # the first bill ever, made by another transaction meanwhile
            record = await documents.locked(tx, SEQUENCE, "billNo")
    record = record or {"id": "billNo", "last": 0}
    record["last"] = int(record["last"]) + 1
    await documents.replace(tx, SEQUENCE, record)
    return int(record["last"])
