"""TMF637 Product Inventory: the products customers have, along the product lifecycle.

Fulfilment records the products that product orders install, change and terminate
(:mod:`handlers.fulfilment.products`); clients list and read them, import products a customer already has
(POST), correct them and move them along the lifecycle (PATCH), and remove them (DELETE, for
administration). Rules on top of TMF630:

- ``status`` follows :data:`handlers.fulfilment.products.PRODUCT`; an illegal change is a 409 that names the
  legal ones, and ``status`` cannot be removed (TMF637 requires it on creation). The status of a
  product realised by services (one fulfilment installed) changes only through product orders,
  which change the services too: a PATCH of it is a 409 saying so.
- A product that is active, suspended or pending termination has a ``startDate`` (now, when not
  given, as for a service created active); one that goes ``terminated`` gets a ``terminationDate``.
- ``startDate`` and ``terminationDate`` must be instants billing can use, in that order.
- Every ``productPrice`` must be one billing can charge (:mod:`handlers.billing.prices`), to the product's
  ``billingAccount``: otherwise a 400 names the entry and what is wrong. Prices are stored with
  tmfgate's names (``recurringCharge`` as ``recurring``, ``monthly`` as ``month``).
- A product that has started (active, suspended, pending termination) is not deleted (409): billing
  and its services would lose it; it ends through a product order's ``delete`` item (or, when no
  service realises it, a PATCH to ``terminated``).
"""

from __future__ import annotations

import datetime as dt

from handlers import apis
from handlers.billing import prices
from handlers.catalog import loading as catalogs
from handlers.fulfilment.products import PRODUCT, STARTED, status_of
from tmfgate import operations, times
from tmfgate.calls import Call, Reply
from tmfgate.errors import BadRequest, Conflict
from tmfgate.extensions import Handlers
from tmfgate.types import Document

handlers = Handlers(apis.PRODUCT_INVENTORY, api=apis.PRODUCT_INVENTORY)

# The dates billing reads from a product (handlers.billing.rating): they must parse and be in order.
_DATES = ("startDate", "terminationDate")


@handlers.operation
async def createProduct(call: Call) -> Reply:
    """``POST /product``: a product recorded as given, with its status and dates made consistent."""
    return await operations.create(call, prepare=_prepare_new)


@handlers.operation
async def patchProduct(call: Call) -> Reply:
    """``PATCH /product/{id}``: any attribute, the status along the lifecycle."""
    return await operations.patch(call, check=_check_change)


@handlers.operation
async def deleteProduct(call: Call) -> Reply:
    """``DELETE /product/{id}``: only a product that has not started or has ended."""
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        if status_of(old.get("status")) in STARTED:
            raise Conflict(
                f"Product {old['id']} is {old['status']}: it ends through a product order with a delete item "
                "for it, which terminates its services and stops its billing (a product no service realises "
                "may be PATCHed to terminated); delete it once it has ended."
            )
        await operations.write_deleted(tx, call, "product", old)
    return Reply(204)


def _prepare_new(call: Call, doc: Document) -> None:
    doc["creationDate"] = times.now()  # TMF637 v5 states when the record was made; v4 readers skip it
    if "status" in doc:
        doc["status"] = status_of(doc["status"])
    if doc.get("status") in STARTED:
        doc.setdefault("startDate", times.now())
    _check_dates(doc)
    _check_prices(call, doc)


def _check_change(call: Call, old: Document, new: Document) -> None:
    before = status_of(old.get("status"))
    if "status" not in new and before is not None:
        raise BadRequest(
            f"status cannot be removed from product {old['id']}: every product has one "
            "(set it to terminated to end the product)."
        )
    after = status_of(new.get("status"))
    if after is not None:
        new["status"] = after
    PRODUCT.check(before, after)
    if after != before and old.get("realizingService"):
        raise Conflict(
            f"Product {old['id']} is realised by services in the network, so its status changes "
            "through a product order: a modify with product.status suspended or active, or a delete."
        )
    if after != before:
        if after in STARTED:
            new.setdefault("startDate", times.now())
        if after == "terminated" and "terminationDate" not in new:
            moment, now = times.instant()
            start = new.get("startDate")
            # Never before the start (a product may be ended before its planned start).
            later = isinstance(start, str) and _instant(start, "startDate") > moment
            new["terminationDate"] = start if later else now
    _check_dates(new)
    if (new.get("productPrice"), new.get("billingAccount")) != (old.get("productPrice"), old.get("billingAccount")):
        _check_prices(call, new)


def _check_prices(call: Call, doc: Document) -> None:
    """Prices billing can charge, stored with its names, so what is accepted is what is billed."""
    if "productPrice" not in doc:
        return
    try:
        doc["productPrice"] = prices.checked(doc["productPrice"], catalogs.of(call.gateway).currency)
    except prices.PriceError as why:
        raise BadRequest(str(why)) from None
    account = (doc.get("billingAccount") or {}).get("id")
    for n, price in enumerate(doc["productPrice"]):
        own = (price.get("billingAccount") or {}).get("id")
        if own is not None and own != account:
            name = f' "{price["name"]}"' if price.get("name") else ""
            raise BadRequest(
                f"productPrice[{n}]{name}: it names the billing account {own}, but a product's prices are "
                f"billed to the product's billingAccount, which is {account or 'not given'}."
            )


def _check_dates(doc: Document) -> None:
    moments = {name: _instant(doc[name], name) for name in _DATES if isinstance(doc.get(name), str)}
    if len(moments) == len(_DATES) and moments["terminationDate"] < moments["startDate"]:
        raise BadRequest(
            f"terminationDate {doc['terminationDate']} is before startDate {doc['startDate']}; "
            "a product ends after it starts."
        )


def _instant(text: str, name: str) -> dt.datetime:
    try:
        return times.parse(text)
    except ValueError:
        raise BadRequest(
            f"{name} {text!r} is not a date-time the inventory can use; write it as "
            "2026-11-25T18:40:00Z or 2026-11-25T18:40:00.000+01:00."
        ) from None
