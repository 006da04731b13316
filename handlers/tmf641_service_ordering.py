"""TMF641 Service Ordering: service orders along the order lifecycle, and the cancellation task.

A service order is acknowledged when created (by a client, or by the decomposition of a product
order) and then carried out by the gateway (:mod:`handlers.fulfilment.service_orders`), outside the
request. A client may move it by PATCH only along the order lifecycle (:mod:`handlers.ordering.lifecycle`).
``cancelServiceOrder`` is accepted, then worked on: the order goes through assessingCancellation and
pendingCancellation, its activations are undone, and the task ends done, or terminatedWithError when
the order has already ended or fulfils a product order (cancelled through TMF622 only:
:mod:`handlers.ordering.cancellation`).
"""

from __future__ import annotations

from handlers import apis
from handlers.ordering.lifecycle import SERVICE_ORDERS
from handlers.ordering.limits import MAX_ORDER_ITEMS
from tmfgate import documents, operations
from tmfgate.calls import Call, Reply
from tmfgate.errors import BadRequest
from tmfgate.extensions import Handlers
from tmfgate.security.tenancy import visible
from tmfgate.types import Document

handlers = Handlers(apis.SERVICE_ORDERING, api=apis.SERVICE_ORDERING)  # MAX_ORDER_ITEMS: TMF622 declares it


@handlers.operation
async def createServiceOrder(call: Call) -> Reply:
    return await operations.create(
        call,
        prepare=lambda call, order: SERVICE_ORDERS.check_new(
            order, max_items=call.gateway.settings.get(MAX_ORDER_ITEMS)
        ),
    )


@handlers.operation
async def patchServiceOrder(call: Call) -> Reply:
    return await operations.patch(call, check=lambda call, old, new: SERVICE_ORDERS.check_patch(old, new))


@handlers.operation
async def createCancelServiceOrder(call: Call) -> Reply:
    """Accept a cancellation; the gateway works on it right after
    (:func:`handlers.ordering.cancellation.accept`)."""
    task: Document = operations.new_document(call, call.body)
    order_id = str(task["serviceOrder"]["id"])
    async with call.gateway.transaction() as tx:
        order = await documents.get(tx, "serviceOrder", order_id, owners=visible(call, "serviceOrder"))
        if order is None:
            raise BadRequest(f"serviceOrder.id {order_id} refers to no service order.")
        task["serviceOrder"].setdefault("href", order.get("href"))
        task["serviceOrder"].setdefault("@referredType", "ServiceOrder")
        task["state"] = "accepted"
        raw_task = await operations.write_new(tx, call, call.resource.kind, task)
    return Reply.created(raw_task, task["href"])
