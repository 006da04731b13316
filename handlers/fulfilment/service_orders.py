"""Service orders carried out: items activated in dependency order, states rolled up, cancellation.

Every event of a service order (created, state changed, item changed) makes the engine take its
next step, each in one transaction that re-reads the order under a lock:

- acknowledged: the order and its items go inProgress;
- inProgress: the next item whose dependencies (``serviceOrderItemRelationship``) completed is
  activated (add: a service created active with resources reserved from the pools; modify: its
  characteristics changed, and its state when the item gives one: inactive to suspend it, active
  to resume it; delete: terminated and its resources released); an item that cannot be
  activated fails with a note saying why and nothing it touched is kept; items relying on a failed
  one fail too; when every item has ended, the order ends completed, failed or partial;
- pendingCancellation: every completed item is undone, the order and the rest of its items end
  cancelled, and the cancelServiceOrder task that asked for it ends done.

What each activation did is kept (``tmfgate:activation``) so it can be undone exactly, and shown
as a TMF640 ``monitor``: the request made of the network, and its response (Completed or InError).
"""

from __future__ import annotations

import asyncio
import copy

from backends.base import Transaction
from handlers import apis
from handlers.catalog import loading as catalogs
from handlers.catalog import snapshots
from handlers.characteristics import merged
from handlers.fulfilment import monitors, resources, services
from handlers.fulfilment.failures import ActivationFailed
from handlers.fulfilment.settings import ACTIVATION_DELAY
from handlers.ordering.lifecycle import SERVICE_ORDERS
from handlers.ordering.states import FINAL
from tmfgate import documents, operations, times
from tmfgate.calls import Job
from tmfgate.ids import new_id
from tmfgate.types import Document

ORDERS = "serviceOrder"
ACTIVATIONS = "tmfgate:activation"
WORKING = frozenset({"acknowledged", "inProgress", "pending", "held"})
MODIFIABLE_STATES = frozenset({"active", "inactive"})  # the states a modify item may set


async def advance(job: Job, order_id: str) -> None:
    """Take the next step of a service order (see the module docstring); nothing when none is due."""
    await snapshots.refresh(job.gateway)  # the service specifications in force
    item_id = await _plan(job, order_id)
    if item_id is None:
        return
    delay = job.gateway.settings.get(ACTIVATION_DELAY)
    if delay:
        await asyncio.sleep(delay)  # the network's time to answer; no lock is held meanwhile
    try:
        async with job.gateway.transaction() as tx:
            old = await documents.locked(tx, ORDERS, order_id)
            if old is None or old.get("state") != "inProgress" or _state_of(old, item_id) not in WORKING:
                return  # cancelled, or done by another dispatcher, while we waited
            new = copy.deepcopy(old)
            item = _item(new, item_id)
            await _activate(tx, job, new, item)
            item["state"] = "completed"
            await operations.write_changed(tx, job, ORDERS, old, new)
            await monitors.record_activation(tx, job, _item(old, item_id), item, None)
    except ActivationFailed as failure:
        async with job.gateway.transaction() as tx:
            old = await documents.locked(tx, ORDERS, order_id)
            if old is None or _state_of(old, item_id) not in WORKING:
                return
            new = copy.deepcopy(old)
            _item(new, item_id)["state"] = "failed"
            SERVICE_ORDERS.failed(new, item_id, failure.code, f"Item {item_id} failed: {failure}")
            await operations.write_changed(tx, job, ORDERS, old, new)
            await monitors.record_activation(tx, job, _item(old, item_id), _item(new, item_id), str(failure))


async def _plan(job: Job, order_id: str) -> str | None:
    """Do the bookkeeping steps; return the id of an item to activate next, if any."""
    async with job.gateway.transaction() as tx:
        old = await documents.locked(tx, ORDERS, order_id)
        if old is None:
            return None
        state = old.get("state")
        new = copy.deepcopy(old)
        if state == "acknowledged":
            new["state"] = "inProgress"
            new.setdefault("startDate", times.now())
            for item in SERVICE_ORDERS.items(new):
                if item.get("state", "acknowledged") == "acknowledged":
                    item["state"] = "inProgress"
        elif state == "pendingCancellation":
            await _cancel(tx, job, new)
        elif state == "inProgress":
            next_item = _next(new)
            if next_item is not None and new == old:
                return next_item
            SERVICE_ORDERS.roll_up(new)
        if new != old:
            await operations.write_changed(tx, job, ORDERS, old, new)
    return None


