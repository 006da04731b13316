"""Product orders following the service order that fulfils them, item by item, to their end.

A product order item completes when all its service order items have (the product is recorded with
its realizing services and resources, and the item's ``product`` says so), fails when one of them
failed (what the others activated is undone, so nothing stays half-allocated), and the order rolls
up to completed, failed or partial. Cancellation is :mod:`handlers.ordering.cancellation`'s: while
one is under way no item completes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping

from backends.base import Transaction
from handlers.catalog import snapshots
from handlers.fulfilment import products, service_orders
from handlers.ordering import states
from handlers.ordering.lifecycle import PRODUCT_ORDERS, SERVICE_ORDERS
from handlers.ordering.states import CANCELLING, FINAL
from tmfgate import documents, operations
from tmfgate.calls import Actor, Job
from tmfgate.ids import new_id
from tmfgate.types import Document

# One record per decomposed product order: its service order, the service order items of each of
# its items (one list per product an item installs) and, once items complete, their products.
FULFILMENTS = "tmfgate:fulfilment"


async def follow_service_order(job: Job, service_order_id: str) -> None:
    """Bring the product order fulfilled by a service order up to date with it; one being cancelled
    is left to :mod:`handlers.ordering.cancellation`, so none of its items completes meanwhile."""
    await snapshots.refresh(job.gateway)  # the products it installs take the catalog's current prices
    async with job.gateway.transaction() as tx:
        found = await fulfilled_order(tx, service_order_id)
        if found is None:
            return
        service_order, record, old = found
        if old.get("state") in CANCELLING:
            return  # no item completes once a cancellation is accepted: it ends cancelled, or is refused
        new = copy.deepcopy(old)
        rolled_back: list[str] = []
        changed = await _follow_items(tx, job, new, service_order, record, rolled_back)
        if await _follow_bundles(tx, job, new, service_order, record, rolled_back) or changed:
            await documents.replace(tx, FULFILMENTS, record)
        if service_order.get("state") in FINAL:
            ended = "cancelled" if service_order.get("state") == "cancelled" else "completed"
            end_unplanned(new, record["items"], record.get("bundles", {}), ended)
        if new != old:
            await operations.write_changed(tx, job, "productOrder", old, new)
        if rolled_back:
            await _show_rollback(tx, job, str(service_order["id"]), rolled_back)
        if new.get("state") == "inProgress" and service_order.get("state") in FINAL:
            await roll_up(tx, job, new)  # the product order ends after its service order


def end_unplanned(order: Document, planned: Iterable[str], bundles: Mapping[str, list[str]], state: str) -> None:
    """End ``state`` each open item that has nothing to do in the network (a ``noChange`` item, or a
    change of a product without services): it stays inProgress while its order's service order runs,
    then completes with the order, or is cancelled with it (nothing of it is installed or billed anew)."""
    skip = {*planned, *bundles, *(part for parts in bundles.values() for part in parts)}
    for item in PRODUCT_ORDERS.items(order):
        if item["id"] not in skip and item.get("state") not in FINAL:
            item["state"] = state


async def fulfilled_order(
    tx: Transaction, service_order_id: str, *, lock: bool = True
) -> tuple[Document, Document, Document] | None:
    """(service order, fulfilment record, product order) when the service order fulfils a product
    order (locked when ``lock``); None for a service order of a client's own."""
    service_order = await documents.get(tx, "serviceOrder", service_order_id)
    if service_order is None:
        return None
    record = await documents.get(tx, FULFILMENTS, str(service_order.get("externalId", "")))
    if record is None or record.get("serviceOrder") != service_order_id:
        return None
    read = documents.locked if lock else documents.get
    order = await read(tx, "productOrder", record["id"])
    return None if order is None else (service_order, record, order)


async def _follow_items(
    tx: Transaction, job: Job, order: Document, service_order: Document, record: Document, rolled_back: list[str]
) -> bool:
    """Bring the order's items up to date with the service order; True when ``record`` changed
    (it notes the products each completed item installed or changed, for rating). The service
    order items undone because their product order item failed are added to ``rolled_back``."""
    states = {item["id"]: item.get("state") for item in SERVICE_ORDERS.items(service_order)}
    cancelled = service_order.get("state") == "cancelled"
    noted = False
    parts = {part for found in record.get("bundles", {}).values() for part in found}
    for item in PRODUCT_ORDERS.items(order):
        mapped = record["items"].get(item["id"])
        if not mapped or item.get("state") in FINAL or item["id"] in parts:
            continue  # a bundle's parts end with it (_follow_bundles)
        mine = [states.get(i) for i in mapped]
        if cancelled:
            item["state"] = "cancelled"
        elif all(state == "completed" for state in mine):
            item["state"] = "completed"
            installed = await products.record(
                tx, job, order, item, service_order, record.get("copies", {}).get(item["id"]) or [mapped]
            )
            record.setdefault("products", {})[item["id"]] = installed
            noted = True
            if len(installed) > 1:
                text = f"Item {item['id']} installed {len(installed)} products: " + ", ".join(installed) + "."
                PRODUCT_ORDERS.note(order, text)
        elif all(state in FINAL for state in mine):
            item["state"] = "failed"
            why = f"Rolled back: item {item['id']} of product order {order['id']} failed."
            for service_item in mapped:
                if await service_orders.undo(tx, job, service_order["id"], service_item, why):
                    rolled_back.append(service_item)
            _note_failures(order, item, service_order, mapped)
    return noted


