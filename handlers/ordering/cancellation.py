"""Product order cancellation, atomic with fulfilment: an order ends cancelled with nothing kept, or not at all.

The rule, whatever the interleaving of requests and reactions (each a transaction that holds the
product order's lock, so on PostgreSQL they take turns and on SQLite there is one writer anyway):

- an item completes (its product is recorded) only while the order is not being cancelled
  (:func:`handlers.fulfilment.follow_service_order` leaves an order in assessingCancellation or
  pendingCancellation alone);
- a cancellation is accepted only while no item has completed; once one has, the task ends
  ``terminatedWithError`` naming the item, and the order goes on to its true end;
- the service order's cancellation undoes every activation; then every item and the order end
  ``cancelled`` and the task ``done``. When the service order ended before its cancellation could
  be accepted, the task ends ``terminatedWithError`` naming the items that completed, and the order
  goes back to inProgress to follow it to completed, failed or partial.

A service order that fulfils a product order is cancelled through that product order only: a
``cancelServiceOrder`` of it otherwise would undo services whose product stays installed and billed.
"""

from __future__ import annotations

import copy
from typing import Any

from backends.base import Condition, Op, Query, Transaction, ValueType
from handlers import fulfilment, service_activation
from handlers.order_states import CANCELLABLE, CANCELLING, FINAL
from handlers.service_activation import items
from tmfgate import codec, operations, times
from tmfgate.calls import Actor, Job
from tmfgate.ids import new_id

Document = dict[str, Any]
ORDER_API = service_activation.ORDER_API
# The service order states in which its cancellation has been accepted.
FOLLOWED = frozenset({"pendingCancellation", "cancelled"})


async def propagate(tx: Transaction, actor: Actor, order: Document, reason: str | None) -> bool | str | None:
    """Ask the service order of ``order`` (locked by the caller) to cancel: True when asked, None when
    the order has no service order (cancel it directly), or why it cannot be cancelled any more."""
    raw = await tx.get(fulfilment.FULFILMENTS, order["id"])
    record = codec.loads(raw) if raw is not None else None
    if record is None or not record.get("serviceOrder"):
        return None
    done = completed_items(order, record)
    if done:
        return f"Product order {order['id']} can no longer be cancelled: {_completed(done, record)}."
    raw_order = await tx.get("serviceOrder", record["serviceOrder"])
    if raw_order is None:
        return None
    service_order = codec.loads(raw_order)
    if service_order.get("state") in FINAL:
        return _too_late(order, service_order, record)
    id = new_id()
    task: Document = {
        "id": id,
        "href": actor.gateway.href(ORDER_API, "cancelServiceOrder", id),
        "@type": "CancelServiceOrder",
        "serviceOrder": {
            "id": service_order["id"],
            "href": service_order.get("href", ""),
            "@referredType": "ServiceOrder",
        },
        "requestedCancellationDate": times.now(),
        "state": "accepted",
    }
    if reason:
        task["cancellationReason"] = reason
    await operations.write_new(tx, actor, "cancelServiceOrder", task)
    return True


def completed_items(order: Document, record: Document) -> list[str]:
    """The ids of the order's items that completed with work in the network (a noChange item has none)."""
    planned = record.get("items", {})
    return [
        str(item["id"])
        for item in fulfilment.order_items(order)
        if item.get("state") == "completed" and planned.get(item["id"])
    ]


def _completed(items: list[str], record: Document) -> str:
    """``item 1 completed before the cancellation was accepted (product P is kept)``, for a message."""
    which = f"item {items[0]}" if len(items) == 1 else "items " + ", ".join(items)
    products = [id for item in items for id in record.get("products", {}).get(item, [])]
    kept = ""
    if products:
        kept = (
            f" (product {products[0]} is kept)" if len(products) == 1 else f" (products {', '.join(products)} are kept)"
        )
    return f"{which} completed before the cancellation was accepted{kept}"


async def refusal_of_service_cancellation(tx: Transaction, service_order: Document) -> str | None:
    """Why a cancelServiceOrder of ``service_order`` is refused: it fulfils a product order that is
    not being cancelled (see the module docstring); None when it may go on."""
    found = await fulfilment.fulfilled_order(tx, str(service_order["id"]), lock=False)
    if found is None or found[2].get("state") in CANCELLING:
        return None
    order = found[2]
    return f"it fulfils product order {order['id']}, which is cancelled through cancelProductOrder only"


async def follow(job: Job, service_order_id: str) -> None:
    """Take a product order being cancelled along with its service order: pendingCancellation, then
    cancelled with every open item, its cancellation tasks done."""
    if job.document.get("state") not in FOLLOWED:
        return  # the service order's cancellation is not accepted yet; nothing to follow
    async with job.gateway.transaction() as tx:
        found = await fulfilment.fulfilled_order(tx, service_order_id)
        if found is None:
            return
        service_order, _, order = found
        if order.get("state") not in CANCELLING or service_order.get("state") not in FOLLOWED:
            return
        if order["state"] == "assessingCancellation":
            pending = {**order, "state": "pendingCancellation"}
            await operations.write_changed(tx, job, "productOrder", order, pending)
            order = pending
        if service_order.get("state") == "cancelled":
            await _cancelled(tx, job, order)


