"""Product order cancellation, atomic with fulfilment: an order ends cancelled with nothing kept, or not at all.

The rule, whatever the interleaving of requests and reactions (each a transaction that holds the
product order's lock, so on PostgreSQL they take turns and on SQLite there is one writer anyway):

- an item completes (its product is recorded) only while the order is not being cancelled
  (:func:`handlers.fulfilment.product_orders.follow_service_order` leaves an order in
  assessingCancellation or pendingCancellation alone);
- a cancellation is accepted only while no item has completed; once one has, the task ends
  ``terminatedWithError`` naming the item, and the order goes on to its true end;
- the service order's cancellation undoes every activation; then every item and the order end
  ``cancelled`` and the task ``done``. When the service order ended before its cancellation could
  be accepted, the task ends ``terminatedWithError`` naming the items that completed, and the order
  goes back to inProgress to follow it to completed, failed or partial.

Southbound, an order whose service order waits for the OSS is looked up there first
(:func:`handlers.fulfilment.parking.stored_at_oss`): one the OSS stored though the answer was lost is
taken up and cancelled there; while the OSS cannot say, the cancellation is a 503, nothing stored.

A service order that fulfils a product order is cancelled through that product order only: a
``cancelServiceOrder`` of it otherwise would undo services whose product stays installed and billed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from backends.base import Transaction
from handlers import apis
from handlers.fulfilment import parking
from handlers.fulfilment.product_orders import FULFILMENTS, follow_service_order, fulfilled_order
from handlers.ordering.lifecycle import PRODUCT_ORDERS, SERVICE_ORDERS
from handlers.ordering.states import CANCELLABLE, CANCELLING, FINAL
from tmfgate import documents, operations, times
from tmfgate.calls import Actor, Call, Job
from tmfgate.errors import BadRequest
from tmfgate.ids import new_id
from tmfgate.security.tenancy import visible
from tmfgate.types import Document

# The service order states in which its cancellation has been accepted.
FOLLOWED = frozenset({"pendingCancellation", "cancelled"})


@dataclass(frozen=True)
class Propagation:
    """What became of passing a product order's cancellation on to its service order."""

    passed_on: bool  # a cancelServiceOrder carries it now; the product order waits for it
    refusal: str | None = None  # why the order can no longer be cancelled


DIRECT = Propagation(passed_on=False)  # no service order runs for it: the order is cancelled itself


async def cancel_product_order(tx: Transaction, call: Call, task: Document) -> bytes:
    """Store a cancelProductOrder task and carry it out (TMF622); returns the task as it ends.

    The order is cancelled at once when no service order runs for it, passed on to its service order
    (the task stays inProgress) when one does, or refused (``terminatedWithError``) when too late."""
    order_id = str(task["productOrder"]["id"])
    waiting = await parking.waiting_record(tx, order_id)  # southbound, its service order not sent yet
    order = await documents.locked(tx, "productOrder", order_id, owners=visible(call, "productOrder"))
    if order is None:
        raise BadRequest(f"productOrder.id {order_id} refers to no product order.")
    task["productOrder"].setdefault("href", order.get("href"))
    task["productOrder"].setdefault("@referredType", "ProductOrder")
    kind = call.resource.kind
    await operations.write_new(tx, call, kind, task)
    refusal = why_not_cancellable(order)
    if refusal is None and waiting is not None:
        order, refusal = await _ask_oss(tx, call, order, waiting)
    propagation = DIRECT if refusal else await propagate(tx, call, order, task.get("cancellationReason"))
    refusal = refusal or propagation.refusal
    if refusal is not None:
        final = {**task, "state": "terminatedWithError", "errorMessage": refusal}
    elif propagation.passed_on:
        final = {**task, "state": "inProgress"}
        await operations.write_changed(tx, call, "productOrder", order, {**order, "state": "assessingCancellation"})
    else:
        working = {**task, "state": "inProgress"}
        await operations.write_changed(tx, call, kind, task, working)
        await PRODUCT_ORDERS.walk_cancellation(tx, call, order, reason=task.get("cancellationReason"))
        task = working
        final = {**task, "state": "done", "effectiveCancellationDate": times.now()}
    return await operations.write_changed(tx, call, kind, task, final)


async def _ask_oss(tx: Transaction, call: Call, order: Document, record: Document) -> tuple[Document, str | None]:
    """An order whose service order waits for the OSS: one the OSS stored though the answer was lost is
    taken up (and cancelled there next), or, when it has ended, the cancellation is refused; with
    none there (or one cancelled there), the order is cancelled here. Refused (503) while the OSS cannot say."""
    found = await parking.stored_at_oss(tx, order)
    if found is None or found.get("state") == "cancelled":  # nothing will be carried out there
        return order, None
    if found.get("state") in FINAL:  # taken up by the reaction sending it, which follows it to its end
        return order, _too_late(order, found, record)
    return await parking.adopt(tx, call, order, record, found), None


