"""Product orders checked against the catalog when they are captured, and priced from it.

While the gateway fulfils orders, an item that would fail later is a 400 naming the item, with
nothing stored: an offering the catalog lacks or does not sell (``isSellable``, ``lifecycleStatus``,
``validFor``), a characteristic value the offering fixes or does not offer
(``prodSpecCharValueUse``, else the product specification's values). Each item then
carries ``itemPrice`` and ``itemTotalPrice`` from the catalog, and the order ``orderTotalPrice``; a
bundle's parts (:func:`bundle_parts`) are priced by the bundle's own prices, not their own.
Dates are checked too: a ``requestedCompletionDate`` already past is a 400.
"""

from __future__ import annotations

import datetime as dt

from handlers.catalog import pricing
from handlers.catalog.loading import Catalog
from handlers.characteristics import merged
from handlers.ordering.lifecycle import PRODUCT_ORDERS
from tmfgate import times
from tmfgate.errors import BadRequest
from tmfgate.types import Document

# The most products one order item may install (each has services and resources of its own, all made
# in the one transaction that decomposes the order): the ceiling of the max_item_quantity setting,
# which handlers/ordering/limits.py declares and the order's creation checks.
MAX_QUANTITY = 100
SELLABLE = frozenset({"active", "launched"})  # TMF620 lifecycleStatus values an offering is sold in


def dates(order: Document) -> None:
    """Refuse a ``requestedCompletionDate`` already past or before the start; an order to start later
    expects completion then (``expectedCompletionDate``), as fulfilment holds it until its start."""
    now = dt.datetime.now(dt.UTC)
    start, end = _instant(order, "requestedStartDate"), _instant(order, "requestedCompletionDate")
    if end is not None and end <= now:
        raise BadRequest(
            f"requestedCompletionDate {order['requestedCompletionDate']} is past; an order completes later."
        )
    if start is not None and end is not None and end < start:
        raise BadRequest(
            f"requestedCompletionDate {order['requestedCompletionDate']} is before requestedStartDate "
            f"{order['requestedStartDate']}."
        )
    if start is not None and start > now:
        order["expectedCompletionDate"] = order.get("requestedCompletionDate") or times.stamp(start)


def start_of(order: Document) -> dt.datetime | None:
    """When fulfilment of the order may start, if that is still to come."""
    try:
        start = _instant(order, "requestedStartDate")
    except BadRequest:
        return None  # checked at capture; a client's later PATCH does not stop fulfilment
    return start if start is not None and start > dt.datetime.now(dt.UTC) else None


def _instant(order: Document, name: str) -> dt.datetime | None:
    text = order.get(name)
    if not isinstance(text, str) or not text:
        return None
    try:
        return times.parse(text)
    except ValueError:
        raise BadRequest(f"{name} {text!r} is not a date-time; write it as 2027-01-01T00:00:00Z.") from None


def bundle_parts(catalog: Catalog, order: Document) -> dict[str, list[str]]:
    """The part items of each ``add`` item of a bundle offering: its nested items, and the items a
    ``productOrderItemRelationship`` links to it (from the bundle: ``bundles``/``hasPart``; from the
    part: ``isBundledBy``/``bundled``/``isPartOf``)."""
    items = list(PRODUCT_ORDERS.items(order))
    found: dict[str, list[str]] = {}
    for item in items:
        offering = catalog.offering(str((item.get("productOffering") or {}).get("id")))
        if item.get("action") != "add" or offering is None or not catalog.parts(offering):
            continue
        parts = [str(child["id"]) for child in item.get("productOrderItem", [])]
        parts += [
            str(r.get("id")) for r in item.get("productOrderItemRelationship", []) if r.get("relationshipType") in _HAS
        ]
        parts += [
            str(other["id"])
            for other in items
            if any(
                r.get("id") == item["id"] and r.get("relationshipType") in _PART_OF
                for r in other.get("productOrderItemRelationship", [])
            )
        ]
        found[str(item["id"])] = list(dict.fromkeys(parts))
    return found


_HAS = frozenset({"bundles", "hasPart"})
_PART_OF = frozenset({"isBundledBy", "bundled", "isPartOf"})


def _check_bundles(catalog: Catalog, order: Document) -> set[str]:
    """Give each bundle item its parts (nested ones from the catalog when it has none) and check them
    against ``bundledProductOffering``; the ids of the part items (priced by their bundle)."""
    by_id = {str(item["id"]): item for item in PRODUCT_ORDERS.items(order)}
    found = bundle_parts(catalog, order)
    for bundle_id, parts in found.items():
        bundle = by_id[bundle_id]
        offering = catalog.offering(str(bundle["productOffering"]["id"])) or {}
        wanted = catalog.parts(offering)
        if bundle.get("quantity", 1) != 1:
            raise BadRequest(f"productOrderItem {bundle_id}: a bundle is ordered one at a time; give it quantity 1.")
        if not parts:
            bundle["productOrderItem"] = [
                {
                    "id": f"{bundle_id}.{n}",
                    "action": "add",
                    "quantity": 1,
                    "productOffering": {"id": part},
                    "state": "acknowledged",
                }
                for n, part in enumerate(wanted, start=1)
            ]
            parts = found[bundle_id] = [child["id"] for child in bundle["productOrderItem"]]
            by_id.update((child["id"], child) for child in bundle["productOrderItem"])
        given = sorted(str((by_id.get(p, {}).get("productOffering") or {}).get("id")) for p in parts if p in by_id)
        if given != sorted(wanted) or any(
            by_id[p].get("action") != "add" or by_id[p].get("quantity", 1) != 1 for p in parts if p in by_id
        ):
            raise BadRequest(
                f"productOrderItem {bundle_id}: the bundle {offering['id']} holds one add item of each of "
                f"{', '.join(wanted)}; its part items are of {', '.join(given) or 'nothing'}."
            )
    return {p for parts in found.values() for p in parts}


