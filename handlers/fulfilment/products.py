"""Installed products: what a customer has, as product order items leave it, and their lifecycle.

Kept as TMF637 v4 ``Product`` documents of kind ``product``, served by TMF637 Product Inventory
(:mod:`handlers.tmf637_product_inventory`) and written through :mod:`tmfgate.operations`, so each
change raises its TMF637 events: a completed ``add`` item records a product with its offering,
prices, characteristics, realizing services and resources; ``modify`` changes its characteristics,
or suspends or resumes it (``product.status``); ``delete`` terminates it. Later orders modify or
delete a product by ``product.id``; bills are built from products.
"""

from __future__ import annotations

from typing import Any

from backends.base import Transaction
from handlers import apis
from handlers.catalog import loading as catalogs
from handlers.catalog import pricing
from handlers.characteristics import merged
from handlers.ordering import capture
from handlers.ordering.lifecycle import SERVICE_ORDERS
from tmfgate import documents, times
from tmfgate.calls import Actor
from tmfgate.ids import new_id
from tmfgate.operations import write_changed, write_new
from tmfgate.states import StateMachine
from tmfgate.types import Document

KIND = "product"

# The product lifecycle of the TMF637 user guide: a product is created, provided (pendingActive)
# and active; it may be suspended and resumed; its end goes through pendingTerminate to terminated.
# A product that never became active ends cancelled (withdrawn) or aborted (its provision failed).
# A termination may be withdrawn while pending. terminated, cancelled and aborted are final.
PRODUCT = StateMachine(
    "product",
    {
        "created": frozenset({"pendingActive", "active", "cancelled", "aborted"}),
        "pendingActive": frozenset({"active", "cancelled", "aborted"}),
        "active": frozenset({"suspended", "pendingTerminate", "terminated"}),
        "suspended": frozenset({"active", "pendingTerminate", "terminated"}),
        "pendingTerminate": frozenset({"terminated", "active"}),
        "terminated": frozenset(),
        "cancelled": frozenset(),
        "aborted": frozenset(),
    },
)
# Statuses of a product that has started: it has a startDate.
STARTED = frozenset({"active", "suspended", "pendingTerminate"})


def has_ended(product: Document) -> bool:
    """Whether the product is terminated, cancelled or aborted: no order may change it any more."""
    status = status_of(product.get("status"))
    return status in PRODUCT.states and PRODUCT.is_final(status)


def status_of(value: Any) -> Any:
    """A status as stored: the official enum's "aborted " (trailing space) is "aborted"."""
    return "aborted" if value == "aborted " else value


def ending(product: Document) -> str | None:
    """The status a product takes when its services are deleted: terminated once it has been active,
    cancelled before; None when it has ended already."""
    status = status_of(product.get("status"))
    return next((end for end in ("terminated", "cancelled") if PRODUCT.allows(status, end) and status != end), None)


async def get(tx: Transaction, id: str, owner: str | None) -> Document | None:
    """The installed product, locked until the transaction ends; None when there is none, or when it
    is not ``owner``'s (a partner's order changes only its own products)."""
    return await documents.locked(tx, KIND, id, owners=None if owner is None else (owner,))


def characteristics(catalog: catalogs.Catalog, offering: Document, item: Document) -> list[Document]:
    """The offering's fixed characteristic values, overridden by those the order item gives (typed as
    the offering types them when the item gives no ``valueType``)."""
    defaults = capture.defaults(offering)
    types = {c["name"]: c["valueType"] for c in defaults}
    chosen = merged(defaults, (item.get("product") or {}).get("productCharacteristic", []))
    return [{"valueType": types[c["name"]], **c} if c.get("name") in types else c for c in chosen]


async def record(
    tx: Transaction,
    actor: Actor,
    order: Document,
    item: Document,
    service_order: Document,
    copies: list[list[str]],
    part_of: Document | None = None,
) -> list[str]:
    """Record what a completed product order item changed, show it on the item's ``product``, and
    return the ids of the products it installed or changed. ``copies`` holds the item's service
    order items, one list per product: an ``add`` of quantity N installs N products, each with its
    own services, and the item's ``product`` names the first (each product names the item in
    ``productOrderItem``); ``modify`` and ``delete`` change the one product ``product.id`` names.
    A part of a bundle (``part_of``: the bundle product's ref) carries no price of its own."""
    action = item.get("action")
    by_id = {i["id"]: i for i in SERVICE_ORDERS.items(service_order)}
    installed: list[Document] = []
    if action == "add":
        for copy in copies:
            product = _new(actor, order, item, await _services(tx, by_id, copy))
            if part_of is not None:
                product["productPrice"] = []  # the bundle's prices apply
                product["productRelationship"] = [{"relationshipType": "isBundledBy", "product": part_of}]
            await write_new(tx, actor, KIND, product)
            installed.append(product)
    elif action in ("modify", "delete"):
        old = await get(tx, str(item["product"]["id"]), actor.owner)
        if old is None:
            return []
        product = {**old, "productOrderItem": [*old.get("productOrderItem", []), _related(order, item)]}
        if action == "modify":
            given = (item.get("product") or {}).get("productCharacteristic", [])
            product["productCharacteristic"] = merged(old.get("productCharacteristic", []), given)
            _reprice(actor, product)
            status = status_of((item.get("product") or {}).get("status", old.get("status")))
            if status in ("active", "suspended"):  # suspended or resumed (checked at decomposition)
                product["status"] = status
        else:
            ended = ending(old)
            if ended is not None:
                product["status"] = ended
                if ended == "terminated":
                    product["terminationDate"] = times.now()
        await write_changed(tx, actor, KIND, old, product)
        installed.append(product)
    if not installed:
        return []
    _show(item, installed[0])
    return [product["id"] for product in installed]


