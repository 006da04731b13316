"""Product orders decomposed: each new one becomes one service order that carries its items out.

When a product order is created the gateway (in a reaction, never in the request) resolves each
item through the catalog: offering -> product specification -> service specifications, with the
ones they rely on first. One service order carries every item's services (``externalId`` and
``orderRelationship`` name the product order; a note on the product order names the service
order). An ``add`` item of quantity N plans N copies of its services, one per product it installs.
An item that cannot be decomposed fails at once, with a note saying why. An order whose
``requestedStartDate`` is still to come stays ``acknowledged`` until then (:class:`tmfgate.calls.Later`).
"""

from __future__ import annotations

import copy

from backends.base import Refused, StorageUnavailable, Transaction
from handlers import apis
from handlers.catalog import loading as catalogs
from handlers.catalog import snapshots
from handlers.characteristics import merged
from handlers.fulfilment import parking, products
from handlers.fulfilment.failures import Undecomposable
from handlers.fulfilment.product_orders import FULFILMENTS, end_unplanned, follow_service_order, roll_up
from handlers.notes import failure, note
from handlers.ordering import capture
from handlers.ordering.lifecycle import PRODUCT_ORDERS
from handlers.ordering.limits import MAX_ITEM_QUANTITY
from tmfgate import documents, operations, times
from tmfgate.calls import Job, Later
from tmfgate.ids import new_id
from tmfgate.types import Document

RELIES_ON = frozenset({"reliesOn", "dependency", "dependsOn", "requires"})
# The state of a product's services while it has this status (suspension, and back).
SUSPENSION = {"suspended": "inactive", "active": "active"}


async def decompose(job: Job) -> None:
    """Turn a new product order into one service order (see the module docstring)."""
    order_id = job.event.resource_id
    try:
        if await _send_pending(job, order_id):
            return
    except StorageUnavailable as outage:
        if job.final:  # parked after this attempt: the waiting items say so
            await parking.park(job, order_id, outage)
        raise
    await snapshots.refresh(job.gateway)
    down: StorageUnavailable | None = None
    async with job.gateway.transaction() as tx:
        old = await documents.locked(tx, "productOrder", order_id)
        if old is None or await tx.get(FULFILMENTS, order_id) is not None:
            return
        if old.get("state") != "acknowledged":
            return  # cancelled, or moved by a client, before the gateway got to it
        _hold(old)
        new = copy.deepcopy(old)
        service_order_id = new_id()
        plan: dict[str, list[str]] = {}  # product order item -> its service order items
        copies: dict[str, list[list[str]]] = {}  # the same, one list per product the item installs
        service_items: list[Document] = []
        notes: list[Document] = []
        bundles = capture.bundle_parts(catalogs.of(job.gateway), new)
        for item in PRODUCT_ORDERS.items(new):
            if item["id"] in bundles:
                item["state"] = "inProgress"  # a bundle has no services: it ends with its parts
                continue
            try:
                planned = [copy for copy in await _service_items(tx, job, new, item, service_order_id) if copy]
            except Undecomposable as why:
                item["state"] = "failed"
                notes.append(failure(str(item["id"]), why.code, f"Item {item['id']} failed: {why}"))
                continue
            if planned:
                item["state"] = "inProgress"
                copies[item["id"]] = [[planned_item["id"] for planned_item in copy] for copy in planned]
                plan[item["id"]] = [id for copy in copies[item["id"]] for id in copy]
                service_items += [planned_item for copy in planned for planned_item in copy]
            else:
                item["state"] = "inProgress"  # noChange: nothing to do in the network; it ends with the order
        new["state"] = "inProgress"
        service_items = _fail_broken_bundles(new, bundles, plan, copies, service_items, notes)
        if service_items:
            service_order = _service_order(job, new, service_order_id, service_items)
            try:
                await operations.write_new(tx, job, "serviceOrder", service_order)
            except Refused as refusal:  # southbound: the OSS refused the order, so its items fail
                for item in PRODUCT_ORDERS.items(new):
                    if item["id"] in plan:
                        item["state"] = "failed"
                        notes.append(note(f"Item {item['id']} failed: the OSS refused its service order: {refusal}"))
                service_items, plan, copies = [], {}, {}
            except StorageUnavailable as outage:  # southbound: the OSS is down; sent again until it answers
                down = outage
                notes.append(note(f"Waiting for the OSS, which is unavailable ({outage}); the order goes on then."))
            else:
                service_order_id = service_order["id"]  # another system's, when service orders go southbound
                notes.append(note(f"Fulfilled by service order {service_order_id} ({service_order['href']})."))
        if not service_items:  # nothing to wait for: the items with nothing to do end with the order
            end_unplanned(new, plan, bundles, "completed")
        new["note"] = [*new.get("note", []), *notes]
        await operations.write_changed(tx, job, "productOrder", old, new)
        if not service_items:  # nothing to wait for: every item already ended
            await roll_up(tx, job, new)
        record = {
            "id": order_id,
            "serviceOrder": service_order_id if service_items and down is None else None,
            "items": plan,
            "copies": copies,
            "bundles": bundles,
        }
        if down is not None:
            record["pending"] = service_order
        await documents.create(tx, FULFILMENTS, record)
    if down is not None:
        if job.final:
            await parking.park(job, order_id, down)
        raise down  # committed with its note; the outbox runs this reaction again, which sends it


