"""TMF622 Product Ordering: product orders along the order lifecycle, and the cancellation task.

Order and item states follow :mod:`handlers.ordering.lifecycle` (TMF622 user guide; items without
``partial``). The prices an item carries must be ones billing can charge
(:mod:`handlers.billing.prices`). While the gateway fulfils orders, items are checked against the
catalog and priced from it at capture (:mod:`handlers.ordering.capture`), and their states are the
gateway's to set: a PATCH may change any other attribute. An order naming a TMF666 billing account
is held to its credit limit (:mod:`handlers.billing.accounts`). A cancellation is
:mod:`handlers.ordering.cancellation`'s.
"""

from __future__ import annotations

from handlers import apis
from handlers.billing import accounts, prices
from handlers.catalog import loading as catalogs
from handlers.catalog import snapshots
from handlers.fulfilment.settings import FULFILMENT
from handlers.ordering import cancellation, capture
from handlers.ordering.lifecycle import PRODUCT_ORDERS
from handlers.ordering.limits import MAX_ITEM_QUANTITY, MAX_ORDER_ITEMS
from tmfgate import codec, operations, times
from tmfgate.calls import Call, Reply
from tmfgate.errors import BadRequest, Conflict
from tmfgate.extensions import Handlers
from tmfgate.security.tenancy import visible
from tmfgate.types import Document

handlers = Handlers(apis.PRODUCT_ORDERING, api=apis.PRODUCT_ORDERING, settings=[MAX_ORDER_ITEMS, MAX_ITEM_QUANTITY])


@handlers.operation
async def createProductOrder(call: Call) -> Reply:
    return await operations.create(call, prepare=_new_order)


@handlers.operation
async def patchProductOrder(call: Call) -> Reply:
    return await operations.patch(call, check=_check_patch)


def _check_patch(call: Call, old: Document, new: Document) -> None:
    """The lifecycle's checks; while the gateway fulfils orders, their states are its own to set: a PATCH
    that cancelled or completed one would leave products active under a cancelled order, or none under a
    completed one (:mod:`handlers.ordering.cancellation`)."""
    changed = PRODUCT_ORDERS.state_changes(old, new)
    if call.gateway.settings.get(FULFILMENT) and changed:
        raise Conflict(
            f"Product order {old['id']} is fulfilled by the gateway, which sets its states and its items' "
            f"({', '.join(changed)} cannot be changed by PATCH); cancel it with POST /cancelProductOrder."
        )
    PRODUCT_ORDERS.check_patch(old, new)


async def _new_order(call: Call, order: Document) -> None:
    """The lifecycle's checks, each item's quantity and prices, and the catalog's checks."""

    settings = call.gateway.settings
    largest = settings.get(MAX_ITEM_QUANTITY)

    def check_item(item: Document) -> None:
        quantity = item.get("quantity", 1)
        if quantity < 1:
            raise BadRequest(f"productOrderItem {item['id']}: quantity must be 1 or more; it is {quantity}.")
        if quantity > largest:
            raise BadRequest(f"productOrderItem {item['id']}: quantity must be at most {largest}; it is {quantity}.")
        _check_prices(call, item)

    PRODUCT_ORDERS.check_new(order, check_item, max_items=settings.get(MAX_ORDER_ITEMS))
    await _check_account(call, order)
    if call.gateway.settings.get(FULFILMENT):
        capture.dates(order)
        await snapshots.refresh(call.gateway)
        capture.check(catalogs.of(call.gateway), order, await _installed(call, order))


async def _check_account(call: Call, order: Document) -> None:
    """An order naming a TMF666 billing account whose bills owe more than its credit limit is refused (409)."""
    id = (order.get("billingAccount") or {}).get("id")
    if not isinstance(id, str):
        return
    raw = await call.gateway.backend.get(accounts.KIND, id, owners=visible(call, accounts.KIND))
    if raw is not None:
        await accounts.check_credit(call.gateway.backend, codec.loads(raw), catalogs.of(call.gateway).currency)


async def _installed(call: Call, order: Document) -> dict[str, Document]:
    """The stored products the order's modify items name."""
    found: dict[str, Document] = {}
    for item in PRODUCT_ORDERS.items(order):
        id = (item.get("product") or {}).get("id")
        if item.get("action") == "modify" and isinstance(id, str):
            raw = await call.gateway.backend.get("product", id, owners=visible(call, "product"))
            if raw is not None:
                found[id] = codec.loads(raw)
    return found


def _check_prices(call: Call, item: Document) -> None:
    """The prices an item carries are checked as billing checks every price (:mod:`handlers.billing.prices`)
    and stored with its names; a 400 names the item, the entry and what is wrong."""
    currency = catalogs.of(call.gateway).currency
    product: Document = item["product"] if isinstance(item.get("product"), dict) else {}
    holders: list[tuple[Document, str]] = [(item, "itemPrice"), (item, "itemTotalPrice"), (product, "productPrice")]
    for holder, what in holders:
        if what in holder:
            label = what if holder is item else f"product.{what}"
            try:
                holder[what] = prices.checked(holder[what], currency, label)
            except prices.PriceError as why:
                raise BadRequest(f"productOrderItem {item['id']}: {why}") from None


@handlers.operation
async def createCancelProductOrder(call: Call) -> Reply:
    """Cancel an order: the task takes it through the cancellation states and ends ``done``,
    or ``terminatedWithError`` with the reason when the order can no longer be cancelled.

    Every step is stored, so subscribers see the task's Create event (acknowledged), its state
    changes (inProgress, then done or terminatedWithError) and the order's own state changes.
    When the order's service order is running, the cancellation is passed on to it and the task
    stays inProgress until the service order has rolled back; it is refused once an item has
    completed (:mod:`handlers.ordering.cancellation`)."""
    task = operations.new_document(call, call.body)
    task["state"] = "acknowledged"
    task["creationDate"] = times.now()  # TMF622 v5 states when the task was made; v4 readers skip it
    async with call.gateway.transaction() as tx:
        raw = await cancellation.cancel_product_order(tx, call, task)
    return Reply.created(raw, task["href"])
