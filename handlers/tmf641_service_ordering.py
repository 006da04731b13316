"""TMF641 Service Ordering: service orders, their lifecycle, and the cancellation task.

A service order is acknowledged when created (by a client, or by the decomposition of a product
order) and then carried out by the gateway (:mod:`handlers.service_activation`), outside the
request. A client may move it by PATCH only along the order lifecycle. ``cancelServiceOrder`` is
accepted, then worked on: the order goes through assessingCancellation and pendingCancellation,
its activations are undone, and the task ends done, or terminatedWithError when the order has
already ended or fulfils a product order (cancelled through TMF622 only: :mod:`handlers.cancellation`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from handlers import cancellation, fulfilment, service_activation
from handlers.order_states import CANCELLABLE, SERVICE_ORDER, SERVICE_ORDER_ITEM
from handlers.service_activation import items
from tmfgate import codec, operations, times
from tmfgate.dispatch import Call, Reply
from tmfgate.errors import BadRequest
from tmfgate.reactions import Job, Reaction

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

Document = dict[str, Any]


async def createServiceOrder(call: Call) -> Reply:
    return await operations.create(call, prepare=_new_order)


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


async def createCancelServiceOrder(call: Call) -> Reply:
    """Accept a cancellation; the gateway works on it right after (see :func:`_on_cancel`)."""
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
    return Reply(201, raw_task, [(b"location", task["href"].encode())])


async def _on_cancel(job: Job) -> None:
    """Work on an accepted cancellation: take the order to pendingCancellation, or refuse."""
    async with job.gateway.transaction() as tx:
        raw_task = await tx.get("cancelServiceOrder", job.event.resource_id, for_update=True)
        if raw_task is None or codec.loads(raw_task).get("state") != "accepted":
            return  # already worked on (the event came twice)
        task = codec.loads(raw_task)
        order_id = str(task["serviceOrder"]["id"])
        raw_order = await tx.get("serviceOrder", order_id, for_update=True)
        order = codec.loads(raw_order) if raw_order is not None else None
        why = None if order is None else await cancellation.refusal_of_service_cancellation(tx, order)
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


async def _on_order(job: Job) -> None:
    """A service order changed: bring its product order up to date, then take the next step."""
    await fulfilment.follow_service_order(job, job.event.resource_id)
    await cancellation.follow(job, job.event.resource_id)
    await service_activation.advance(job, job.event.resource_id)


async def _on_cancel_outcome(job: Job) -> None:
    await cancellation.follow_refusal(job, job.document)


def reactions(gateway: Gateway) -> Mapping[str, Reaction]:
    """What the gateway does on its own when service orders change (setting ``fulfilment``)."""
    if not gateway.settings.fulfilment:
        return {}
    return {
        "ServiceOrderCreateEvent": _on_order,
        "ServiceOrderStateChangeEvent": _on_order,
        "ServiceOrderAttributeValueChangeEvent": _on_order,
        "CancelServiceOrderCreateEvent": _on_cancel,
        "CancelServiceOrderStateChangeEvent": _on_cancel_outcome,
    }