def _next(order: Document) -> str | None:
    """The next item to activate; fails (in ``order``) the items whose dependencies failed."""
    by_id = {item["id"]: item for item in SERVICE_ORDERS.items(order)}
    for item in by_id.values():
        if item.get("state") not in WORKING:
            continue
        needs = [rel.get("orderItem", {}).get("itemId") for rel in item.get("serviceOrderItemRelationship", [])]
        needs = [need for need in needs if need in by_id and need != item["id"]]
        broken = [need for need in needs if by_id[need].get("state") in FINAL - {"completed"}]
        if broken:
            item["state"] = "failed"
            SERVICE_ORDERS.failed(
                order,
                item["id"],
                "DEPENDENCY_FAILED",
                f"Item {item['id']} failed: it relies on item {broken[0]}, which did not complete.",
            )
            return None
        if all(by_id[need].get("state") == "completed" for need in needs):
            return str(item["id"])
    waiting = [item for item in by_id.values() if item.get("state") in WORKING]
    if waiting:  # every open item waits for another open one: a dependency cycle
        for item in waiting:
            item["state"] = "failed"
            SERVICE_ORDERS.failed(
                order, item["id"], "DEPENDENCY_CYCLE", f"Item {item['id']} failed: its dependencies form a cycle."
            )
    return None


async def _activate(tx: Transaction, job: Job, order: Document, item: Document) -> None:
    """Carry out one item in the inventories; ActivationFailed (and a rollback) when it cannot."""
    action = item.get("action")
    service = item.get("service") or {}
    record: Document = {
        "id": f"{order['id']}:{item['id']}",
        "serviceOrder": order["id"],
        "item": item["id"],
        "action": action,
    }
    if action == "add":
        created = await _add(tx, job, order, item, service)
        record["service"] = created["id"]
        item["service"] = {**service, "id": created["id"], "href": created["href"], "name": created["name"]}
    elif action in ("modify", "delete"):
        old = await documents.locked(tx, "service", str(service.get("id", "")))
        if old is None or old.get("state") == "terminated":
            raise ActivationFailed(
                f"service {service.get('id')} is not an active service of the inventory.", "SERVICE_NOT_ACTIVE"
            )
        record.update(service=old["id"], before=old)
        related = _related_item(order, item)
        if action == "modify":
            changed = dict(old)
            changed["serviceCharacteristic"] = merged(
                old.get("serviceCharacteristic", []), service.get("serviceCharacteristic", [])
            )
            services.check_characteristics(_spec_of(job, old), changed["serviceCharacteristic"])
            changed.update(_state_change(old, service))
            changed["serviceOrderItem"] = [*old.get("serviceOrderItem", []), related]
            await operations.write_changed(tx, job, "service", old, changed)
        else:
            old = {**old, "serviceOrderItem": [*old.get("serviceOrderItem", []), related]}
            await services.terminate(tx, job, old, f"Terminated by service order {order['id']}.")
    elif action != "noChange":
        raise ActivationFailed(f"the action {action!r} is not one of add, modify, delete, noChange.", "ACTION_UNKNOWN")
    await documents.create(tx, ACTIVATIONS, record)


async def _add(tx: Transaction, job: Job, order: Document, item: Document, service: Document) -> Document:
    spec_ref = service.get("serviceSpecification") or {}
    spec = catalogs.of(job.gateway).service_specification(str(spec_ref.get("id")))
    if spec is None:
        raise ActivationFailed(
            f"the service specification {spec_ref.get('id')} is not in the catalog.", "SERVICE_SPECIFICATION_UNKNOWN"
        )
    characteristics = service.get("serviceCharacteristic", [])
    services.check_characteristics(spec, characteristics)
    id = new_id()
    doc: Document = {
        "id": id,
        "href": job.gateway.href(apis.SERVICE_INVENTORY, "service", id),
        "@type": "Service",
        "name": service.get("name") or spec.get("name", "service"),
        "category": service.get("category") or ("RFS" if spec.get("id", "").endswith("access") else "CFS"),
        "serviceSpecification": {
            "id": spec["id"],
            "name": spec.get("name", ""),
            "version": spec.get("version", ""),
            "@referredType": "ServiceSpecification",
        },
        "state": "active",
        "isServiceEnabled": True,
        "hasStarted": True,
        "isStateful": True,
        "startDate": times.now(),
        "serviceDate": times.now(),
        "serviceCharacteristic": characteristics,
        "relatedParty": service.get("relatedParty") or order.get("relatedParty", []),
        "serviceOrderItem": [_related_item(order, item)],
        # The product order item it is for, when a product order made it (set by decomposition).
        "relatedEntity": service.get("relatedEntity", []),
    }
    supporting = _supporting(order, item)
    if supporting:
        doc["supportingService"] = supporting
    reserved = [await resources.reserve(tx, job, ref, doc) for ref in spec.get("resourceSpecification", [])]
    if reserved:
        doc["supportingResource"] = reserved
    created = {k: v for k, v in doc.items() if v not in ([], "")}
    await operations.write_new(tx, job, "service", created)
    return created


