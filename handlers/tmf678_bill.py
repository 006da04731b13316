"""TMF678 Customer Bill Management: bills on demand, the bill lifecycle, and the billing cycle's run.

The gateway makes the applied customer billing rates (:mod:`handlers.billing.rating`, when product orders
complete) and the customer bills (:mod:`handlers.billing.bill_runs`); clients read both, ask for a bill
now with ``customerBillOnDemand``, and move a bill along its lifecycle by PATCH, the only change
TMF678 lets them make (``CustomerBill_Update`` holds ``state`` alone). The rules of rating and
billing are in :mod:`handlers.billing.rules`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from handlers import apis
from handlers.billing import bill_runs, rating, rules
from handlers.billing.prices import amount
from handlers.billing.rules import PAYMENT_TERMS, TAX_RATE, Period
from handlers.catalog.loading import CATALOG
from handlers.fulfilment.settings import FULFILMENT
from tmfgate import operations, times
from tmfgate.calls import Call, Reply
from tmfgate.errors import BadRequest, Conflict
from tmfgate.events import changed_attributes
from tmfgate.extensions import Command, Handlers
from tmfgate.gateway import Gateway
from tmfgate.settings import Settings
from tmfgate.states import StateMachine
from tmfgate.types import Document

handlers = Handlers(apis.BILL, api=apis.BILL, settings=[TAX_RATE, PAYMENT_TERMS])
# Rating follows product orders: no fulfilment, no installed products, nothing to rate either.
handlers.reaction("ProductOrderStateChangeEvent", when=FULFILMENT)(rating.rate_order)


# The customer bill lifecycle of the TMF678 user guide: a new bill may be held or validated, a
# validated one is sent, and a sent one is paid in part, then settled (or settled at once).
BILL = StateMachine(
    "customer bill",
    {
        "new": frozenset({"onHold", "validated"}),
        "onHold": frozenset({"new", "validated"}),
        "validated": frozenset({"onHold", "sent"}),
        "sent": frozenset({"partiallyPaid", "settled"}),
        "partiallyPaid": frozenset({"settled"}),
        "settled": frozenset(),
    },
)
# Attributes of a bill-on-demand request that report its outcome: the server sets them.
_OUTCOME = ("customerBill", "errorMessage", "lastUpdate", "state")


@handlers.configuration
def configure(gateway: Gateway) -> None:
    """Refuse to start with a tax rate, payment terms or catalog prices that billing cannot use."""
    rules.check(gateway)


@handlers.operation
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
        bills = await bill_runs.bill_account(
            tx, call, account_id, period, run_type="offCycle", requester=body.get("relatedParty")
        )
        bill = bills[0] if bills else None  # the back office's call bills each partner apart: the first
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
    return Reply.created(raw, task["href"])


@handlers.operation
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
        _check_paid(old, str(new.get("state")))


def _check_paid(bill: Document, state: str) -> None:
    """Only payments (TMF676) pay a bill: settled once they cover it, partially paid once one is applied."""
    remaining = amount((bill.get("remainingAmount") or {}).get("value", 0))
    if state == "settled" and remaining > 0:
        raise Conflict(
            f"Customer bill {bill['id']} still owes {remaining}: record the payments that cover it (TMF676 "
            "POST /payment); a bill they cover is settled by them."
        )
    if state == "partiallyPaid" and not bill.get("appliedPayment"):
        raise Conflict(f"Customer bill {bill['id']} has no payment applied: record one (TMF676 POST /payment).")


def _bill_run_arguments(parser: argparse.ArgumentParser) -> None:
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--period",
        type=_period,
        metavar="YYYY-MM",
        help="the month to bill, e.g. 2026-11, once it has ended, for every billing account whatever its cycle; "
        "running a month again bills nothing twice",
    )
    when.add_argument(
        "--date",
        type=_date,
        metavar="YYYY-MM-DD",
        help="the day whose bill cycle to run, today or before: bills the month before it for the accounts whose "
        "TMF666 bill cycle (billStructure.cycleSpecification.billingDateShift) makes their bill that day, those "
        "with no cycle on the 1st; running a day again bills nothing twice",
    )
    parser.add_argument(
        "--in-advance",
        action="store_true",
        help="with --period, also bill the current month or the coming one, before it ends: the recurring charges "
        "of the whole month (a product terminated later gets the unused days credited on its next bill)",
    )


def _period(raw: str) -> Period:
    try:
        return Period.parse(raw.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a day; write it as YYYY-MM-DD, e.g. 2026-12-05.") from None


async def _bill_run(args: argparse.Namespace, gateway: Gateway) -> int:
    """``tmfgate bill-run --period YYYY-MM`` or ``--date YYYY-MM-DD``: bill the accounts due, and say what it did."""
    now = dt.datetime.now(dt.UTC)
    if args.date is not None:
        refused, period, shift = bill_runs.day_refusal(args.date, now, in_advance=args.in_advance)
    else:
        refused, period, shift = bill_runs.refusal(args.period, now, in_advance=args.in_advance), args.period, None
    if refused is not None:
        print(f"tmfgate bill-run: {refused}", file=sys.stderr)
        return 2
    results = await bill_runs.run_cycle(gateway, period, shift=shift)
    print(bill_runs.summary(period, results, day=args.date), flush=True)
    return 0


handlers.command(
    Command(
        "bill-run",
        "bill every billing account for one calendar month, or those whose bill cycle falls on one day, on the "
        "store directly",
        (Settings.database_url, Settings.public_url, CATALOG, TAX_RATE, PAYMENT_TERMS),
        _bill_run_arguments,
        _bill_run,
        prepare=True,
    )
)