def why_not_cancellable(order: Document) -> str | None:
    """Why a product order's state rules its cancellation out, naming the items that completed; None when it may."""
    state = order.get("state")
    if state in CANCELLABLE:
        return None
    if state in CANCELLING:
        return f"Product order {order['id']} is already being cancelled ({state})."
    done = [str(item["id"]) for item in PRODUCT_ORDERS.items(order) if item.get("state") == "completed"]
    which = (
        ""
        if not done
        else f" (item {done[0]} completed)"
        if len(done) == 1
        else f" (items {', '.join(done)} completed)"
    )
    return f"Product order {order['id']} is {state} and can no longer be cancelled{which}."


async def propagate(tx: Transaction, actor: Actor, order: Document, reason: str | None) -> Propagation:
    """Ask the service order of ``order`` (locked by the caller) to cancel, when one runs for it."""
    record = await documents.get(tx, FULFILMENTS, order["id"])
    if record is None or not record.get("serviceOrder"):
        return DIRECT
    done = completed_items(order, record)
    if done:
        return Propagation(
            False, f"Product order {order['id']} can no longer be cancelled: {_completed(done, record)}."
        )
    service_order = await documents.get(tx, "serviceOrder", record["serviceOrder"])
    if service_order is None:
        return DIRECT
    if service_order.get("state") in FINAL:
        return Propagation(False, _too_late(order, service_order, record))
    id = new_id()
    task: Document = {
        "id": id,
        "href": actor.gateway.href(apis.SERVICE_ORDERING, "cancelServiceOrder", id),
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
    return Propagation(passed_on=True)


def completed_items(order: Document, record: Document) -> list[str]:
    """The ids of the order's items that completed with work in the network (a noChange item has none)."""
    planned = record.get("items", {})
    return [
        str(item["id"])
        for item in PRODUCT_ORDERS.items(order)
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
    found = await fulfilled_order(tx, str(service_order["id"]), lock=False)
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
        found = await fulfilled_order(tx, service_order_id)
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
    PRODUCT_ORDERS.cancel(new)
    await PRODUCT_ORDERS.close_cancel_tasks(tx, job, new)
    await operations.write_changed(tx, job, "productOrder", order, new)


async def follow_refusal(job: Job, task: Document) -> None:
    """A cancelServiceOrder ended in error: the product order's cancellation is refused too, naming
    the items that completed, and the order follows its service order again."""
    if task.get("state") != "terminatedWithError":
        return
    service_order_id = str((task.get("serviceOrder") or {}).get("id", ""))
    async with job.gateway.transaction() as tx:
        found = await fulfilled_order(tx, service_order_id)
        if found is None or found[2].get("state") not in CANCELLING:
            return
        service_order, record, old = found
        why = _too_late(old, service_order, record)
        for product_task in await PRODUCT_ORDERS.cancel_tasks(tx, old["id"]):
            await operations.write_changed(
                tx,
                job,
                "cancelProductOrder",
                product_task,
                {**product_task, "state": "terminatedWithError", "errorMessage": why},
            )
        await operations.write_changed(tx, job, "productOrder", old, {**old, "state": "inProgress"})
    await follow_service_order(job, service_order_id)


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
    states = {item["id"]: item.get("state") for item in SERVICE_ORDERS.items(service_order)}
    return [
        str(item["id"])
        for item in PRODUCT_ORDERS.items(order)
        if record.get("items", {}).get(item["id"])
        and all(states.get(i) == "completed" for i in record["items"][item["id"]])
    ]


async def accept(job: Job) -> None:
    """Work on an accepted ``cancelServiceOrder``: take its order to pendingCancellation, or refuse."""
    async with job.gateway.transaction() as tx:
        task = await documents.locked(tx, "cancelServiceOrder", job.event.resource_id)
        if task is None or task.get("state") != "accepted":
            return  # already worked on (the event came twice)
        order = await documents.locked(tx, "serviceOrder", str(task["serviceOrder"]["id"]))
        why = None if order is None else await refusal_of_service_cancellation(tx, order)
        if order is None or order.get("state") not in CANCELLABLE or why is not None:
            why = why or f"the order is {'deleted' if order is None else order.get('state')}"
            refused = {**task, "state": "terminatedWithError"}
            await operations.write_changed(tx, job, "cancelServiceOrder", task, refused)
            if order is not None:
                noted = dict(order)
                SERVICE_ORDERS.note(noted, f"Cancellation {task['id']} refused: {why}.")
                await operations.write_changed(tx, job, "serviceOrder", order, noted)
            return
        await operations.write_changed(tx, job, "cancelServiceOrder", task, {**task, "state": "inProgress"})
        await SERVICE_ORDERS.walk_cancellation(tx, job, order, until="pendingCancellation")
