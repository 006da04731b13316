"""TMF641 Service Ordering: service orders along the order lifecycle, and the cancellation task.

A service order is acknowledged when created (by a client, or by the decomposition of a product
order) and then carried out by the gateway (:mod:`handlers.fulfilment.service_orders`), outside the
request. A client may move it by PATCH only along the order lifecycle (:mod:`handlers.ordering.lifecycle`),
and not at all when it fulfils a product order: then the gateway sets its states.
``cancelServiceOrder`` is accepted, then worked on: the order goes through assessingCancellation and
pendingCancellation, its activations are undone, and the task ends done, or terminatedWithError when
the order has already ended or fulfils a product order (cancelled through TMF622 only:
:mod:`handlers.ordering.cancellation`).
"""

from __future__ import annotations

from handlers import apis
from handlers.fulfilment.product_orders import fulfilled_order
from handlers.fulfilment.settings import FULFILMENT
from handlers.ordering.lifecycle import SERVICE_ORDERS
from handlers.ordering.limits import MAX_ORDER_ITEMS
from tmfgate import documents, operations
from tmfgate.calls import Call, Reply
from tmfgate.errors import BadRequest, Conflict
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
    """A PATCH along the order lifecycle; the states of a service order that fulfils a product order
    are the gateway's: a client's change of them would undo or claim what the product order has not."""
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        new = operations.patched(call, old)
        changed = SERVICE_ORDERS.state_changes(old, new)
        if call.gateway.settings.get(FULFILMENT) and changed:
            found = await fulfilled_order(tx, str(old["id"]), lock=False)
            if found is not None:
                raise Conflict(
                    f"Service order {old['id']} fulfils product order {found[2]['id']}, and the gateway sets its "
                    f"states and its items' ({', '.join(changed)} cannot be changed by PATCH); cancel the "
                    "product order with POST /cancelProductOrder."
                )
        SERVICE_ORDERS.check_patch(old, new)
        raw = await operations.write_changed(tx, call, call.resource.kind, old, new)
    return Reply(200, raw)


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