async def _follow_bundles(
    tx: Transaction, job: Job, order: Document, service_order: Document, record: Document, rolled_back: list[str]
) -> bool:
    """A bundle item ends with its parts, all or nothing: completed when every part's services are (each
    part's product recorded, then the bundle's), failed (every part undone) when one failed."""
    states = {item["id"]: item.get("state") for item in SERVICE_ORDERS.items(service_order)}
    by_id = {item["id"]: item for item in PRODUCT_ORDERS.items(order)}
    noted = False
    for bundle_id, parts in record.get("bundles", {}).items():
        bundle = by_id.get(bundle_id)
        if bundle is None or bundle.get("state") in FINAL:
            continue
        mapped = {part: record["items"].get(part, []) for part in parts}
        mine = [states.get(id) for ids in mapped.values() for id in ids]
        if service_order.get("state") == "cancelled":
            for item in (bundle, *(by_id[part] for part in parts)):
                item["state"] = "cancelled"
        elif all(state == "completed" for state in mine):
            ref = products.bundle_ref(job, new_id(), str((bundle.get("productOffering") or {}).get("name", "")))
            installed = []
            for part, ids in mapped.items():
                copies = record.get("copies", {}).get(part) or [ids]
                made = await products.record(tx, job, order, by_id[part], service_order, copies, part_of=ref)
                record.setdefault("products", {})[part] = made
                by_id[part]["state"] = "completed"
                installed += [await documents.get(tx, "product", id) or {} for id in made]
            record.setdefault("products", {})[bundle_id] = [
                await products.record_bundle(tx, job, order, bundle, installed)
            ]
            bundle["state"] = "completed"
            noted = True
        elif all(state in FINAL for state in mine):
            why = f"Rolled back: bundle item {bundle_id} of product order {order['id']} failed."
            for part, ids in mapped.items():
                by_id[part]["state"] = "failed"
                rolled_back += [id for id in ids if await service_orders.undo(tx, job, service_order["id"], id, why)]
            bundle["state"] = "failed"
            _note_failures(order, bundle, service_order, [id for ids in mapped.values() for id in ids])
    return noted


def _note_failures(order: Document, item: Document, service_order: Document, mapped: list[str]) -> None:
    """One failure note on the product order per failure of the item's service order items."""
    failures = [n for n in service_order.get("note", []) if n.get("orderItemId") in mapped]
    where = f"service order {service_order['id']}"
    for found in failures:
        text = f"Item {item['id']} failed; {where}: {found.get('text', '')}"
        PRODUCT_ORDERS.failed(order, str(item["id"]), str(found.get("code")), text)
    if not failures:
        PRODUCT_ORDERS.failed(order, str(item["id"]), "FULFILMENT_FAILED", f"Item {item['id']} failed; see {where}.")


async def _show_rollback(tx: Transaction, actor: Actor, service_order_id: str, rolled_back: list[str]) -> None:
    """The service order items undone read ``cancelled``, like their services, and the order's state
    (when it has ended) rolls up again from its items: it is ``failed`` once nothing it did is kept."""
    old = await documents.locked(tx, "serviceOrder", service_order_id)
    if old is None:
        return
    new = copy.deepcopy(old)
    for item in SERVICE_ORDERS.items(new):
        if item["id"] in rolled_back and item.get("state") == "completed":
            item["state"] = "cancelled"
    if new.get("state") in FINAL and new.get("state") != "cancelled":
        new["state"] = states.roll_up([str(item.get("state")) for item in SERVICE_ORDERS.items(new)])
    SERVICE_ORDERS.note(
        new, f"Items {', '.join(rolled_back)} rolled back (cancelled): their product order item failed."
    )
    await operations.write_changed(tx, actor, "serviceOrder", old, new)


async def roll_up(tx: Transaction, actor: Actor, order: Document) -> None:
    """End an in-progress product order once every item has ended."""
    new = dict(order)
    if PRODUCT_ORDERS.roll_up(new):
        await operations.write_changed(tx, actor, "productOrder", order, new)


async def products_of(tx: Transaction, order: Document) -> set[str]:
    """The ids of the products an order's completed items installed or changed."""
    noted = (await documents.get(tx, FULFILMENTS, str(order["id"])) or {}).get("products", {})
    found: set[str] = set()
    for item in PRODUCT_ORDERS.items(order):
        if item.get("state") == "completed":
            found.update(noted.get(item["id"], []))
            if (item.get("product") or {}).get("id"):
                found.add(str(item["product"]["id"]))
    return found
