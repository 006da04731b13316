"""TMF622 Product Ordering: the product order lifecycle and the cancellation task.

Order states and the transitions between them follow the TMF622 user guide: a new order is
acknowledged; it goes pending, held or inProgress; from inProgress it ends completed, failed or
partial; cancellation goes through assessingCancellation and pendingCancellation to cancelled.
Items follow the same lifecycle without ``partial`` (TMF622: partial is not available per item).
The prices an item carries must be ones billing can charge (:mod:`handlers.prices`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from handlers import cancellation, fulfilment, prices
from handlers import catalog as catalogs
from handlers.order_states import CANCELLABLE, PRODUCT_ORDER, PRODUCT_ORDER_ITEM
from tmfgate import codec, operations, times
from tmfgate.calls import Call, Reply
from tmfgate.errors import BadRequest
from tmfgate.extensions import Handlers

handlers = Handlers("tmf622_product_ordering", api="tmf622_product_ordering")

Document = dict[str, Any]

ORDER = PRODUCT_ORDER
ITEM = PRODUCT_ORDER_ITEM

CANCELLATION_PATH = ("assessingCancellation", "pendingCancellation", "cancelled")


@handlers.operation
async def createProductOrder(call: Call) -> Reply:
    return await operations.create(call, prepare=_new_order)


@handlers.operation
async def patchProductOrder(call: Call) -> Reply:
    return await operations.patch(call, check=_check_change)


def _new_order(call: Call, order: Document) -> None:
    """Server-set state and dates; items must have unique ids and valid relationships."""
    items = list(_items(order))
    ids = [item["id"] for item in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise BadRequest(f"productOrderItem ids must be unique in an order; repeated: {', '.join(duplicates)}.")
    for item in items:
        if "state" in item:
            raise BadRequest(f"productOrderItem {item['id']}: state is set by the server; leave it out.")
        if item.get("quantity", 1) < 1:
            raise BadRequest(f"productOrderItem {item['id']}: quantity must be 1 or more; it is {item['quantity']}.")
        for relation in item.get("productOrderItemRelationship", []):
            if relation.get("id") not in ids:
                raise BadRequest(
                    f"productOrderItem {item['id']} relates to item {relation.get('id')}, which is not in this order."
                )
        _check_prices(call, item)
        item["state"] = "acknowledged"
    order["state"] = "acknowledged"
    order["orderDate"] = times.now()


def _check_prices(call: Call, item: Document) -> None:
    """The prices an item carries are checked as billing checks every price (:mod:`handlers.prices`)
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


def _items(order: Document) -> Iterator[Document]:
    """Every order item, including items nested in items (TMF622 ProductOrderItem.productOrderItem)."""
    return fulfilment.order_items(order)


def _check_change(call: Call, old: Document, new: Document) -> None:
    """Refuse illegal order and item state changes; stamp the dates a state change implies."""
    ORDER.check(old.get("state"), new.get("state"))
    before = {item["id"]: item.get("state") for item in _items(old)}
    for item in _items(new):
        if item["id"] in before:
            ITEM.check(before[item["id"]], item.get("state"), f"item {item['id']}")
        else:
            item.setdefault("state", "acknowledged")
    if new.get("state") != old.get("state"):
        if new.get("state") == "completed":
            new.setdefault("completionDate", times.now())
        if new.get("state") == "cancelled":
            new.setdefault("cancellationDate", times.now())


@handlers.operation
async def createCancelProductOrder(call: Call) -> Reply:
    """Cancel an order: the task takes it through the cancellation states and ends ``done``,
    or ``terminatedWithError`` with the reason when the order can no longer be cancelled.

    Every step is stored, so subscribers see the task's Create event (acknowledged), its state
    changes (inProgress, then done or terminatedWithError) and the order's own state changes.
    When the order's service order is running, the cancellation is passed on to it and the task
    stays inProgress until the service order has rolled back; it is refused once an item has
    completed (:mod:`handlers.cancellation`)."""
    task = operations.new_document(call, call.body)
    task["state"] = "acknowledged"
    order_id = str(task["productOrder"]["id"])
    tasks = call.resource
    async with call.gateway.transaction() as tx:
        raw = await tx.get("productOrder", order_id, for_update=True)
        if raw is None:
            raise BadRequest(f"productOrder.id {order_id} refers to no product order.")
        order = codec.loads(raw)
        task["productOrder"].setdefault("href", order.get("href"))
        task["productOrder"].setdefault("@referredType", "ProductOrder")
        await operations.write_new(tx, call, tasks.kind, task)
        refusal = _why_not_cancellable(order)
        passed_on = None if refusal else await cancellation.propagate(tx, call, order, task.get("cancellationReason"))
        if isinstance(passed_on, str):
            refusal = passed_on
        if refusal is not None:
            final = {**task, "state": "terminatedWithError", "errorMessage": refusal}
        elif passed_on:
            final = {**task, "state": "inProgress"}
            await operations.write_changed(tx, call, "productOrder", order, {**order, "state": "assessingCancellation"})
        else:
            working = {**task, "state": "inProgress"}
            await operations.write_changed(tx, call, tasks.kind, task, working)
            await _cancel(tx, call, order, task)
            task = working
            final = {**task, "state": "done", "effectiveCancellationDate": times.now()}
        raw_task = await operations.write_changed(tx, call, tasks.kind, task, final)
    return Reply.created(raw_task, final["href"])


def _why_not_cancellable(order: Document) -> str | None:
    state = order.get("state")
    if state in CANCELLABLE:
        return None
    if state in ("assessingCancellation", "pendingCancellation"):
        return f"Product order {order['id']} is already being cancelled ({state})."
    done = [str(item["id"]) for item in _items(order) if item.get("state") == "completed"]
    which = (
        ""
        if not done
        else f" (item {done[0]} completed)"
        if len(done) == 1
        else f" (items {', '.join(done)} completed)"
    )
    return f"Product order {order['id']} is {state} and can no longer be cancelled{which}."


async def _cancel(tx: Any, call: Call, order: Document, task: Document) -> None:
    """Walk the order through each cancellation state, storing every step (one event each)."""
    for state in CANCELLATION_PATH:
        old, new = order, dict(order)
        new["state"] = state
        if state == "cancelled":
            new["cancellationDate"] = times.now()
            if task.get("cancellationReason"):
                new["cancellationReason"] = task["cancellationReason"]
            new["productOrderItem"] = [_cancel_item(item) for item in order.get("productOrderItem", [])]
        await operations.write_changed(tx, call, "productOrder", old, new)
        order = new


def _cancel_item(item: Document) -> Document:
    item = dict(item)
    if not ITEM.is_final(item.get("state", "")):
        item["state"] = "cancelled"
    if "productOrderItem" in item:
        item["productOrderItem"] = [_cancel_item(child) for child in item["productOrderItem"]]
    return item