def _state_change(old: Document, service: Document) -> Document:
    """What a modify's ``state`` changes: ``inactive`` takes an active service out of use (a
    suspension), ``active`` puts it back; other states belong to add and delete."""
    state = service.get("state", old.get("state"))
    if state == old.get("state"):
        return {}
    if state not in MODIFIABLE_STATES:
        raise ActivationFailed(
            f"a modify may make service {old['id']} active or inactive, not {state} "
            "(an add creates a service and a delete terminates it).",
            "STATE_CHANGE_NOT_ALLOWED",
        )
    return {"state": state, "isServiceEnabled": state == "active"}


def _spec_of(job: Job, service: Document) -> Document | None:
    spec_id = str((service.get("serviceSpecification") or {}).get("id"))
    return catalogs.of(job.gateway).service_specification(spec_id)


def _supporting(order: Document, item: Document) -> list[Document]:
    """The services of the items this one relies on."""
    by_id = {i["id"]: i for i in SERVICE_ORDERS.items(order)}
    refs = []
    for rel in item.get("serviceOrderItemRelationship", []):
        other = by_id.get(rel.get("orderItem", {}).get("itemId"))
        service = (other or {}).get("service") or {}
        if service.get("id"):
            refs.append(
                {
                    "id": service["id"],
                    "href": service.get("href", ""),
                    "name": service.get("name", ""),
                    "@referredType": "Service",
                }
            )
    return refs


def _related_item(order: Document, item: Document) -> Document:
    return {
        "itemId": item["id"],
        "serviceOrderId": order["id"],
        "serviceOrderHref": order.get("href", ""),
        "itemAction": item.get("action", "add"),
        "role": "fulfilledBy",
        "@referredType": "ServiceOrderItem",
    }


async def undo(tx: Transaction, job: Job, order_id: str, item_id: str, why: str) -> bool:
    """Undo what an item's activation did (if it did anything); True when something was undone."""
    record = await documents.locked(tx, ACTIVATIONS, f"{order_id}:{item_id}")
    if record is None:
        return False
    service = await documents.locked(tx, "service", str(record["service"])) if record.get("service") else None
    if service is not None:
        if record["action"] == "add" and service.get("state") != "terminated":
            await services.terminate(tx, job, service, why)
        elif record["action"] == "modify":
            before = record["before"]
            restored = {**service, "serviceCharacteristic": before.get("serviceCharacteristic", [])}
            restored.update({name: before[name] for name in ("state", "isServiceEnabled") if name in before})
            await operations.write_changed(tx, job, "service", service, restored)
        elif record["action"] == "delete" and service.get("state") == "terminated":
            await services.reactivate(tx, job, service, why)
    await tx.delete(ACTIVATIONS, record["id"])
    return True


async def _cancel(tx: Transaction, job: Job, order: Document) -> None:
    """Undo the completed items (last first), end the rest cancelled, and close the cancel tasks."""
    why = f"Rolled back: service order {order['id']} was cancelled."
    for item in reversed(list(SERVICE_ORDERS.items(order))):
        if item.get("state") == "completed":
            await undo(tx, job, order["id"], item["id"], why)
        if item.get("state") != "failed":
            item["state"] = "cancelled"
    SERVICE_ORDERS.cancel(order)
    await SERVICE_ORDERS.close_cancel_tasks(tx, job, order)


def _item(order: Document, item_id: str) -> Document:
    return next(item for item in SERVICE_ORDERS.items(order) if item["id"] == item_id)


def _state_of(order: Document, item_id: str) -> str | None:
    found = next((item for item in SERVICE_ORDERS.items(order) if item["id"] == item_id), None)
    return None if found is None else found.get("state")