async def _send_pending(job: Job, order_id: str) -> bool:
    """Send a service order the OSS was down for; False when the order has no fulfilment record yet.
    Raises again while the OSS is down, so the outbox keeps retrying (never losing the order)."""
    async with job.gateway.transaction() as tx:
        record = await documents.locked(tx, FULFILMENTS, order_id)
        if record is None:
            return False
        old = await documents.locked(tx, "productOrder", order_id)
        service_order = record.pop("pending", None)
        if old is None or service_order is None or old.get("state") != "inProgress":
            return True
        await operations.write_new(tx, job, "serviceOrder", service_order)
        record["serviceOrder"] = service_order["id"]
        await documents.replace(tx, FULFILMENTS, record)
        new = copy.deepcopy(old)
        PRODUCT_ORDERS.note(new, f"Fulfilled by service order {service_order['id']} ({service_order['href']}).")
        parking.resume(new, record["items"])
        await operations.write_changed(tx, job, "productOrder", old, new)
    # A service order the OSS stored on an earlier attempt (adopted by its externalId) may have moved on,
    # even ended, before this record named it: its events then found no order to follow, so follow it now.
    await follow_service_order(job, str(service_order["id"]))
    return True


def _hold(order: Document) -> None:
    """An order to start later waits in the outbox until then (:class:`Later`): a restart keeps it."""
    start = capture.start_of(order)
    if start is not None:
        raise Later(
            start, f"Product order {order['id']} is held until its requestedStartDate {order['requestedStartDate']}."
        )


def _fail_broken_bundles(
    order: Document,
    bundles: dict[str, list[str]],
    plan: dict[str, list[str]],
    copies: dict[str, list[list[str]]],
    service_items: list[Document],
    notes: list[Document],
) -> list[Document]:
    """A bundle one of whose parts cannot be decomposed fails whole: its other parts fail too and plan
    nothing. The service items left to carry out are returned."""
    by_id = {item["id"]: item for item in PRODUCT_ORDERS.items(order)}
    dropped: set[str] = set()
    for bundle_id, parts in bundles.items():
        failed = [part for part in parts if by_id.get(part, {}).get("state") == "failed"]
        if parts and not failed:
            continue
        by_id[bundle_id]["state"] = "failed"
        why = f"its part items {', '.join(failed)} failed" if failed else "it has no part items"
        notes.append(failure(bundle_id, "BUNDLE_PART_FAILED", f"Item {bundle_id} failed: {why}."))
        for part in parts:
            if part in by_id:
                by_id[part]["state"] = "failed"
            dropped.update(plan.pop(part, []))
            copies.pop(part, None)
    return [item for item in service_items if item["id"] not in dropped]


