"""Metrics: requests by API, operation and status with their latency; the outbox and the pool read at scrape time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from backends import open_backend
from tests.api.clients import in_process
from tests.api.end_to_end import add, wait
from tests.backends.contract.support import event, fan_out_all, record, to
from tmfgate.metrics import Metrics, WorkTally, pool_use

pytestmark = pytest.mark.anyio


async def test_requests_and_the_outbox_are_exposed() -> None:
    metrics = Metrics()
    metrics.observe("tmf622", "createProductOrder", 201, 0.004)
    metrics.observe("tmf622", "createProductOrder", 201, 0.2)
    backend = open_backend("memory://")
    await backend.open()
    await record(backend, event("productOrder", "o-1", at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=90)))
    await fan_out_all(backend, to("s1", "s2"))
    lines = (await metrics.exposition(backend)).decode().splitlines()
    await backend.close()
    assert 'tmfgate_requests_total{api="tmf622",operation="createProductOrder",status="201"} 2.0' in lines
    assert (
        'tmfgate_request_duration_seconds_bucket{api="tmf622",le="0.005",operation="createProductOrder"} 1.0' in lines
    )
    assert 'tmfgate_deliveries{state="pending"} 2.0' in lines and 'tmfgate_deliveries{state="parked"} 0.0' in lines
    age = next(line for line in lines if line.startswith("tmfgate_outbox_oldest_pending_seconds "))
    assert 90 <= float(age.split()[1]) < 150
    assert 'tmfgate_db_pool_connections{use="checked_out"} 0.0' in lines  # memory: no pool


async def test_the_pool_of_a_sql_store_is_read(tmp_path: Path) -> None:
    backend = open_backend(f"sqlite:///{tmp_path}/store.db")
    await backend.open()
    async with backend.transaction():
        assert pool_use(backend)[0] == 1  # this transaction's connection
    checked_out, idle = pool_use(backend)
    await backend.close()
    assert checked_out == 0 and idle >= 1


async def test_the_delivery_workers_outcomes_and_reactions_are_exposed() -> None:
    work = WorkTally()
    work.delivery("callback", "delivered")
    work.delivery("callback", "delivered")
    work.delivery("reaction", "parked")
    work.reaction("fulfilment", "ProductOrderCreateEvent", "done", 0.003)
    work.reaction("fulfilment", "ProductOrderCreateEvent", "failed", 0.2)
    backend = open_backend("memory://")
    await backend.open()
    lines = (await Metrics(work).exposition(backend)).decode().splitlines()
    await backend.close()
    assert 'tmfgate_delivery_outcomes_total{kind="callback",outcome="delivered"} 2.0' in lines
    assert 'tmfgate_delivery_outcomes_total{kind="reaction",outcome="parked"} 1.0' in lines
    step = 'tmfgate_reactions_total{event_type="ProductOrderCreateEvent",outcome="%s",reaction="fulfilment"} 1.0'
    assert step % "done" in lines and step % "failed" in lines
    assert 'tmfgate_reaction_duration_seconds_bucket{le="0.005",reaction="fulfilment"} 1.0' in lines
    assert 'tmfgate_reaction_duration_seconds_count{reaction="fulfilment"} 2.0' in lines


def test_a_gateway_tallies_its_fulfilment_steps_and_deliveries() -> None:
    with in_process("memory://") as client:
        body = {"productOrderItem": [add("1", "po-mobile-unlimited")]}
        made = client.post("/tmf-api/productOrderingManagement/v4/productOrder", json=body).json()
        order = f"/tmf-api/productOrderingManagement/v4/productOrder/{made['id']}"
        wait(lambda: client.get(order).json()["state"], lambda state: state == "completed", 20, "the order")
        work = client.app.runtime.gateway.work
        assert work.reactions[("fulfilment", "ProductOrderCreateEvent", "done")] == 1
        assert work.settled[("reaction", "delivered")] >= 3  # the order, its service order, their activation
