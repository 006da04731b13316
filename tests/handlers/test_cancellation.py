"""Product order cancellation on plain values: when an order's state rules it out, and which items completed."""

from __future__ import annotations

import pytest

from handlers.ordering.cancellation import DIRECT, completed_items, why_not_cancellable
from tmfgate.types import Document


def order(state: str, *items: tuple[str, str]) -> Document:
    return {"id": "o1", "state": state, "productOrderItem": [{"id": id, "state": s} for id, s in items]}


@pytest.mark.parametrize("state", ["acknowledged", "pending", "held", "inProgress"])
def test_an_open_order_may_be_cancelled(state: str) -> None:
    assert why_not_cancellable(order(state)) is None


def test_an_order_being_cancelled_or_ended_may_not_and_the_reason_names_completed_items() -> None:
    assert why_not_cancellable(order("pendingCancellation")) == (
        "Product order o1 is already being cancelled (pendingCancellation)."
    )
    assert why_not_cancellable(order("failed", ("1", "failed"))) == (
        "Product order o1 is failed and can no longer be cancelled."
    )
    assert why_not_cancellable(order("partial", ("1", "completed"), ("2", "failed"))) == (
        "Product order o1 is partial and can no longer be cancelled (item 1 completed)."
    )
    assert why_not_cancellable(order("completed", ("1", "completed"), ("2", "completed"))) == (
        "Product order o1 is completed and can no longer be cancelled (items 1, 2 completed)."
    )


def test_completed_items_count_only_work_done_in_the_network() -> None:
    doc = order("inProgress", ("1", "completed"), ("2", "completed"), ("3", "inProgress"))
    record = {"items": {"1": ["1-1"], "2": [], "3": ["3-1"]}}  # item 2 was a noChange
    assert completed_items(doc, record) == ["1"]


def test_an_order_without_a_service_order_is_cancelled_directly() -> None:
    assert DIRECT.passed_on is False and DIRECT.refusal is None