def check(catalog: Catalog, order: Document, installed: dict[str, Document]) -> None:
    """Check every item of a new order and price it; ``installed`` holds the products items change."""
    parts = _check_bundles(catalog, order)
    for item in PRODUCT_ORDERS.items(order):
        offering, chosen = _checked(catalog, item, installed, item["id"] in parts)
        if offering is None or item["id"] in parts:
            continue
        quantity = int(item.get("quantity", 1))
        item["itemPrice"] = pricing.entries(catalog, offering, chosen)
        item["itemTotalPrice"] = pricing.times(item["itemPrice"], quantity)
    found = [p for item in PRODUCT_ORDERS.items(order) for p in item.get("itemTotalPrice", [])]
    if found:
        order["orderTotalPrice"] = pricing.totals(found, catalog.currency)


def _checked(
    catalog: Catalog, item: Document, installed: dict[str, Document], part: bool
) -> tuple[Document | None, list[Document]]:
    """The item's offering and the characteristic values it leaves; None for items not priced."""
    action = item.get("action")
    given = (item.get("product") or {}).get("productCharacteristic", [])
    if action == "add":
        offering_id = (item.get("productOffering") or {}).get("id")
        if offering_id is None:
            return None, []  # decomposition says what is missing
        offering = catalog.offering(str(offering_id))
        if offering is None:
            raise BadRequest(
                f"productOrderItem {item['id']}: the product offering {offering_id} is not in the catalog."
            )
        if not part:  # a part of a bundle is sold in the bundle
            _sellable(item, offering)
        characteristics(catalog, item, offering, given)
        return offering, merged(defaults(offering), given)
    product = installed.get(str((item.get("product") or {}).get("id")))
    if action != "modify" or product is None:
        return None, []
    offering = catalog.offering(str((product.get("productOffering") or {}).get("id")))
    if offering is None:
        return None, []
    characteristics(catalog, item, offering, given)
    return offering, merged(product.get("productCharacteristic", []), given)


def _sellable(item: Document, offering: Document) -> None:
    name = f"{offering['id']} ({offering.get('name', 'unnamed')})"
    why = None
    status = offering.get("lifecycleStatus")
    if offering.get("isSellable") is False:
        why = "isSellable is false"
    elif status is not None and str(status).lower() not in SELLABLE:
        why = f"its lifecycleStatus is {status}"
    else:
        now = dt.datetime.now(dt.UTC)
        valid = offering.get("validFor") or {}
        start, end = valid.get("startDateTime"), valid.get("endDateTime")
        if start and times.parse(str(start)) > now:
            why = f"it is sold from {start}"
        elif end and times.parse(str(end)) <= now:
            why = f"it was sold until {end}"
    if why is not None:
        raise BadRequest(f"productOrderItem {item['id']}: the product offering {name} is not sellable: {why}.")


def characteristics(catalog: Catalog, item: Document, offering: Document, given: list[Document]) -> None:
    """Each given value is one the offering offers (``prodSpecCharValueUse``, else its specification)."""
    spec = catalog.get("productSpecification", str((offering.get("productSpecification") or {}).get("id"))) or {}
    declared = {
        str(c.get("name")): c.get("productSpecCharacteristicValue", [])
        for c in spec.get("productSpecCharacteristic", [])
    }
    uses = {
        str(u.get("name")): u.get("productSpecCharacteristicValue", [])
        for u in offering.get("prodSpecCharValueUse", [])
    }
    for characteristic in given:
        name, value = str(characteristic.get("name")), characteristic.get("value")
        if name not in uses and name not in declared:
            known = ", ".join(sorted({*uses, *declared})) or "none"
            raise BadRequest(
                f"productOrderItem {item['id']}: the offering {offering['id']} has no characteristic {name} "
                f"(its characteristics: {known})."
            )
        offered = [str(v.get("value")) for v in uses.get(name, declared.get(name, [])) if "value" in v]
        if offered and str(value) not in offered:
            how = f"fixes it at {offered[0]}" if len(offered) == 1 else f"offers {', '.join(offered)}"
            raise BadRequest(
                f"productOrderItem {item['id']}: {name} {value} is not offered; the offering {offering['id']} {how}."
            )


def defaults(offering: Document) -> list[Document]:
    """The characteristic values an offering gives unless an order chooses (its default, else its first)."""
    fixed: list[Document] = []
    for use in offering.get("prodSpecCharValueUse", []):
        choices = use.get("productSpecCharacteristicValue", [])
        chosen = next((c for c in choices if c.get("isDefault")), choices[0] if choices else None)
        if chosen is not None and "value" in chosen:
            fixed.append(
                {"name": use.get("name"), "valueType": use.get("valueType", "string"), "value": chosen["value"]}
            )
    return fixed
