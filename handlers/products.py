"""Installed products: what a customer has, as product order items leave it.

Kept as TMF637 v4 ``Product`` documents of kind ``product`` (tmfgate serves no TMF637 API yet, so
they raise no events): a completed ``add`` item records a product with its offering, prices,
characteristics, realizing services and resources; ``modify`` changes it; ``delete`` terminates
it. Later orders modify or delete a product by ``product.id``; bills are built from products.
"""

from __future__ import annotations

from typing import Any

from backends.base import Transaction
from handlers import catalog as catalogs
from handlers.order_states import walk
from tmfgate import codec, times
from tmfgate.ids import new_id
from tmfgate.operations import Actor

Document = dict[str, Any]
KIND = "product"


async def get(tx: Transaction, id: str) -> Document | None:
    raw = await tx.get(KIND, id, for_update=True)
    return None if raw is None else codec.loads(raw)


def characteristics(catalog: catalogs.Catalog, offering: Document, item: Document) -> list[Document]:
    """The offering's fixed characteristic values, overridden by those the order item gives."""
    values: dict[str, Document] = {}
    for use in offering.get("prodSpecCharValueUse", []):
        choices = use.get("productSpecCharacteristicValue", [])
        chosen = next((c for c in choices if c.get("isDefault")), choices[0] if choices else None)
        if chosen is not None and "value" in chosen:
            values[str(use.get("name"))] = {"name": use.get("name"), "valueType": use.get("valueType", "string"),
                                            "value": chosen["value"]}
    for given in (item.get("product") or {}).get("productCharacteristic", []):
        values[str(given.get("name"))] = given
    return list(values.values())


async def record(tx: Transaction, actor: Actor, order: Document, item: Document, service_order: Document,
                 service_items: list[str]) -> None:
    """Record what a completed product order item changed, and show it on the item's ``product``."""
    action = item.get("action")
    by_id = {i["id"]: i for i in walk(service_order, "serviceOrderItem")}
    services = []
    for id in service_items:
        service_id = ((by_id.get(id) or {}).get("service") or {}).get("id")
        raw = await tx.get("service", str(service_id)) if service_id else None
        if raw is not None:
            services.append(codec.loads(raw))
    if action == "add":
        product = _new(actor, order, item, services)
        await tx.create(KIND, product["id"], codec.dumps(product))
    elif action in ("modify", "delete"):
        product = await get(tx, str(item["product"]["id"])) or {}
        if not product:
            return
        product["productOrderItem"] = [*product.get("productOrderItem", []), _related(order, item)]
        if action == "modify":
            given = {str(c.get("name")): c for c in (item.get("product") or {}).get("productCharacteristic", [])}
            kept = {str(c.get("name")): c for c in product.get("productCharacteristic", [])}
            product["productCharacteristic"] = list({**kept, **given}.values())
        else:
            product["status"] = "terminated"
            product["terminationDate"] = times.now()
        await tx.replace(KIND, product["id"], codec.dumps(product))
    else:
        return
    item["product"] = {
        **(item.get("product") or {}), "id": product["id"], "name": product.get("name", ""),
        "status": product["status"], "realizingService": product.get("realizingService", []),
        "realizingResource": product.get("realizingResource", []),
    }


def _new(actor: Actor, order: Document, item: Document, services: list[Document]) -> Document:
    catalog = catalogs.of(actor.gateway)
    offering_ref = item.get("productOffering") or {}
    offering = catalog.offering(str(offering_ref.get("id"))) or {}
    prices = [catalog.get("productOfferingPrice", str(ref.get("id")))
              for ref in offering.get("productOfferingPrice", [])]
    product: Document = {
        "id": new_id(), "@type": "Product", "name": offering.get("name", offering_ref.get("name", "")),
        "status": "active", "isBundle": False, "isCustomerVisible": True,
        "startDate": times.now(), "orderDate": order.get("orderDate", times.now()),
        "productOffering": {"id": offering_ref.get("id"), "name": offering.get("name", ""),
                            "@referredType": "ProductOffering"},
        "productCharacteristic": characteristics(catalog, offering, item),
        "productPrice": [_price(price) for price in prices if price is not None],
        "realizingService": [{"id": s["id"], "href": s["href"], "name": s.get("name", ""), "@referredType": "Service"}
                             for s in services],
        "realizingResource": [r for s in services for r in s.get("supportingResource", [])],
        "relatedParty": item.get("product", {}).get("relatedParty") or order.get("relatedParty", []),
        "productOrderItem": [_related(order, item)],
    }
    if offering.get("productSpecification"):
        product["productSpecification"] = {**offering["productSpecification"],
                                           "@referredType": "ProductSpecification"}
    account = item.get("billingAccount") or order.get("billingAccount")
    if account:
        product["billingAccount"] = account
    return product


def _price(price: Document) -> Document:
    """A ProductPrice from a catalog price (amounts as the catalog writes them)."""
    entry: Document = {"name": price.get("name", ""), "priceType": price.get("priceType", ""),
                       "productOfferingPrice": {"id": price["id"], "name": price.get("name", ""),
                                                "@referredType": "ProductOfferingPrice"},
                       "price": {"dutyFreeAmount": price.get("price", {})}}
    if price.get("recurringChargePeriodType"):
        entry["recurringChargePeriod"] = price["recurringChargePeriodType"]
    return entry


def _related(order: Document, item: Document) -> Document:
    return {"orderItemId": item["id"], "productOrderId": order["id"], "productOrderHref": order.get("href", ""),
            "orderItemAction": item.get("action", "add"), "role": "orderedBy", "@referredType": "ProductOrderItem"}
