"""TMF676 Payment Management: payments allocated to customer bills, overpayments kept as credit, refunds of it.

The allocation rules are :mod:`handlers.payments.ledger`'s. A payment or refund is a record of money
that moved: it is stored ``done`` with its ``paymentDate`` (or ``refundDate``), and the account's
balance after it in ``accountBalance`` (a tmfgate extension attribute: the credit left, never negative);
a TMF666 billing account of that id gets its ``accountBalance`` moved too (:mod:`handlers.billing.accounts`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from handlers import apis
from handlers.billing import accounts
from handlers.billing.prices import LIMIT, amount
from handlers.billing.rules import CENT, money
from handlers.catalog import loading as catalogs
from handlers.payments import ledger
from tmfgate import operations, times
from tmfgate.calls import Call, Reply
from tmfgate.errors import BadRequest, Conflict
from tmfgate.extensions import Handlers
from tmfgate.types import Document

handlers = Handlers(apis.PAYMENT, api=apis.PAYMENT)
_SERVER_SET = ("status", "statusDate", "accountBalance")


def _checked(call: Call) -> tuple[Document, str, Decimal, str]:
    """The new document, its account id, its total and currency; BadRequest saying what is wrong."""
    body = call.body
    given = [name for name in _SERVER_SET if name in body]
    if given:
        raise BadRequest(f"{', '.join(given)} set by the server; leave {'it' if len(given) == 1 else 'them'} out.")
    account_id = str((body.get("account") or {}).get("id") or "")
    if not account_id:
        raise BadRequest("account.id is required: it names the billing account the money moves to or from.")
    unit = catalogs.of(call.gateway).currency
    total = body.get("totalAmount") or {}
    try:
        value = amount(total.get("value"))
    except ValueError:
        raise BadRequest(f"totalAmount.value must be an amount of money; it is {total.get('value')!r}.") from None
    if not 0 < value < LIMIT or value != value.quantize(CENT, rounding=ROUND_HALF_UP):
        raise BadRequest(
            f"totalAmount.value must be more than 0 and less than {LIMIT:,}, in cents at most; "
            f"it is {total.get('value')!r}."
        )
    if total.get("unit", unit) != unit:
        raise BadRequest(f"totalAmount is in {total.get('unit')}; accounts are kept in {unit}.")
    doc = operations.new_document(call, body)
    doc.update(status="done", statusDate=times.now(), totalAmount=money(value, unit))
    return doc, account_id, value, unit


@handlers.operation
async def createPayment(call: Call) -> Reply:
    """``POST /payment``: the payment allocated to the account's bills in the same transaction."""
    doc, account_id, total, unit = _checked(call)
    doc.setdefault("paymentDate", doc["statusDate"])
    async with call.gateway.transaction() as tx:
        record, credit = await ledger.credit(tx, call, account_id)
        items, left = await ledger.allocate(tx, call, doc, account_id, total, unit)
        doc["paymentItem"] = items
        await ledger.set_credit(tx, record, credit + left)
        await accounts.refresh_balance(tx, call, account_id, credit + left, unit)
        doc["accountBalance"] = money(credit + left, unit)
        raw = await operations.write_new(tx, call, call.resource.kind, doc)
    return Reply.created(raw, doc["href"])


@handlers.operation
async def createRefund(call: Call) -> Reply:
    """``POST /refund``: paid out of the account's credit; 409 when the credit is less."""
    doc, account_id, total, unit = _checked(call)
    doc.setdefault("refundDate", doc["statusDate"])
    async with call.gateway.transaction() as tx:
        record, credit = await ledger.credit(tx, call, account_id)
        if total > credit:
            raise Conflict(
                f"Billing account {account_id} has {credit:.2f} {unit} of credit; "
                f"a refund of {total:.2f} {unit} is more."
            )
        await ledger.set_credit(tx, record, credit - total)
        await accounts.refresh_balance(tx, call, account_id, credit - total, unit)
        doc["accountBalance"] = money(credit - total, unit)
        raw = await operations.write_new(tx, call, call.resource.kind, doc)
    return Reply.created(raw, doc["href"])
