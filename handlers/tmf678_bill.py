"""TMF678 Customer Bill Management: bills on demand, the bill lifecycle, and the billing cycle's run.

The gateway makes the applied customer billing rates (:mod:`handlers.rating`, when product orders
complete) and the customer bills (:mod:`handlers.bill_runs`); clients read both, ask for a bill
now with ``customerBillOnDemand``, and move a bill along its lifecycle by PATCH, the only change
TMF678 lets them make (``CustomerBill_Update`` holds ``state`` alone). The rules of rating and
billing are in :mod:`handlers.billing`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from handlers import bill_runs, billing
from handlers.billing import Period
from tmfgate import operations, times
from tmfgate.dispatch import Call, Reply
from tmfgate.errors import BadRequest
from tmfgate.events import changed_attributes
from tmfgate.states import StateMachine

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

Document = dict[str, Any]
_ = frozenset

# The customer bill lifecycle of the TMF678 user guide: a new bill may be held or validated, a
# validated one is sent, and a sent one is paid in part, then settled (or settled at once).
BILL = StateMachine(
    "customer bill",
    {
        "new": _({"onHold", "validated"}),
        "onHold": _({"new", "validated"}),
        "validated": _({"onHold", "sent"}),
        "sent": _({"partiallyPaid", "settled"}),
        "partiallyPaid": _({"settled"}),
        "settled": _(),
    },
)
# Attributes of a bill-on-demand request that report its outcome: the server sets them.
_OUTCOME = ("customerBill", "errorMessage", "lastUpdate", "state")


def configure(gateway: Gateway) -> None:
    """Refuse to start with a tax rate, payment terms or catalog prices that billing cannot use."""
    billing.check(gateway)


async def createCustomerBillOnDemand(call: Call) -> Reply:
    """Bill one billing account now, for the current month, in the request's transaction.

    The task is stored inProgress, then ends ``done`` with ``customerBill`` pointing to the bill,
    or ``rejected`` with the reason in ``errorMessage`` (an extension attribute: the v4 resource has
    no place for it, and the client's ``description`` stays the client's) when the account has nothing unbilled
    (a second request in the same month bills nothing twice)."""
    body = call.body
    given = [name for name in _OUTCOME if name in body]
    if given:
        raise BadRequest(
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} set by the server when the "
            "bill has been produced; leave them out of the request."
        )
    account_id = str((body.get("billingAccount") or {}).get("id", ""))
    if not account_id:
        raise BadRequest("billingAccount is required: its id names the billing account to bill.")
    task = operations.new_document(call, body)
    task["state"] = "inProgress"
    task["lastUpdate"] = times.now()
    period = Period.of(dt.datetime.now(dt.UTC))
    kind = call.resource.kind
    async with call.gateway.transaction() as tx:
        await operations.write_new(tx, call, kind, task)
        bill = await bill_runs.bill_account(
            tx, call, account_id, period, run_type="offCycle", requester=body.get("relatedParty")
        )
        final = {**task, "lastUpdate": times.now()}
        if bill is None:
            why = (
                f"Nothing to bill: billing account {account_id} has no unbilled charges up to the end of "
                f"{period.label}."
            )
            final.update(state="rejected", errorMessage=why)
        else:
            final.update(
                state="done", customerBill={"id": bill["id"], "href": bill["href"], "@referredType": "CustomerBill"}
            )
        raw = await operations.write_changed(tx, call, kind, task, final)
    return Reply(201, raw, [(b"location", task["href"].encode())])


async def patchCustomerBill(call: Call) -> Reply:
    return await operations.patch(call, check=_check_bill)


def _check_bill(call: Call, old: Document, new: Document) -> None:
    """Only ``state`` changes, along the lifecycle; a settled bill has nothing left to pay."""
    others = sorted(changed_attributes(old, new) - {"state"})
    if others:
        raise BadRequest(
            f"{', '.join(others)} cannot be changed by PATCH: the billing process owns a bill's "
            "content, and a client may change its state only."
        )
    BILL.check(old.get("state"), new.get("state"))
    if new.get("state") != old.get("state"):
        new["lastUpdate"] = times.now()
        if new.get("state") == "settled" and isinstance(old.get("remainingAmount"), dict):
            new["remainingAmount"] = {**old["remainingAmount"], "value": 0.0}


async def bill_run(gateway: Gateway, period: str) -> str:
    """``tmfgate bill-run --period YYYY-MM``: bill every account for the month; what it did, as text."""
    month = Period.parse(period)
    return bill_runs.summary(month, await bill_runs.run_cycle(gateway, month))
