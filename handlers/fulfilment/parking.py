"""Southbound fulfilment parked: the items of an order whose service order the OSS could not take
within ``--delivery-attempts`` say so, and say so no more once a redelivery has sent it.

The outbox parks the waiting reaction for an operator (``GET /tmfgate/admin/v1/delivery?state=parked``);
on its last attempt the reaction marks each item that waits on the OSS ``held``, with a note naming
the item, a stable code and the OSS's error, so that a partner reading its order sees why it stopped.
When the operator sends the delivery again and the OSS takes the service order, the items go back
``inProgress`` with a note.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from backends.base import StorageUnavailable
from handlers.fulfilment.product_orders import FULFILMENTS
from handlers.notes import failure
from handlers.ordering.lifecycle import PRODUCT_ORDERS
from tmfgate import documents, operations
from tmfgate.calls import Job
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


def _waiting(order: Document, planned: Iterable[str], state: str) -> list[Document]:
    ids = set(planned)
    return [item for item in PRODUCT_ORDERS.items(order) if item["id"] in ids and item.get("state") == state]


def _parked(item_id: str, text: str) -> Document:
    """A failure note's shape (item id, stable code), typed as a parking: the item has not failed."""
    found = failure(item_id, CODE, text, identified=PRODUCT_ORDERS.identified_notes)
    found["@type"] = "OrderItemParkedNote"
    return found


__all__ = ["CODE", "park", "resume"]
