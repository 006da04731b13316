"""The order states shared by product orders (TMF622) and service orders (TMF641).

Both v4 APIs give orders the same states: a new order is acknowledged; it goes pending, held or
inProgress; from inProgress it ends completed, failed or partial; cancellation goes through
assessingCancellation and pendingCancellation to cancelled (or back, when it is refused). Items
follow the same lifecycle without ``partial`` as a goal of their own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from tmfgate.states import StateMachine
from tmfgate.types import Document

TRANSITIONS = {
    "acknowledged": frozenset({"rejected", "pending", "held", "inProgress", "assessingCancellation"}),
    "pending": frozenset({"inProgress", "held", "assessingCancellation", "cancelled"}),
    "held": frozenset({"inProgress", "pending", "assessingCancellation"}),
    "inProgress": frozenset({"held", "pending", "completed", "failed", "partial", "assessingCancellation"}),
    "assessingCancellation": frozenset({"pendingCancellation", "held", "pending", "inProgress"}),
    "pendingCancellation": frozenset({"cancelled"}),
    "rejected": frozenset(),
    "cancelled": frozenset(),
    "completed": frozenset(),
    "failed": frozenset(),
    "partial": frozenset(),
}
ITEM_TRANSITIONS = {
    state: frozenset(targets - {"partial"}) for state, targets in TRANSITIONS.items() if state != "partial"
}

PRODUCT_ORDER = StateMachine("product order", TRANSITIONS)
PRODUCT_ORDER_ITEM = StateMachine("product order item", ITEM_TRANSITIONS)
SERVICE_ORDER = StateMachine("service order", TRANSITIONS)
SERVICE_ORDER_ITEM = StateMachine("service order item", ITEM_TRANSITIONS)

FINAL = frozenset(state for state, targets in TRANSITIONS.items() if not targets)
CANCELLABLE = frozenset({"acknowledged", "pending", "held", "inProgress"})
CANCELLING = frozenset({"assessingCancellation", "pendingCancellation"})


def roll_up(states: list[str]) -> str:
    """The final state of an order whose items all ended in ``states``."""
    if all(state == "completed" for state in states):
        return "completed"
    if not any(state == "completed" for state in states):
        return "cancelled" if states and all(state == "cancelled" for state in states) else "failed"
    return "partial"


def walk(document: Document, key: str) -> Iterator[Document]:
    """Every item of an order under ``key`` (``productOrderItem``, ``serviceOrderItem``), nested ones
    included, parents before their children."""
    pending = deque(document.get(key, []))
    while pending:
        item = pending.popleft()
        yield item
        pending.extend(item.get(key, []))
