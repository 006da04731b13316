"""TMF666 billing accounts as billing reads them: bill cycle day, payment terms, credit limit, balance.

An order names its billing account by id. When TMF666 keeps an account of that id, billing follows it:
the account is billed on the day of the month its ``billStructure.cycleSpecification`` names
(``billingDateShift`` days after the first; the cycle is given by value, or by reference to a
BillingCycleSpecification read when billing), its bills fall due ``paymentDueDateOffset`` days after
their date, new orders are refused while what its bills still owe, less the credit payments left it,
is more than its ``creditLimit``, and its
``accountBalance`` follows its bills and payments. An id TMF666 does not keep is billed as before: on
the first of the month, with the gateway's payment terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from backends.base import Transaction, where
from handlers.billing import chunks
from handlers.billing.prices import amount
from handlers.billing.rules import BILL, money
from tmfgate import documents, operations, times
from tmfgate.calls import Actor
from tmfgate.documents import Queryable
from tmfgate.errors import Conflict
from tmfgate.types import Document

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

KIND = "billingAccount"  # TMF666's billing accounts, as stored
UNPAID = ("new", "onHold", "validated", "sent", "partiallyPaid")  # the bill states that may still owe
LAST_SHIFT = 27  # the latest bill day is the 28th: every month has one
CYCLES = "billingCycleSpecification"  # TMF666's, which an account's cycle may refer to
CYCLE = "billStructure.cycleSpecification"


@dataclass(frozen=True)
class _Bookkeeper:
    """The gateway keeping an account's balance: the account's owner's change, whoever moved the money."""

    gateway: Gateway
    correlation_id: str
    owner: str | None


def by_value(cycle: Document) -> bool:
    """Whether a cycleSpecification is given whole, rather than as a reference to a specification."""
    return "billingDateShift" in cycle or cycle.get("isRef") is False or "id" not in cycle


async def cycle_of(tx: Transaction, account: Document | None) -> Document:
    """The account's bill cycle: given by value, or the specification its reference names; {} when none."""
    cycle = ((account or {}).get("billStructure") or {}).get("cycleSpecification")
    if not isinstance(cycle, dict):
        return {}
    if by_value(cycle):
        return cycle
    return await documents.get(tx, CYCLES, str(cycle["id"])) or {}


def shift(cycle: Document) -> int:
    """Days after the first of the month at which a cycle's monthly bill is made (0: on the first)."""
    value = cycle.get("billingDateShift", cycle.get("dateShift", 0))  # dateShift: TMF666's name in a reference
    return value if isinstance(value, int) and 0 <= value <= LAST_SHIFT else 0


def due_days(cycle: Document) -> int | None:
    """Days from a bill's date to its payment due date, when the cycle says; else None."""
    value = cycle.get("paymentDueDateOffset")
    return value if isinstance(value, int) and value >= 0 else None


def reference(account: Document) -> Document:
    """The BillingAccountRef a bill carries to the account."""
    ref: Document = {key: account[key] for key in ("id", "href", "name") if key in account}
    return {**ref, "@referredType": "BillingAccount"}


async def find(tx: Transaction, id: str) -> Document | None:
    """The TMF666 billing account of this id, whoever owns it; None when TMF666 keeps none."""
    return await documents.get(tx, KIND, id)


async def with_shift(source: Queryable, value: int, after: str, size: int) -> list[str]:
    """The first ids after ``after``, up to ``size`` or a few more, of the accounts whose cycle, by value or
    by reference, has this shift (found by the store's filters; :func:`cycle_of` tells which cycle an
    account follows)."""
    specs = await documents.find(source, CYCLES, where("billingDateShift", eq=value))
    wanted: list[tuple[str, Any]] = [(f"{CYCLE}.billingDateShift", value), (f"{CYCLE}.dateShift", value)]
    if specs:
        wanted.append((f"{CYCLE}.id", [str(spec["id"]) for spec in specs]))
    pages = []
    for path, values in wanted:
        found = await documents.find(source, KIND, where(path, eq=values), where("id", gt=after), sort="id", limit=size)
        pages.append([str(doc["id"]) for doc in found])
    return chunks.first_ids(pages, size)


async def owed(source: Queryable, account_id: str) -> Decimal:
    """What the account's bills still owe, in all."""
    return (await owed_by(source, [account_id])).get(account_id, Decimal(0))


async def owed_by(source: Queryable, account_ids: list[str]) -> dict[str, Decimal]:
    """What the bills of each of the accounts still owe, in all (an account that owes nothing: absent).

    Only what is owed counts: the bills in a state that may still owe (:data:`UNPAID`; not settled), by
    their ``remainingAmount`` (what payments left of them), never their whole amounts."""
    bills = await documents.find(
        source,
        BILL,
        where("billingAccount.id", eq=account_ids),
        where("state", eq=list(UNPAID)),
        where("remainingAmount.value", gt=0),
    )
    due: dict[str, Decimal] = {}
    for bill in bills:
        id = str(bill["billingAccount"]["id"])
        due[id] = due.get(id, Decimal(0)) + amount((bill.get("remainingAmount") or {}).get("value", 0))
    return due


async def check_credit(source: Queryable, account: Document, unit: str) -> None:
    """Conflict when what the account owes, less the credit payments left it, is over its credit limit."""
    limit = (account.get("creditLimit") or {}).get("value")
    if limit is None:
        return
    due = await owed(source, str(account["id"]))
    kept = {balance.get("balanceType"): balance for balance in account.get("accountBalance", [])}
    credit = amount(((kept.get("credit") or {}).get("amount") or {}).get("value", 0))
    if due - credit > amount(limit):
        less = f", less {credit:.2f} {unit} of credit," if credit else ","
        raise Conflict(
            f"Billing account {account['id']} owes {due:.2f} {unit} on its bills{less} over its credit limit of "
            f"{amount(limit):.2f} {unit}: record payments (TMF676 POST /payment) or raise creditLimit first."
        )


async def refresh_balance(
    tx: Transaction, actor: Actor, account_id: str, credit: Decimal | None, unit: str, *, due: Decimal | None = None
) -> None:
    """Set the TMF666 account's accountBalance to what its bills owe (``due``, when the caller has read
    it already) and, when given, its credit."""
    account = await documents.locked(tx, KIND, account_id)
    if account is None:
        return
    kept = {b.get("balanceType"): b for b in account.get("accountBalance", [])}
    if credit is None:
        credit = amount(((kept.get("credit") or {}).get("amount") or {}).get("value", 0))
    balances = [("due", await owed(tx, account_id) if due is None else due), ("credit", credit)]
    now = times.now()
    new_balances = []
    for kind, value in balances:
        old = kept.get(kind) or {}
        same = amount((old.get("amount") or {}).get("value", -1)) == value
        since = (old.get("validFor") or {}).get("startDateTime") if same else now
        new_balances.append({"balanceType": kind, "amount": money(value, unit), "validFor": {"startDateTime": since}})
    if new_balances != account.get("accountBalance"):
        new = {**account, "accountBalance": new_balances, "lastModified": now}
        keeper = _Bookkeeper(actor.gateway, actor.correlation_id, await tx.owner(KIND, account_id))
        await operations.write_changed(tx, keeper, KIND, account, new)
