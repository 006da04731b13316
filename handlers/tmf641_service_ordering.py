"""TMF641 Service Ordering: service orders, their lifecycle, and the cancellation task.

A service order is acknowledged when created (by a client, or by the decomposition of a product
order) and then carried out by the gateway (:mod:`handlers.service_activation`), outside the
request. A client may move it by PATCH only along the order lifecycle. ``cancelServiceOrder`` is
accepted, then worked on: the order goes through assessingCancellation and pendingCancellation,
its activations are undone, and the task ends done, or terminatedWithError when the order has
already ended or fulfils a product order (cancelled through TMF622 only: :mod:`handlers.cancellation`).
"""

from __future__ import annotations

from typing import Any

from handlers.order_states import SERVICE_ORDER, SERVICE_ORDER_ITEM
from handlers.service_activation import items
from tmfgate import codec, operations, times
from tmfgate.calls import Call, Reply
from tmfgate.errors import BadRequest
from tmfgate.extensions import Handlers

handlers = Handlers("tmf641_service_ordering", api="tmf641_service_ordering")

Document = dict[str, Any]


@handlers.operation
async def createServiceOrder(call: Call) -> Reply:
    return await operations.create(call, prepare=_new_order)


@handlers.operation
async def patchServiceOrder(call: Call) -> Reply:
    return await operations.patch(call, check=_check_change)


def _new_order(call: Call, order: Document) -> None:
    """Server-set state and dates; item ids unique; relationships point inside the order."""
    check_new_order(order)
    order["state"] = "acknowledged"
    order["orderDate"] = times.now()


def check_new_order(order: Document) -> None:
    """Item ids unique, item states absent, dependencies inside the order; sets item states."""
    ids = [item["id"] for item in items(order)]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise BadRequest(f"serviceOrderItem ids must be unique in an order; repeated: {', '.join(repeated)}.")
    for item in items(order):
        if "state" in item:
            raise BadRequest(f"serviceOrderItem {item['id']}: state is set by the server; leave it out.")
        for relation in item.get("serviceOrderItemRelationship", []):
            target = (relation.get("orderItem") or {}).get("itemId")
            if target not in ids:
                raise BadRequest(f"serviceOrderItem {item['id']} relates to item {target}, which is not in this order.")
        item["state"] = "acknowledged"


def _check_change(call: Call, old: Document, new: Document) -> None:
    SERVICE_ORDER.check(old.get("state"), new.get("state"))
    before = {item["id"]: item.get("state") for item in items(old)}
    for item in items(new):
        if item["id"] in before:
            SERVICE_ORDER_ITEM.check(before[item["id"]], item.get("state"), f"item {item['id']}")
        else:
            item.setdefault("state", "acknowledged")
    if new.get("state") != old.get("state"):
        if new.get("state") in ("completed", "failed", "partial"):
            new.setdefault("completionDate", times.now())
        if new.get("state") == "cancelled":
            new.setdefault("cancellationDate", times.now())


@handlers.operation
async def createCancelServiceOrder(call: Call) -> Reply:
    """Accept a cancellation; the gateway works on it right after
    (:func:`handlers.cancellation.accept`)."""
    task = operations.new_document(call, call.body)
    order_id = str(task["serviceOrder"]["id"])
    async with call.gateway.transaction() as tx:
        raw = await tx.get("serviceOrder", order_id)
        if raw is None:
            raise BadRequest(f"serviceOrder.id {order_id} refers to no service order.")
        task["serviceOrder"].setdefault("href", codec.loads(raw).get("href"))
        task["serviceOrder"].setdefault("@referredType", "ServiceOrder")
        task["state"] = "accepted"
        raw_task = await operations.write_new(tx, call, call.resource.kind, task)
    return Reply.created(raw_task, task["href"])
