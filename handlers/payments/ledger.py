"""Payments allocated to customer bills, and the credit an account keeps (TMF676 against TMF678).

A payment to a billing account pays the bills its ``paymentItem`` names (each up to what it still
owes), or else the account's unpaid bills, oldest first. Each bill paid gets an ``appliedPayment`` and
a smaller ``remainingAmount``; a ``sent`` or ``partiallyPaid`` bill becomes ``settled`` when nothing
remains and ``partiallyPaid`` otherwise (a bill not sent yet keeps its state, and is settled by PATCH
once sent). What a payment leaves over is the account's credit, which a refund pays out. Everything
holds the account's lock (:func:`handlers.billing.rating.lock_account`), as rating and bill runs do, in
Decimal, to the cent.
"""

from __future__ import annotations

from decimal import Decimal

from backends.base import Owners, Transaction, where
from handlers.billing import rating
from handlers.billing.prices import amount
from handlers.billing.rules import BILL, money
from tmfgate import documents, operations, times
from tmfgate.calls import Actor, Call
from tmfgate.errors import BadRequest, Conflict
from tmfgate.security.tenancy import visible
from tmfgate.types import Document

BALANCES = "tmfgate:accountBalance"  # the credit of each billing account, as decimal text
UNPAID = ("new", "onHold", "validated", "sent", "partiallyPaid")
PAYABLE = frozenset({"sent", "partiallyPaid"})  # the lifecycle moves on from these when paid (TMF678)


async def credit(tx: Transaction, actor: Actor, account_id: str) -> tuple[Document, Decimal]:
    """The account's balance record, locked with the account, and its credit; a partner's own (tenancy)."""
    await rating.lock_account(tx, {"id": account_id}, create=True)
    key = account_id if _owners(actor) is None else f"{actor.owner}:{account_id}"
    record = await documents.locked(tx, BALANCES, key)
    if record is None:
        record = {"id": key, "credit": "0"}
        await documents.create(tx, BALANCES, record)
    return record, Decimal(record["credit"])


def _owners(actor: Actor) -> Owners:
    """Whose bills the actor may pay: a partner its own (tenancy), the operator and the gateway any."""
    return visible(actor, BILL) if isinstance(actor, Call) else None


async def set_credit(tx: Transaction, record: Document, value: Decimal) -> None:
    await documents.replace(tx, BALANCES, {**record, "credit": str(value)})


async def allocate(
    tx: Transaction, actor: Actor, payment: Document, account_id: str, total: Decimal, unit: str
) -> tuple[list[Document], Decimal]:
    """Pay the bills with ``total``: the payment items made, and what is left over."""
    targets = await _targets(tx, payment, account_id, _owners(actor))
    left, items = total, []
    for bill, wanted in targets:
        owed = amount((bill.get("remainingAmount") or {}).get("value", 0))
        paid = min(left, owed if wanted is None else wanted)
        if paid <= 0:
            continue
        if wanted is not None and wanted > owed:
            raise Conflict(
                f"Customer bill {bill['id']} owes {owed:.2f} {unit}; a payment item of {wanted:.2f} is more."
            )
        remaining = owed - paid
        new = {
            **bill,
            "remainingAmount": money(remaining, unit),
            "appliedPayment": [
                *bill.get("appliedPayment", []),
                {
                    "appliedAmount": money(paid, unit),
                    "payment": {"id": payment["id"], "href": payment["href"], "@referredType": "Payment"},
                },
            ],
            "lastUpdate": times.now(),
        }
        if bill.get("state") in PAYABLE:
            new["state"] = "settled" if remaining == 0 else "partiallyPaid"
        await operations.write_changed(tx, actor, BILL, bill, new)
        items.append(
            {
                "item": {"id": bill["id"], "href": bill.get("href"), "@referredType": "CustomerBill"},
                "amount": money(paid, unit),
                "totalAmount": money(paid, unit),
            }
        )
        left -= paid
    return items, left


async def _targets(
    tx: Transaction, payment: Document, account_id: str, owners: Owners
) -> list[tuple[Document, Decimal | None]]:
    """The bills to pay, each with the amount its payment item names (None: what it owes)."""
    named = payment.get("paymentItem") or []
    if not named:
        bills = await documents.find(
            tx,
            BILL,
            where("billingAccount.id", eq=account_id),
            where("state", eq=list(UNPAID)),
            where("remainingAmount.value", gt=0),
            sort=("billDate", "billNo"),
            owners=owners,
        )
        return [(bill, None) for bill in bills]
    found = []
    for n, item in enumerate(named):
        id = str((item.get("item") or {}).get("id") or "")
        bill = await documents.get(tx, BILL, id, owners=owners) if id else None
        if bill is None or str((bill.get("billingAccount") or {}).get("id")) != account_id:
            raise BadRequest(f"paymentItem[{n}] names no customer bill of billing account {account_id}: {id!r}.")
        given = (item.get("amount") or item.get("totalAmount") or {}).get("value")
        try:
            wanted = None if given is None else amount(given)
        except ValueError:
            raise BadRequest(f"paymentItem[{n}].amount is not an amount of money: {given!r}.") from None
        if wanted is not None and wanted <= 0:
            raise BadRequest(f"paymentItem[{n}].amount must be more than 0.")
        found.append((bill, wanted))
    return found
