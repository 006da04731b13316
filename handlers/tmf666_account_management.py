"""TMF666 Account Management: accounts with their bill cycle, credit limit and balance, and bill cycles.

A billing account's bill cycle (``billStructure.cycleSpecification``) is given by value or by reference
to a BillingCycleSpecification, which billing reads at each run (:mod:`handlers.billing.accounts`). A
cycle is billed 0 to 27 days after the first, and one an account follows is monthly. A ``creditLimit``
is money in the catalog's currency; ``accountBalance`` is the gateway's to keep. An account whose bills
still owe, and a cycle an account follows, cannot be deleted.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP
from functools import partial

from backends.base import Transaction, where
from handlers import apis
from handlers.billing import accounts
from handlers.billing.prices import LIMIT, amount
from handlers.billing.rules import CENT
from handlers.catalog import loading as catalogs
from tmfgate import documents, operations, times
from tmfgate.calls import Call, Reply
from tmfgate.documents import Queryable
from tmfgate.errors import BadRequest, Conflict
from tmfgate.extensions import Handlers
from tmfgate.security.tenancy import visible
from tmfgate.types import Document

handlers = Handlers(apis.ACCOUNT, api=apis.ACCOUNT)
MONTHLY = "monthly"


def check_cycle(cycle: Document, where: str, *, followed: bool) -> None:
    """BadRequest unless the cycle is billed 0 to 27 days after the first and due 0 days or more after, and
    monthly when an account follows it (a specification of another frequency is kept, and followed by none)."""
    frequency = cycle.get("frequency", MONTHLY)
    if followed and frequency != MONTHLY:
        raise BadRequest(f"{where}frequency must be {MONTHLY!r}: tmfgate bills calendar months; it is {frequency!r}.")
    for name in ("billingDateShift", "dateShift"):
        if name in cycle and not 0 <= cycle[name] <= accounts.LAST_SHIFT:
            raise BadRequest(
                f"{where}{name} must be 0 to {accounts.LAST_SHIFT}, the days after the first of the month at which "
                f"the bill is made (every month has a 28th); it is {cycle[name]}."
            )
    for name in ("paymentDueDateOffset", "chargeDateOffset", "creditDateOffset", "mailingDateOffset"):
        if name in cycle and cycle[name] < 0:
            raise BadRequest(f"{where}{name} must be 0 or more days; it is {cycle[name]}.")


async def _cycle_of(tx: Transaction, call: Call, account: Document) -> None:
    """Check the account's cycle, or that its reference names a specification an account may follow."""
    cycle = (account.get("billStructure") or {}).get("cycleSpecification")
    if not isinstance(cycle, dict):
        return
    where = "billStructure.cycleSpecification."
    if accounts.by_value(cycle):
        check_cycle(cycle, where, followed=True)
        return
    named = await documents.get(tx, accounts.CYCLES, str(cycle["id"]), owners=visible(call, accounts.CYCLES))
    if named is None:
        raise BadRequest(f"{where}id names no billing cycle specification: {cycle['id']!r}.")
    check_cycle(named, f"The billing cycle specification {cycle['id']} named by {where}id: ", followed=True)
    cycle.setdefault("href", named.get("href"))


def _check_money(call: Call, account: Document) -> None:
    """creditLimit is an amount in cents, 0 or more, in the catalog's currency."""
    limit = account.get("creditLimit")
    if limit is None:
        return
    unit = catalogs.of(call.gateway).currency
    try:
        value = amount(limit.get("value"))
    except ValueError:
        raise BadRequest(f"creditLimit.value must be an amount of money; it is {limit.get('value')!r}.") from None
    if not 0 <= value < LIMIT or value != value.quantize(CENT, rounding=ROUND_HALF_UP):
        raise BadRequest(f"creditLimit.value must be 0 or more, less than {LIMIT:,}, in cents at most; it is {value}.")
    if limit.get("unit", unit) != unit:
        raise BadRequest(f"creditLimit is in {limit.get('unit')}; accounts are kept in {unit}.")
    account["creditLimit"] = {"unit": unit, "value": limit["value"]}


async def _new_account(call: Call, account: Document) -> None:
    if call.resource.kind == accounts.KIND and "accountBalance" in account:
        raise BadRequest("accountBalance is kept by the gateway from the account's bills and payments; leave it out.")
    _check_money(call, account)
    async with call.gateway.transaction() as tx:
        await _cycle_of(tx, call, account)
    account.setdefault("lastModified", times.now())  # the author's when given (it is in TMF666's create body)


async def _patch_account(call: Call) -> Reply:
    """``PATCH``: the account's cycle and credit limit checked as at creation, then stored."""
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        new = operations.patched(call, old)
        _check_money(call, new)
        if new.get("billStructure") != old.get("billStructure"):
            await _cycle_of(tx, call, new)
        if new != old and new.get("lastModified") == old.get("lastModified"):
            new["lastModified"] = times.now()
        raw = await operations.write_changed(tx, call, call.resource.kind, old, new)
    return Reply(200, raw)


@handlers.operation
async def deleteBillingAccount(call: Call) -> Reply:
    """Refused while the account's bills still owe: they would point to nothing."""
    due = await accounts.owed(call.gateway.backend, str(call.id))
    if due > 0:
        unit = catalogs.of(call.gateway).currency
        raise Conflict(f"Billing account {call.id} still owes {due:.2f} {unit} on its bills; it cannot be deleted.")
    return await operations.delete(call)


async def _check_cycle(call: Call, cycle: Document) -> None:
    check_cycle(cycle, "", followed=False)


@handlers.operation
async def patchBillingCycleSpecification(call: Call) -> Reply:
    """A cycle accounts follow stays monthly: billing reads it at each run."""
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        new = operations.patched(call, old)
        check_cycle(new, "", followed=bool(await _followers(tx, str(call.id))))
        raw = await operations.write_changed(tx, call, call.resource.kind, old, new)
    return Reply(200, raw)


async def _followers(source: Queryable, id: str) -> list[Document]:
    """An account that follows the cycle specification by reference, if any."""
    return await documents.find(source, accounts.KIND, where(f"{accounts.CYCLE}.id", eq=id), limit=1)


@handlers.operation
async def deleteBillingCycleSpecification(call: Call) -> Reply:
    """Refused while an account follows the cycle by reference."""
    users = await _followers(call.gateway.backend, str(call.id))
    if users:
        raise Conflict(f"Billing account {users[0]['id']} follows billing cycle specification {call.id}; it stays.")
    return await operations.delete(call)


for _type in ("BillingAccount", "FinancialAccount", "PartyAccount", "SettlementAccount"):
    handlers.serve(f"create{_type}", partial(operations.create, prepare=_new_account))
    handlers.serve(f"patch{_type}", _patch_account)
handlers.serve("createBillingCycleSpecification", partial(operations.create, prepare=_check_cycle))
