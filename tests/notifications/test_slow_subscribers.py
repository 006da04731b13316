"""Slow or dead hub subscribers cannot stall the gateway (issue 13 item 5, security review F-07):
150 subscriptions whose listener answers only after the delivery timeout leave one order's
fulfilment time within 2x of the time it takes with none."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.conftest import RunningGateway
from tests.listeners import ListenerProcess

ORDERING = "/tmf-api/productOrderingManagement/v4"
ORDER = {
    "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "po-fibre-500"}}],
    "relatedParty": [{"id": "cust-42", "role": "customer", "@referredType": "Individual"}],
    "billingAccount": {"id": "ba-7"},
}
SLOW_SUBSCRIBERS = 150


def fulfilment_time(url: str) -> float:
    """Seconds from a fibre order's creation until it has completed."""
    started = time.monotonic()
    created = requests.post(f"{url}{ORDERING}/productOrder", json=ORDER, timeout=30)
    assert created.status_code == 201, created.text
    href = f"{url}{ORDERING}/productOrder/{created.json()['id']}"
    while time.monotonic() - started < 120:
        if requests.get(href, timeout=30).json()["state"] == "completed":
            return time.monotonic() - started
        time.sleep(0.02)
    pytest.fail("the order did not complete within 120 s")


@pytest.mark.timeout(300)
def test_150_slow_subscribers_leave_fulfilment_within_twice_its_normal_time(tmp_path: Path) -> None:
    # Activation steps answer in 0.25 s, as a network does (the review's normal was 0.5 s): on memory://
    # with instant steps an order completes in 0.08 s, where 150 extra POSTs cost this shared CPU more.
    settings = {"delivery_timeout": 2.0, "callback_hosts": "127.0.0.1", "activation_delay": 0.25}
    with (
        RunningGateway("memory://", **settings) as gateway,
        ListenerProcess(tmp_path / "slow.jsonl", delay=3.0) as slow,
    ):
        fulfilment_time(gateway.url)  # warm up: catalog, connections
        normal = min(fulfilment_time(gateway.url) for _ in range(3))
        for n in range(SLOW_SUBSCRIBERS):
            hub = requests.post(f"{gateway.url}{ORDERING}/hub", json={"callback": f"{slow.callback}/{n}"}, timeout=30)
            assert hub.status_code == 201, hub.text
        time.sleep(1.5)  # the subscriptions are read again (SUBSCRIPTIONS_TTL)
        # The best of two, as for the normal time: one sample on a CPU shared with other test workers is
        # noise; the second order meets the first one's 150 slow deliveries still pending, so it is no easier.
        crowded = min(fulfilment_time(gateway.url) for _ in range(2))
        # The slow listener was being called meanwhile (it logs a call when it answers, 3 s on).
        slow.wait_for(lambda entries: len(entries) >= SLOW_SUBSCRIBERS, timeout=60)
        assert crowded <= 2 * normal, (
            f"{crowded:.2f} s with {SLOW_SUBSCRIBERS} slow subscribers, {normal:.2f} s with none"
        )