async def _service_items(
    tx: Transaction, job: Job, order: Document, item: Document, service_order_id: str
) -> list[list[Document]]:
    """The service order items of a product order item, one list per product it installs or changes."""
    action = item.get("action")
    if action == "noChange":
        return []
    if action == "add":
        quantity, largest = item.get("quantity", 1), job.gateway.settings.get(MAX_ITEM_QUANTITY)
        # Each product has services and resources of its own, all made in the one transaction that
        # decomposes the order; the order's creation checked the same limit.
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= largest:
            raise Undecomposable(
                f"the quantity must be a whole number from 1 to {largest} (the most "
                f"products one item may install); it is {quantity!r}.",
                "QUANTITY_INVALID",
            )
        # One product each, with services of its own: item 1 of quantity 2 has service items
        # 1-1, 1-2, ... for the first product and 1#2-1, 1#2-2, ... for the second.
        return [
            _add_items(job, order, item, service_order_id, item["id"] if n == 1 else f"{item['id']}#{n}")
            for n in range(1, quantity + 1)
        ]
    if action in ("modify", "delete"):
        product_id = str((item.get("product") or {}).get("id", ""))
        product = await products.get(tx, product_id, job.owner) if product_id else None
        if product is None or products.has_ended(product):
            raise Undecomposable(
                f"to {action} a product, product.id must name an installed product; "
                f"{product_id or 'none was given'} is not one.",
                "PRODUCT_NOT_FOUND",
            )
        offered = str((product.get("productOffering") or {}).get("id", ""))
        asked = str((item.get("productOffering") or {}).get("id", offered))
        if action == "modify" and asked != offered:
            # A move to another offering changes prices and perhaps services: an order does it as
            # a delete of this product and an add of the new offering, each billed as such.
            raise Undecomposable(
                f"product {product_id} is of the offering {offered}; a modify changes its "
                f"characteristics only. To move it to {asked}, order a delete of it and an add "
                "of the new offering.",
                "OFFERING_CHANGE_NOT_ALLOWED",
            )
        state = service_state(product, item) if action == "modify" else None
        return [await _change_items(tx, job, item, product, service_order_id, state)]
    raise Undecomposable(f"the action {action!r} is not one of add, modify, delete, noChange.", "ACTION_UNKNOWN")


def _add_items(job: Job, order: Document, item: Document, service_order_id: str, prefix: str) -> list[Document]:
    catalog = catalogs.of(job.gateway)
    offering_id = str((item.get("productOffering") or {}).get("id", ""))
    offering = catalog.offering(offering_id) if offering_id else None
    if offering is None:
        raise Undecomposable(
            f"the product offering {offering_id or '(none given)'} is not in the catalog.", "OFFERING_UNKNOWN"
        )
    specs = service_specifications(catalog, offering)
    if not specs:
        raise Undecomposable(
            f"the product offering {offering_id} has no decomposition into services.", "OFFERING_WITHOUT_SERVICES"
        )
    characteristics = products.characteristics(catalog, offering, item)
    ids = {spec["id"]: f"{prefix}-{n}" for n, spec in enumerate(specs, start=1)}
    planned = []
    for spec in specs:
        names = {c.get("name") for c in spec.get("specCharacteristic", [])}
        service: Document = {
            "@type": "Service",
            "name": f"{spec.get('name')} of {offering.get('name')}",
            "serviceSpecification": {
                "id": spec["id"],
                "name": spec.get("name", ""),
                "@referredType": "ServiceSpecification",
            },
            "serviceCharacteristic": [c for c in characteristics if c.get("name") in names],
            "relatedParty": order.get("relatedParty", []),
            # The link back to the product order item this service is for.
            "relatedEntity": [
                {
                    "id": order["id"],
                    "href": order.get("href", ""),
                    "role": f"productOrderItem:{item['id']}",
                    "@referredType": "ProductOrder",
                }
            ],
        }
        needs = [
            rel["id"]
            for rel in spec.get("serviceSpecRelationship", [])
            if rel.get("relationshipType") in RELIES_ON and rel.get("id") in ids
        ]
        planned.append(_service_item(ids[spec["id"]], "add", service, [ids[n] for n in needs], service_order_id))
    return planned


def service_state(product: Document, item: Document) -> str | None:
    """The state a modify item puts the product's services in: ``inactive`` when it suspends the
    product (``product.status`` suspended), ``active`` when it resumes it, None when the status
    stays. Any other status change is not a modify (a delete terminates a product)."""
    now = products.status_of(product.get("status"))
    asked = products.status_of((item.get("product") or {}).get("status", now))
    if asked == now:
        return None
    if (now, asked) in (("active", "suspended"), ("suspended", "active")):
        return SUSPENSION[asked]
    raise Undecomposable(
        f"product {product['id']} is {now}; a modify may suspend an active product or resume "
        f"a suspended one (product.status suspended or active), not make it {asked}. A delete "
        "terminates a product.",
        "STATUS_CHANGE_NOT_ALLOWED",
    )


