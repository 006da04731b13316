"""Southbound fulfilment parked: the items of an order whose service order the OSS could not take
within ``--delivery-attempts`` say so, and say so no more once a redelivery has sent it.

A cancellation of an order whose service order waits to be sent asks the OSS first: a create whose
answer was lost may be stored there, and would be carried out (:func:`stored_at_oss`). A create the
OSS stores only after that look (held up on the way) is a stray: when it shows up through the OSS's
events (or polling), it is cancelled there (:func:`cancel_stray`), as is any second service order of
an order whose record names another.

The outbox parks the waiting reaction for an operator (``GET /tmfgate/admin/v1/delivery?state=parked``);
on its last attempt the reaction marks each item that waits on the OSS ``held``, with a note naming
the item, a stable code and the OSS's error, so that a partner reading its order sees why it stopped.
When the operator sends the delivery again and the OSS takes the service order, the items go back
``inProgress`` with a note.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from backends.base import Refused, StorageUnavailable, Transaction, where
from handlers import apis
from handlers.fulfilment.product_orders import FULFILMENTS
from handlers.notes import failure
from handlers.ordering.lifecycle import PRODUCT_ORDERS
from handlers.ordering.states import CANCELLING, FINAL
from tmfgate import documents, operations, times
from tmfgate.calls import Actor, Job
from tmfgate.ids import new_id
from tmfgate.types import Document

CODE = "SOUTHBOUND_PARKED"


async def park(job: Job, order_id: str, outage: StorageUnavailable) -> None:
    """Mark the order's waiting items parked with the OSS's error (the last attempt before parking)."""
    async with job.gateway.transaction() as tx:
        record = await documents.locked(tx, FULFILMENTS, order_id)
        old = await documents.locked(tx, "productOrder", order_id)
        if record is None or old is None or old.get("state") != "inProgress" or "pending" not in record:
            return
        new = copy.deepcopy(old)
        waiting = _waiting(new, record["items"], "inProgress")
        for item in waiting:
            item["state"] = "held"
        text = (
            "Item {} is parked: the OSS did not take its service order after every attempt ({}); "
            "an operator sends it again with PATCH /tmfgate/admin/v1/delivery/{{id}} once the OSS is back."
        )
        parked = [_parked(str(item["id"]), text.format(item["id"], outage)) for item in waiting]
        new["note"] = [*new.get("note", []), *parked]
        if waiting:
            await operations.write_changed(tx, job, "productOrder", old, new)


def resume(order: Document, planned: Iterable[str]) -> None:
    """Items parked while the OSS was down go on: their service order is sent."""
    for item in _waiting(order, planned, "held"):
        item["state"] = "inProgress"
        PRODUCT_ORDERS.note(order, f"Item {item['id']} is no longer parked: its service order reached the OSS.")


async def waiting_record(tx: Transaction, order_id: str) -> Document | None:
    """The fulfilment record of an order whose service order waits to be sent to the OSS, locked; None for
    any other order. Locked before the order, as the reaction sending it does, so that the two take turns."""
    if "pending" not in (await documents.get(tx, FULFILMENTS, order_id) or {}):
        return None
    record = await documents.locked(tx, FULFILMENTS, order_id)
    return record if record is not None and "pending" in record else None


async def stored_at_oss(tx: Transaction, order: Document) -> Document | None:
    """The service order the OSS holds for ``order`` (by its ``externalId``) though its create's answer was
    lost; None when it holds none. While the OSS cannot say, the cancellation is refused with a 503 and
    ``Retry-After``, nothing stored: cancelled here, the order could still be carried out there."""
    try:
        found = await documents.find(tx, "serviceOrder", where("externalId", eq=str(order["id"])), limit=1)
    except StorageUnavailable as outage:
        raise StorageUnavailable(
            f"Product order {order['id']} cannot be cancelled while the OSS is unreachable: its service "
            f"order waits to be sent there, and the OSS may hold it from an attempt whose answer was lost "
            f"(it would carry it out). Try again once the OSS answers ({outage}).",
            told=True,
            retry_after=outage.retry_after or 5.0,
        ) from outage
    return found[0] if found else None


async def adopt(tx: Transaction, actor: Actor, order: Document, record: Document, service_order: Document) -> Document:
    """Record the service order the OSS holds for ``order`` as sent (nothing waits any more); returns the
    order as stored, noting it and with its parked items going on."""
    record.pop("pending", None)
    record["serviceOrder"] = service_order["id"]
    await documents.replace(tx, FULFILMENTS, record)
    new = copy.deepcopy(order)
    PRODUCT_ORDERS.note(new, f"Fulfilled by service order {service_order['id']} ({service_order.get('href', '')}).")
    resume(new, record["items"])
    await operations.write_changed(tx, actor, "productOrder", order, new)
    return new


async def cancel_stray(job: Job, service_order_id: str) -> None:
    """Cancel at the OSS a service order it holds for one of our orders that does not want it: the
    order ended (cancelled while the create was held up on its way) or its record names another.
    One that shows up while the order still waits to be sent is left alone: the send takes it up."""
    seen = job.document
    external = str(seen.get("externalId") or "")
    if not external or seen.get("state") in FINAL or seen.get("state") in CANCELLING:
        return
    async with job.gateway.transaction() as tx:
        record = await documents.locked(tx, FULFILMENTS, external)
        if record is None or service_order_id in (record.get("serviceOrder"), *record.get("strays", [])):
            return
        order = await documents.locked(tx, "productOrder", external)
        if order is None or (record.get("serviceOrder") is None and order.get("state") not in FINAL):
            return
        text = f"Service order {service_order_id}, stored at the OSS for this order too late,"
        try:
            await operations.write_new(tx, job, "cancelServiceOrder", _cancellation(job, service_order_id, order))
            text += " is cancelled there."
        except Refused as refusal:
            text += f" could not be cancelled there: {refusal}"
        record["strays"] = [*record.get("strays", []), service_order_id]
        await documents.replace(tx, FULFILMENTS, record)
        new = copy.deepcopy(order)
        PRODUCT_ORDERS.note(new, text)
        await operations.write_changed(tx, job, "productOrder", order, new)


def _cancellation(actor: Actor, service_order_id: str, order: Document) -> Document:
    id = new_id()
    return {
        "id": id,
        "href": actor.gateway.href(apis.SERVICE_ORDERING, "cancelServiceOrder", id),
        "@type": "CancelServiceOrder",
        "serviceOrder": {"id": service_order_id, "@referredType": "ServiceOrder"},
        "requestedCancellationDate": times.now(),
        "cancellationReason": f"Product order {order['id']} does not want it (it is {order.get('state')}).",
        "state": "accepted",
    }


def _waiting(order: Document, planned: Iterable[str], state: str) -> list[Document]:
    ids = set(planned)
    return [item for item in PRODUCT_ORDERS.items(order) if item["id"] in ids and item.get("state") == state]


def _parked(item_id: str, text: str) -> Document:
    """A failure note's shape (item id, stable code), typed as a parking: the item has not failed."""
    found = failure(item_id, CODE, text, identified=PRODUCT_ORDERS.identified_notes)
    found["@type"] = "OrderItemParkedNote"
    return found


__all__ = ["CODE", "adopt", "cancel_stray", "park", "resume", "stored_at_oss", "waiting_record"]
