"""Outage credits: a resolved incident past its SLA credits the affected products on their next bill.

The rule (setting ``outage_credit``): when an ``incident`` ticket is resolved after its
``expectedResolutionDate``, each product it relates (``@referredType`` Product) with a billing
account is credited its recurring charges pro rata of the outage beyond the SLA: for each recurring
price, ``price × minutes / (minutes in the month of the resolution × months the price covers)``,
whole minutes past the SLA counted, in Decimal, rounded half-up to the cent (as billing rounds
every amount, :mod:`handlers.billing.rules`), with the tax at the ``tax_rate`` setting. The credit is
one unbilled TMF678 ``appliedBillingCredit`` rate on the product's billing account, which the next
bill of the account takes (:mod:`handlers.billing.bill_runs`); its id comes from the ticket and the
product, so a ticket resolved again credits no more. It is written in the resolution's transaction,
holding the account's lock as rating does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from backends.base import Transaction
from handlers import apis
from handlers.billing import prices, rating
from handlers.billing.rules import RATE, TAX_CATEGORY, Period, money, prorate, tax, tax_rate
from handlers.catalog import loading as catalogs
from handlers.tickets.lifecycle import INCIDENT
from handlers.tickets.settings import OUTAGE_CREDIT
from tmfgate import documents, operations, times
from tmfgate.calls import Actor
from tmfgate.security.tenancy import acting_for
from tmfgate.types import Document

_NAMESPACE = uuid.UUID("5f1b7c52-4d0e-4b8a-9a6e-0c2f7d1e6a21")
_MINUTES_A_DAY = 24 * 60


async def grant(tx: Transaction, actor: Actor, old: Document | None, new: Document) -> None:
    """After a ticket's change is written: credit its products when the change resolved an incident late."""
    if not actor.gateway.settings.get(OUTAGE_CREDIT) or new.get("ticketType") != INCIDENT:
        return
    if new.get("status") != "resolved" or (old or {}).get("status") == "resolved":
        return
    if not new.get("expectedResolutionDate") or not new.get("resolutionDate"):
        return
    due, resolved = times.parse(new["expectedResolutionDate"]), times.parse(new["resolutionDate"])
    minutes = int((resolved - due).total_seconds() // 60)
    if minutes <= 0:
        return
    ids = sorted({str(e["id"]) for e in new.get("relatedEntity", []) if e.get("@referredType") == "Product"})
    for id in ids:
        # Only a product the actor may use (tenancy: the links were checked, and this holds if they change)
        product = await documents.get(tx, "product", id, owners=acting_for(actor, "product"))
        if product is not None and product.get("billingAccount"):
            # The credit is the product owner's (the back office's ticket credits the partner's bill).
            owner = await rating.for_product(tx, actor, product)
            await _credit(tx, owner, new, product, minutes, (due, resolved))


def credit(product: Document, currency: str, minutes: int, month: Period) -> Decimal:
    """The credit of ``minutes`` of outage beyond the SLA for a product, in the month they end in."""
    total = Decimal(0)
    for price in product.get("productPrice", []):
        try:
            charge = prices.product_charge(price, currency)
        except prices.PriceError:
            continue  # left unbilled by rating too: nothing to credit
        if charge.type == prices.RECURRING:
            total += prorate(charge.value, minutes, charge.days(month.days) * _MINUTES_A_DAY)
    return total


async def _credit(
    tx: Transaction,
    actor: Actor,
    ticket: Document,
    product: Document,
    minutes: int,
    outage: tuple[dt.datetime, dt.datetime],
) -> None:
    currency = catalogs.of(actor.gateway).currency
    net = credit(product, currency, minutes, Period.of(outage[1]))
    id = str(uuid.uuid5(_NAMESPACE, f"{ticket['id']}/{product['id']}"))
    if net == 0 or await documents.get(tx, RATE, id) is not None:
        return
    await rating.lock_account(tx, product["billingAccount"], create=True)
    rate_of_tax = tax_rate(actor.gateway)
    levied = tax(net, rate_of_tax)
    characteristic: list[Document] = [
        {"name": "troubleTicket", "valueType": "string", "value": ticket["id"]},
        {"name": "outageMinutesBeyondSla", "valueType": "integer", "value": minutes},
    ]
    customer = await rating.customer_of(tx, product)
    if customer:
        characteristic.append({"name": "customer", "valueType": "object", "value": customer})
    await operations.write_new(
        tx,
        actor,
        RATE,
        {
            "id": id,
            "href": actor.gateway.href(apis.BILL, RATE, id),
            "@type": "AppliedCustomerBillingRate",
            "name": "Outage credit",
            "description": f"Outage credit: {minutes} minutes beyond the SLA of trouble ticket {ticket['id']}",
            "date": times.now(),
            "type": "appliedBillingCredit",
            "isBilled": False,
            "billingAccount": rating.account_ref(product["billingAccount"]),
            "product": rating.product_ref(product),
            "periodCoverage": {"startDateTime": times.stamp(outage[0]), "endDateTime": times.stamp(outage[1])},
            "taxExcludedAmount": money(net, currency),
            "appliedTax": [
                {"taxCategory": TAX_CATEGORY, "taxRate": float(rate_of_tax), "taxAmount": money(levied, currency)}
            ],
            "taxIncludedAmount": money(net + levied, currency),
            "characteristic": characteristic,
        },
    )