async def _cancelled(tx: Transaction, job: Job, order: Document) -> None:
    """The service order is cancelled: so is the product order, and its cancellation task is done."""
    new = copy.deepcopy(order)
    for item in fulfilment.order_items(new):
        if item.get("state") not in FINAL:
            item["state"] = "cancelled"
    new["state"] = "cancelled"
    new["cancellationDate"] = times.now()
    for task in await _tasks(tx, order["id"]):
        if task.get("cancellationReason"):
            new.setdefault("cancellationReason", task["cancellationReason"])
        await operations.write_changed(
            tx, job, "cancelProductOrder", task, {**task, "state": "done", "effectiveCancellationDate": times.now()}
        )
    await operations.write_changed(tx, job, "productOrder", order, new)


async def follow_refusal(job: Job, task: Document) -> None:
    """A cancelServiceOrder ended in error: the product order's cancellation is refused too, naming
    the items that completed, and the order follows its service order again."""
    if task.get("state") != "terminatedWithError":
        return
    service_order_id = str((task.get("serviceOrder") or {}).get("id", ""))
    async with job.gateway.transaction() as tx:
        found = await fulfilment.fulfilled_order(tx, service_order_id)
        if found is None or found[2].get("state") not in CANCELLING:
            return
        service_order, record, old = found
        why = _too_late(old, service_order, record)
        for product_task in await _tasks(tx, old["id"]):
            await operations.write_changed(
                tx,
                job,
                "cancelProductOrder",
                product_task,
                {**product_task, "state": "terminatedWithError", "errorMessage": why},
            )
        await operations.write_changed(tx, job, "productOrder", old, {**old, "state": "inProgress"})
    await fulfilment.follow_service_order(job, service_order_id)


def _too_late(order: Document, service_order: Document, record: Document) -> str:
    """Why an order whose service order has ended is not cancelled, naming the items it completed."""
    finished = _finished_items(order, service_order, record)
    done = f"{_completed(finished, record)}; " if finished else ""
    return (
        f"Product order {order['id']} can no longer be cancelled: {done}its service order "
        f"{service_order['id']} is {service_order.get('state')}."
    )


def _finished_items(order: Document, service_order: Document, record: Document) -> list[str]:
    """The product order items whose service order items all completed (they complete next)."""
    states = {item["id"]: item.get("state") for item in service_activation.items(service_order)}
    return [
        str(item["id"])
        for item in fulfilment.order_items(order)
        if record.get("items", {}).get(item["id"])
        and all(states.get(i) == "completed" for i in record["items"][item["id"]])
    ]


async def _tasks(tx: Transaction, order_id: str) -> list[Document]:
    page = await tx.query(
        "cancelProductOrder",
        Query(
            conditions=(
                Condition(("productOrder", "id"), Op.EQ, ValueType.STRING, (order_id,)),
                Condition(("state",), Op.EQ, ValueType.STRING, ("inProgress",)),
            )
        ),
    )
    return [codec.loads(raw) for raw in page.items]


async def accept(job: Job) -> None:
    """Work on an accepted ``cancelServiceOrder``: take its order to pendingCancellation, or refuse."""
    async with job.gateway.transaction() as tx:
        raw_task = await tx.get("cancelServiceOrder", job.event.resource_id, for_update=True)
        if raw_task is None or codec.loads(raw_task).get("state") != "accepted":
            return  # already worked on (the event came twice)
        task = codec.loads(raw_task)
        order_id = str(task["serviceOrder"]["id"])
        raw_order = await tx.get("serviceOrder", order_id, for_update=True)
        order = codec.loads(raw_order) if raw_order is not None else None
        why = None if order is None else await refusal_of_service_cancellation(tx, order)
        if order is None or order.get("state") not in CANCELLABLE or why is not None:
            why = why or f"the order is {'deleted' if order is None else order.get('state')}"
            refused = {**task, "state": "terminatedWithError"}
            await operations.write_changed(tx, job, "cancelServiceOrder", task, refused)
            if order is not None:
                await operations.write_changed(
                    tx,
                    job,
                    "serviceOrder",
                    order,
                    {
                        **order,
                        "note": [
                            *order.get("note", []),
                            service_activation.note(f"Cancellation {task['id']} refused: {why}."),
                        ],
                    },
                )
            return
        await operations.write_changed(tx, job, "cancelServiceOrder", task, {**task, "state": "inProgress"})
        for state in ("assessingCancellation", "pendingCancellation"):
            new = copy.deepcopy(order)
            new["state"] = state
            for item in items(new):
                if item.get("state") not in ("completed", "failed", "cancelled"):
                    item["state"] = state
            await operations.write_changed(tx, job, "serviceOrder", order, new)
            order = new
