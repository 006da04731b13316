"""The product inventory shows a product's open tickets: a ``productCharacteristic`` kept by the gateway.

TMF637 v4 has no ``relatedEntity`` on a product, so a product that an open ticket (acknowledged,
inProgress, pending or held) relates carries the characteristic ``openTroubleTicket`` whose value
lists those tickets as references (``id``, ``href``); it goes when the last of them is resolved,
ends or is deleted. A client finds the products in trouble with
``?productCharacteristic.name=openTroubleTicket``. The product is updated in the transaction of the
ticket's change (its subscribers hear a ``ProductAttributeValueChangeEvent``), only when the set of
its open tickets changes: a ticket moving from acknowledged to inProgress leaves it alone.
"""

from __future__ import annotations

import copy

from backends.base import Transaction, where
from handlers.tickets.lifecycle import OPEN, TICKETS
from tmfgate import documents, operations
from tmfgate.calls import Actor
from tmfgate.types import Document

PRODUCTS = "product"
CHARACTERISTIC = "openTroubleTicket"


async def show(tx: Transaction, actor: Actor, old: Document | None, new: Document | None) -> None:
    """After a ticket's change is written: the products it relates, before or after, show their open tickets."""
    ids = sorted({str(e["id"]) for doc in (old, new) if doc for e in doc.get("relatedEntity", []) if _product(e)})
    for id in ids:  # in id order, so two tickets on the same products cannot deadlock
        product = await documents.locked(tx, PRODUCTS, id)
        if product is None:
            continue
        tickets = await documents.find(
            tx, TICKETS, where("relatedEntity.id", eq=id), where("status", eq=sorted(OPEN)), sort="id"
        )
        refs = [{"id": t["id"], "href": t.get("href", "")} for t in tickets if _relates(t, id)]
        kept = [c for c in product.get("productCharacteristic", []) if c.get("name") != CHARACTERISTIC]
        shown = [*kept, {"name": CHARACTERISTIC, "valueType": "array", "value": refs}] if refs else kept
        if shown != product.get("productCharacteristic", []):
            changed = copy.deepcopy(product)
            changed["productCharacteristic"] = shown
            await operations.write_changed(tx, actor, PRODUCTS, product, changed)


def _product(entity: Document) -> bool:
    return entity.get("@referredType") == "Product" and bool(entity.get("id"))


def _relates(ticket: Document, product_id: str) -> bool:
    return any(_product(e) and str(e["id"]) == product_id for e in ticket.get("relatedEntity", []))
