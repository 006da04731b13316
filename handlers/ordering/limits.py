"""How large an order may be: its items (nested ones included) and each item's quantity, checked
when the order is created, before anything is decomposed (security review F-04, F-09)."""

from __future__ import annotations

from handlers.ordering.capture import MAX_QUANTITY
from tmfgate.settings import Setting, whole

MAX_ORDER_ITEMS = Setting(
    "max_order_items",
    100,
    "most items, nested ones included, a product or service order may hold; more answers 400",
    whole(1),
    metavar="N",
)
MAX_ITEM_QUANTITY = Setting(
    "max_item_quantity",
    100,
    "largest `quantity` of a product order item, each product installed with services and resources of its "
    f"own; more answers 400 (at most {MAX_QUANTITY}, what the catalog checks allow)",
    whole(1, MAX_QUANTITY),
    metavar="N",
)