async def _change_items(
    tx: Transaction, job: Job, item: Document, product: Document, service_order_id: str, state: str | None = None
) -> list[Document]:
    """Modify or delete the services that realise an installed product (deleted last-first); a
    modify also puts them in ``state`` when given (suspended: inactive; resumed: active)."""
    action = str(item["action"])
    refs = list(product.get("realizingService", []))
    if action == "delete":
        refs.reverse()
    catalog = catalogs.of(job.gateway)
    offering = catalog.offering(str((product.get("productOffering") or {}).get("id", ""))) or {}
    characteristics = products.characteristics(
        catalog,
        offering,
        {**item, "product": {**item.get("product", {}), "productCharacteristic": _characteristics(product, item)}},
    )
    planned: list[Document] = []
    for n, ref in enumerate(refs, start=1):
        stored = await documents.get(tx, "service", str(ref["id"])) or {}
        spec = catalog.service_specification(str((stored.get("serviceSpecification") or {}).get("id", ""))) or {}
        names = {c.get("name") for c in spec.get("specCharacteristic", [])}
        service: Document = {"id": ref["id"], "href": ref.get("href", ""), "@type": "Service"}
        if action == "modify":
            service["serviceCharacteristic"] = [c for c in characteristics if c.get("name") in names]
            if state is not None:
                service["state"] = state
        needs = [planned[-1]["id"]] if planned else []
        planned.append(_service_item(f"{item['id']}-{n}", action, service, needs, service_order_id))
    return planned


def _characteristics(product: Document, item: Document) -> list[Document]:
    """The product's characteristics as a modify item leaves them."""
    return merged(
        product.get("productCharacteristic", []), (item.get("product") or {}).get("productCharacteristic", [])
    )


def service_specifications(catalog: catalogs.Catalog, offering: Document) -> list[Document]:
    """The service specifications an offering needs, each after those it relies on."""
    product_spec = catalog.get("productSpecification", str((offering.get("productSpecification") or {}).get("id")))
    ordered: list[Document] = []
    seen: set[str] = set()

    def visit(spec_id: str, path: tuple[str, ...]) -> None:
        spec = catalog.service_specification(spec_id)
        if spec is None or spec_id in seen or spec_id in path:
            return
        for rel in spec.get("serviceSpecRelationship", []):
            if rel.get("relationshipType") in RELIES_ON:
                visit(str(rel.get("id")), (*path, spec_id))
        seen.add(spec_id)
        ordered.append(spec)

    for ref in (product_spec or {}).get("serviceSpecification", []):
        visit(str(ref.get("id")), ())
    return ordered


def _service_item(id: str, action: str, service: Document, needs: list[str], order_id: str) -> Document:
    item: Document = {"id": id, "action": action, "state": "acknowledged", "service": service}
    if needs:
        item["serviceOrderItemRelationship"] = [
            {
                "relationshipType": "reliesOn",
                "orderItem": {"itemId": need, "serviceOrderId": order_id, "@referredType": "ServiceOrderItem"},
            }
            for need in needs
        ]
    return item


def _service_order(job: Job, order: Document, id: str, service_items: list[Document]) -> Document:
    doc: Document = {
        "id": id,
        "href": job.gateway.href(apis.SERVICE_ORDERING, "serviceOrder", id),
        "@type": "ServiceOrder",
        "category": order.get("category", ""),
        "description": f"Fulfils product order {order['id']}.",
        "externalId": order["id"],
        "priority": order.get("priority", ""),
        "requestedStartDate": order.get("requestedStartDate", ""),
        "requestedCompletionDate": order.get("requestedCompletionDate", ""),
        "orderDate": times.now(),
        "state": "acknowledged",
        "relatedParty": order.get("relatedParty", []),
        "orderRelationship": [
            {
                "id": order["id"],
                "href": order.get("href", ""),
                "relationshipType": "fulfils",
                "@referredType": "ProductOrder",
            }
        ],
        "serviceOrderItem": service_items,
    }
    if job.gateway.kept_elsewhere("serviceOrder"):  # southbound: the OSS sets the states itself
        doc["serviceOrderItem"] = [{k: v for k, v in item.items() if k != "state"} for item in service_items]
    return {k: v for k, v in doc.items() if v not in ("", [])}