async def record_bundle(tx: Transaction, actor: Actor, order: Document, item: Document, parts: list[Document]) -> str:
    """Record the product of a completed bundle item: ``isBundle``, its parts as ``productRelationship``
    (each part's ``product`` names it back), the bundle offering's own prices; returns its id."""
    ref = parts[0]["productRelationship"][0]["product"] if parts else bundle_ref(actor, new_id(), "")
    product = _new(actor, order, item, [], id=ref["id"])
    for empty in ("realizingService", "realizingResource", "productCharacteristic"):
        product.pop(empty, None)
    product["isBundle"] = True
    product["productRelationship"] = [
        {
            "relationshipType": "bundles",
            "product": {"id": p["id"], "href": p["href"], "name": p.get("name", ""), "@referredType": "Product"},
        }
        for p in parts
    ]
    await write_new(tx, actor, KIND, product)
    _show(item, product)
    return str(product["id"])


def bundle_ref(actor: Actor, id: str, name: str) -> Document:
    """A ProductRef to the bundle product about to be recorded with ``id``."""
    return {
        "id": id,
        "href": actor.gateway.href(apis.PRODUCT_INVENTORY, KIND, id),
        "name": name,
        "@referredType": "Product",
    }


def _show(item: Document, first: Document) -> None:
    """The item's ``product`` names the (first) product it installed or changed."""
    item["product"] = {
        **(item.get("product") or {}),
        "id": first["id"],
        "href": first["href"],
        "name": first.get("name", ""),
        "status": first["status"],
        "realizingService": first.get("realizingService", []),
        "realizingResource": first.get("realizingResource", []),
    }


async def _services(tx: Transaction, by_id: dict[str, Document], service_items: list[str]) -> list[Document]:
    """The services the given service order items made or changed, as stored now."""
    services = []
    for id in service_items:
        service_id = ((by_id.get(id) or {}).get("service") or {}).get("id")
        service = await documents.get(tx, "service", str(service_id)) if service_id else None
        if service is not None:
            services.append(service)
    return services


def _new(actor: Actor, order: Document, item: Document, services: list[Document], id: str | None = None) -> Document:
    catalog = catalogs.of(actor.gateway)
    offering_ref = item.get("productOffering") or {}
    offering = catalog.offering(str(offering_ref.get("id"))) or {}
    chosen = characteristics(catalog, offering, item)
    id = id or new_id()
    product: Document = {
        "id": id,
        "href": actor.gateway.href(apis.PRODUCT_INVENTORY, KIND, id),
        "@type": "Product",
        "name": offering.get("name", offering_ref.get("name", "")),
        "status": "active",
        "isBundle": False,
        "isCustomerVisible": True,
        "startDate": times.now(),
        "creationDate": times.now(),
        "orderDate": order.get("orderDate", times.now()),
        "productOffering": {
            "id": offering_ref.get("id"),
            "name": offering.get("name", ""),
            "@referredType": "ProductOffering",
        },
        "productCharacteristic": chosen,
        "productPrice": pricing.entries(catalog, offering, chosen),
        "realizingService": [
            {"id": s["id"], "href": s["href"], "name": s.get("name", ""), "@referredType": "Service"} for s in services
        ],
        "realizingResource": [r for s in services for r in s.get("supportingResource", [])],
        "relatedParty": item.get("product", {}).get("relatedParty") or order.get("relatedParty", []),
        "productOrderItem": [_related(order, item)],
    }
    if offering.get("productSpecification"):
        product["productSpecification"] = {**offering["productSpecification"], "@referredType": "ProductSpecification"}
    account = item.get("billingAccount") or order.get("billingAccount")
    if account:
        product["billingAccount"] = account
    return product


def _reprice(actor: Actor, product: Document) -> None:
    """A modified product of a catalog offering takes the prices of its new characteristic values."""
    catalog = catalogs.of(actor.gateway)
    offering = catalog.offering(str((product.get("productOffering") or {}).get("id")))
    if offering is not None and product.get("productPrice"):
        product["productPrice"] = pricing.entries(catalog, offering, product.get("productCharacteristic", []))


def _related(order: Document, item: Document) -> Document:
    return {
        "orderItemId": item["id"],
        "productOrderId": order["id"],
        "productOrderHref": order.get("href", ""),
        "orderItemAction": item.get("action", "add"),
        "role": "orderedBy",
        "@referredType": "ProductOrderItem",
    }
