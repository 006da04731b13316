"""The order lifecycle written once: creation and PATCH checks, roll-up, notes and the cancellation walk."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from backends.base import Event
from handlers.ordering.lifecycle import PRODUCT_ORDERS, SERVICE_ORDERS, OrderLifecycle
from tmfgate import documents
from tmfgate.errors import BadRequest, Conflict
from tmfgate.gateway import Gateway
from tmfgate.model import ApiModel
from tmfgate.runtime import load_apis
from tmfgate.settings import Settings
from tmfgate.types import Document

LIFECYCLES = [PRODUCT_ORDERS, SERVICE_ORDERS]


def order(lifecycle: OrderLifecycle, *items: Document, state: str | None = None) -> Document:
    doc: Document = {"id": "o1", lifecycle.item_key: list(items)}
    if state is not None:
        doc["state"] = state
    return doc


def relation(lifecycle: OrderLifecycle, target: str) -> Document:
    """A relationship to item ``target`` as each API writes it."""
    if lifecycle is PRODUCT_ORDERS:
        return {"id": target, "relationshipType": "reliesOn"}
    return {"relationshipType": "reliesOn", "orderItem": {"itemId": target}}


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=lambda lifecycle: lifecycle.kind)
def test_a_new_order_gets_the_server_states_and_its_date(lifecycle: OrderLifecycle) -> None:
    key = lifecycle.item_key
    child = {"id": "2", lifecycle.relationship_key: [relation(lifecycle, "1")]}
    new = order(lifecycle, {"id": "1", key: [child]})
    seen: list[str] = []
    lifecycle.check_new(new, lambda item: seen.append(item["id"]))
    assert new["state"] == "acknowledged" and new["orderDate"].endswith("Z")
    assert [item["state"] for item in lifecycle.items(new)] == ["acknowledged", "acknowledged"]
    assert seen == ["1", "2"]  # nested items are checked too, parents first


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=lambda lifecycle: lifecycle.kind)
def test_a_new_order_is_refused_for_repeated_ids_set_states_and_outside_relations(lifecycle: OrderLifecycle) -> None:
    key = lifecycle.item_key
    cases = [
        (order(lifecycle, {"id": "1"}, {"id": "1"}), f"{key} ids must be unique in an order; repeated: 1."),
        (order(lifecycle, {"id": "1", "state": "completed"}), f"{key} 1: state is set by the server"),
        (
            order(lifecycle, {"id": "1", lifecycle.relationship_key: [relation(lifecycle, "9")]}),
            f"{key} 1 relates to item 9, which is not in this order.",
        ),
    ]
    for doc, message in cases:
        before = copy.deepcopy(doc)
        with pytest.raises(BadRequest, match=message.replace(".", r"\.")):
            lifecycle.check_new(doc)
        assert doc == before  # nothing was set on a refused order


def test_an_item_check_refuses_the_order() -> None:
    def positive(item: Document) -> None:
        if item.get("quantity", 1) < 1:
            raise BadRequest("no")

    with pytest.raises(BadRequest):
        PRODUCT_ORDERS.check_new(order(PRODUCT_ORDERS, {"id": "1", "quantity": 0}), positive)


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=lambda lifecycle: lifecycle.kind)
def test_a_patch_follows_the_order_and_item_machines(lifecycle: OrderLifecycle) -> None:
    key = lifecycle.item_key
    old = order(lifecycle, {"id": "1", "state": "inProgress"}, state="inProgress")
    new = order(lifecycle, {"id": "1", "state": "completed"}, {"id": "2"}, state="completed")
    lifecycle.check_patch(old, new)
    assert new["completionDate"].endswith("Z") and "cancellationDate" not in new
    assert new[key][1]["state"] == "acknowledged"  # an item added by the patch
    with pytest.raises(Conflict, match="cannot change from completed to inProgress"):
        lifecycle.check_patch(new, {**new, "state": "inProgress"})
    bad_item = order(lifecycle, {"id": "1", "state": "acknowledged"}, state="inProgress")
    with pytest.raises(Conflict, match="item 1 cannot change from inProgress to acknowledged"):
        lifecycle.check_patch(old, bad_item)
    cancelled = order(lifecycle, {"id": "1", "state": "cancelled"}, state="cancelled")
    lifecycle.check_patch(order(lifecycle, {"id": "1", "state": "pending"}, state="pending"), cancelled)
    assert cancelled["cancellationDate"].endswith("Z")


def test_service_orders_stamp_every_ending_product_orders_completion_only() -> None:
    for lifecycle, stamped in ((SERVICE_ORDERS, True), (PRODUCT_ORDERS, False)):
        new = order(lifecycle, state="failed")
        lifecycle.check_patch(order(lifecycle, state="inProgress"), new)
        assert ("completionDate" in new) is stamped


@pytest.mark.parametrize(
    ("states", "ending"),
    [
        (["completed", "completed"], "completed"),
        (["completed", "failed"], "partial"),
        (["failed", "cancelled"], "failed"),
        (["cancelled", "cancelled"], "cancelled"),
    ],
)
def test_roll_up_ends_an_order_once_every_item_has_ended(states: list[str], ending: str) -> None:
    doc = order(SERVICE_ORDERS, *({"id": str(n), "state": s} for n, s in enumerate(states)), state="inProgress")
    assert SERVICE_ORDERS.roll_up(doc) is True
    assert doc["state"] == ending and doc["completionDate"].endswith("Z")


def test_roll_up_waits_for_open_items_and_for_an_order_in_progress() -> None:
    waiting = order(PRODUCT_ORDERS, {"id": "1", "state": "completed"}, {"id": "2", "state": "inProgress"})
    waiting["state"] = "inProgress"
    held = order(PRODUCT_ORDERS, {"id": "1", "state": "completed"}, state="held")
    for doc in (waiting, held):
        before = copy.deepcopy(doc)
        assert PRODUCT_ORDERS.roll_up(doc) is False
        assert doc == before


def test_service_order_notes_have_ids_product_order_notes_none() -> None:
    service_order, product_order = order(SERVICE_ORDERS), order(PRODUCT_ORDERS)
    SERVICE_ORDERS.note(service_order, "one")
    SERVICE_ORDERS.note(service_order, "two")
    PRODUCT_ORDERS.note(product_order, "one")
    assert [note["text"] for note in service_order["note"]] == ["one", "two"]
    assert len({note["id"] for note in service_order["note"]}) == 2
    assert set(product_order["note"][0]) == {"author", "date", "text"}


def test_cancel_ends_open_items_and_keeps_final_ones() -> None:
    doc = order(
        PRODUCT_ORDERS,
        {"id": "1", "state": "completed"},
        {"id": "2", "state": "inProgress", "productOrderItem": [{"id": "3", "state": "pending"}]},
        state="pendingCancellation",
    )
    PRODUCT_ORDERS.cancel(doc, "changed my mind")
    assert [item["state"] for item in PRODUCT_ORDERS.items(doc)] == ["completed", "cancelled", "cancelled"]
    assert doc["state"] == "cancelled" and doc["cancellationReason"] == "changed my mind"
    assert doc["cancellationDate"].endswith("Z")


# --- on a real store: the walk and the cancellation tasks ----------------------------------------


@dataclass(frozen=True)
class Worker:
    gateway: Gateway
    correlation_id: str = "lifecycle-test"


@pytest.fixture(scope="module")
def apis() -> list[ApiModel]:
    return load_apis()


@pytest.fixture(params=["memory", "sqlite"])
async def worker(request: pytest.FixtureRequest, tmp_path: Path, apis: list[ApiModel]) -> AsyncIterator[Worker]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/lifecycle.db"
    gateway = Gateway(Settings(database_url=url), apis)
    await gateway.backend.open()
    try:
        yield Worker(gateway)
    finally:
        await gateway.backend.close()


async def changes(worker: Worker, kind: str) -> list[str]:
    """The event types the outbox holds for ``kind``, in order."""
    seen: list[str] = []

    def route(event: Event) -> list[str]:
        if event.kind == kind:
            seen.append(event.type)
        return []

    await worker.gateway.backend.fan_out(route, limit=1000)
    return seen


@pytest.mark.anyio
async def test_the_walk_stores_every_cancellation_step(worker: Worker) -> None:
    gateway = worker.gateway
    start = order(SERVICE_ORDERS, {"id": "1", "state": "inProgress"}, {"id": "2", "state": "failed"})
    start["state"] = "inProgress"
    async with gateway.transaction() as tx:
        await documents.create(tx, "serviceOrder", start)
        pending = await SERVICE_ORDERS.walk_cancellation(tx, worker, start, until="pendingCancellation")
    assert pending["state"] == "pendingCancellation"
    assert [item["state"] for item in SERVICE_ORDERS.items(pending)] == ["pendingCancellation", "failed"]
    async with gateway.transaction() as tx:
        assert await documents.get(tx, "serviceOrder", "o1") == pending
    assert await changes(worker, "serviceOrder") == ["ServiceOrderStateChangeEvent"] * 2

    product_order = order(PRODUCT_ORDERS, {"id": "1", "state": "inProgress"}, state="inProgress")
    async with gateway.transaction() as tx:
        await documents.create(tx, "productOrder", product_order)
        ended = await PRODUCT_ORDERS.walk_cancellation(tx, worker, product_order, reason="moved")
    assert ended["state"] == "cancelled" and ended["cancellationReason"] == "moved"
    assert ended["productOrderItem"][0]["state"] == "cancelled"
    assert await changes(worker, "productOrder") == ["ProductOrderStateChangeEvent"] * 3


@pytest.mark.anyio
async def test_closing_the_cancel_tasks_ends_those_in_progress(worker: Worker) -> None:
    gateway = worker.gateway
    tasks = [
        {"id": "t1", "state": "inProgress", "productOrder": {"id": "o1"}, "cancellationReason": "first"},
        {"id": "t2", "state": "inProgress", "productOrder": {"id": "o1"}, "cancellationReason": "second"},
        {"id": "t3", "state": "done", "productOrder": {"id": "o1"}},
        {"id": "t4", "state": "inProgress", "productOrder": {"id": "o2"}},
    ]
    doc = order(PRODUCT_ORDERS, state="cancelled")
    async with gateway.transaction() as tx:
        for task in tasks:
            await documents.create(tx, "cancelProductOrder", task)
        assert sorted(task["id"] for task in await PRODUCT_ORDERS.cancel_tasks(tx, "o1")) == ["t1", "t2"]
        await PRODUCT_ORDERS.close_cancel_tasks(tx, worker, doc)
    assert doc["cancellationReason"] in ("first", "second")
    async with gateway.transaction() as tx:
        stored = {task["id"]: task for task in await documents.find(tx, "cancelProductOrder")}
    assert {id: task["state"] for id, task in stored.items()} == {
        "t1": "done",
        "t2": "done",
        "t3": "done",
        "t4": "inProgress",
    }
    assert stored["t1"]["effectiveCancellationDate"].endswith("Z") and "effectiveCancellationDate" not in stored["t3"]


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=lambda lifecycle: lifecycle.kind)
def test_state_changes_name_the_order_and_each_item_whose_state_a_change_sets(lifecycle: OrderLifecycle) -> None:
    old = order(lifecycle, {"id": "1", "state": "inProgress"}, {"id": "2", "state": "inProgress"}, state="inProgress")
    assert lifecycle.state_changes(old, copy.deepcopy(old)) == []
    described = {**copy.deepcopy(old), "description": "other"}
    assert lifecycle.state_changes(old, described) == []
    cancelled = order(lifecycle, {"id": "1", "state": "inProgress"}, {"id": "2", "state": "cancelled"}, state="pending")
    assert lifecycle.state_changes(old, cancelled) == ["state", "item 2"]
    added = order(lifecycle, {"id": "1", "state": "inProgress"}, {"id": "2", "state": "inProgress"}, state="inProgress")
    added[lifecycle.item_key] += [{"id": "3"}, {"id": "4", "state": "completed"}]
    assert lifecycle.state_changes(old, added) == ["item 4"]  # a new item may come without a state only
