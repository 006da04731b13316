"""The order lifecycle written once for product orders (TMF622) and service orders (TMF641).

Creation and PATCH checks, the walk through the cancellation states, the roll-up of item states
into the order's, and the gateway's notes, each parameterised by the order's kind and items.
"""

from __future__ import annotations

import copy
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from backends.base import Transaction, where
from handlers.notes import failure, note
from handlers.ordering.states import (
    FINAL,
    PRODUCT_ORDER,
    PRODUCT_ORDER_ITEM,
    SERVICE_ORDER,
    SERVICE_ORDER_ITEM,
    roll_up,
    walk,
)
from tmfgate import documents, operations, times
from tmfgate.calls import Actor
from tmfgate.errors import BadRequest
from tmfgate.states import StateMachine
from tmfgate.types import Document

# TMF622 and TMF641 user guides: a cancellation is assessed, then pending, then done.
CANCELLATION_PATH = ("assessingCancellation", "pendingCancellation", "cancelled")
CheckItem = Callable[[Document], None]


@dataclass(frozen=True)
class OrderLifecycle:
    """The lifecycle of one kind of order and its items."""

    kind: str  # the order's resource kind
    item_key: str  # where its items are, nested ones under the same key
    order: StateMachine
    item: StateMachine
    relationship_key: str  # an item's relationships to other items of the order
    related_item: Callable[[Document], Any]  # the item id a relationship names
    completion_states: frozenset[str]  # the states a PATCH stamps with completionDate
    cancel_kind: str  # the cancellation task resource
    identified_notes: bool = False
    items_follow_cancellation: bool = False  # open items take each cancellation state with the order

    def items(self, order: Document) -> Iterator[Document]:
        """Every item of ``order``, nested ones included, parents before their children."""
        return walk(order, self.item_key)

    def check_new(self, order: Document, check_item: CheckItem | None = None, max_items: int | None = None) -> None:
        """Refuse a new order of more than ``max_items`` items, whose item ids repeat, whose items carry a
        state, or whose items relate to items outside it; then set the server's states and ``orderDate``.
        ``check_item`` adds checks. Linear in the items (F-09: counting ids was quadratic)."""
        key = self.item_key
        items = list(itertools.islice(self.items(order), None if max_items is None else max_items + 1))
        if max_items is not None and len(items) > max_items:
            raise BadRequest(f"An order can hold at most {max_items} {key} entries, nested ones included.")
        counts = Counter(item["id"] for item in items)
        ids = set(counts)
        repeated = sorted(id for id, count in counts.items() if count > 1)
        if repeated:
            raise BadRequest(f"{key} ids must be unique in an order; repeated: {', '.join(repeated)}.")
        for item in items:
            if "state" in item:
                raise BadRequest(f"{key} {item['id']}: state is set by the server; leave it out.")
            for relation in item.get(self.relationship_key, []):
                target = self.related_item(relation)
                if target not in ids:
                    raise BadRequest(f"{key} {item['id']} relates to item {target}, which is not in this order.")
            if check_item is not None:
                check_item(item)
            item["state"] = "acknowledged"
        order["state"] = "acknowledged"
        order["orderDate"] = times.now()

    def check_patch(self, old: Document, new: Document) -> None:
        """Refuse illegal order and item state changes (409); stamp the dates a state change implies."""
        self.order.check(old.get("state"), new.get("state"))
        before = {item["id"]: item.get("state") for item in self.items(old)}
        for item in self.items(new):
            if item["id"] in before:
                self.item.check(before[item["id"]], item.get("state"), f"item {item['id']}")
            else:
                item.setdefault("state", "acknowledged")
        if new.get("state") != old.get("state"):
            if new.get("state") in self.completion_states:
                new.setdefault("completionDate", times.now())
            if new.get("state") == "cancelled":
                new.setdefault("cancellationDate", times.now())

    def state_changes(self, old: Document, new: Document) -> list[str]:
        """What a change does to states: ``state`` for the order's, ``item N`` for each item's (an item
        added with a state other than acknowledged included), in order; empty when it changes none."""
        changed = ["state"] if new.get("state") != old.get("state") else []
        before = {item["id"]: item.get("state") for item in self.items(old)}
        for item in self.items(new):
            if item.get("state", "acknowledged") != before.get(item["id"], "acknowledged"):
                changed.append(f"item {item['id']}")
        return changed

    def note(self, order: Document, text: str) -> None:
        """Add a note of the gateway's to ``order``."""
        order["note"] = [*order.get("note", []), note(text, identified=self.identified_notes)]

    def failed(self, order: Document, item_id: str, code: str, text: str) -> None:
        """Add a failure note of the gateway's to ``order``: the item, a stable code, and why."""
        order["note"] = [*order.get("note", []), failure(item_id, code, text, identified=self.identified_notes)]

    def roll_up(self, order: Document) -> bool:
        """End an order in progress whose items have all ended, in place; False when it goes on."""
        states = [str(item.get("state")) for item in self.items(order)]
        if order.get("state") != "inProgress" or not all(state in FINAL for state in states):
            return False
        order["state"] = roll_up(states)
        order["completionDate"] = times.now()
        return True

    def cancel(self, order: Document, reason: str | None = None) -> None:
        """End ``order`` cancelled in place: its open items too, with the date (and the reason, when given)."""
        for item in self.items(order):
            if item.get("state") not in FINAL:
                item["state"] = "cancelled"
        order["state"] = "cancelled"
        order["cancellationDate"] = times.now()
        if reason:
            order["cancellationReason"] = reason

    async def walk_cancellation(
        self, tx: Transaction, actor: Actor, order: Document, *, until: str = "cancelled", reason: str | None = None
    ) -> Document:
        """Take ``order`` through each cancellation state up to ``until``, storing every step (one event
        each); returns the order as it ends."""
        for state in CANCELLATION_PATH[: CANCELLATION_PATH.index(until) + 1]:
            new = copy.deepcopy(order)
            if state == "cancelled":
                self.cancel(new, reason)
            else:
                new["state"] = state
                if self.items_follow_cancellation:
                    for item in self.items(new):
                        if item.get("state") not in FINAL:
                            item["state"] = state
            await operations.write_changed(tx, actor, self.kind, order, new)
            order = new
        return order

    async def cancel_tasks(self, tx: Transaction, order_id: str) -> list[Document]:
        """The order's cancellation tasks in progress."""
        return await documents.find(
            tx, self.cancel_kind, where((self.kind, "id"), eq=order_id), where("state", eq="inProgress")
        )

    async def close_cancel_tasks(self, tx: Transaction, actor: Actor, order: Document) -> None:
        """End the cancelled order's tasks in progress ``done``; the order keeps the first reason they give."""
        for task in await self.cancel_tasks(tx, str(order["id"])):
            if task.get("cancellationReason"):
                order.setdefault("cancellationReason", task["cancellationReason"])
            done = {**task, "state": "done", "effectiveCancellationDate": times.now()}
            await operations.write_changed(tx, actor, self.cancel_kind, task, done)


PRODUCT_ORDERS = OrderLifecycle(
    kind="productOrder",
    item_key="productOrderItem",
    order=PRODUCT_ORDER,
    item=PRODUCT_ORDER_ITEM,
    relationship_key="productOrderItemRelationship",
    related_item=lambda relation: relation.get("id"),
    completion_states=frozenset({"completed"}),
    cancel_kind="cancelProductOrder",
)
SERVICE_ORDERS = OrderLifecycle(
    kind="serviceOrder",
    item_key="serviceOrderItem",
    order=SERVICE_ORDER,
    item=SERVICE_ORDER_ITEM,
    relationship_key="serviceOrderItemRelationship",
    related_item=lambda relation: (relation.get("orderItem") or {}).get("itemId"),
    completion_states=frozenset({"completed", "failed", "partial"}),
    cancel_kind="cancelServiceOrder",
    identified_notes=True,  # TMF641 v4 requires notes to have an id
    items_follow_cancellation=True,
)
