"""A gateway killed in the middle of fulfilment resumes within seconds of its restart, not after long leases."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import requests

from tests.api.end_to_end import add, database_fixture, wait
from tests.gateways import served
from tmfgate.notifications.delivery import LEASE

database = database_fixture("tmfgate_recovery")
ORDERING = "/tmf-api/productOrderingManagement/v4"
SERVICE_ORDERING = "/tmf-api/serviceOrdering/v4"
DELAY = 0.5  # seconds each activation takes


def items_completed(url: str, order_id: str) -> int:
    found = requests.get(f"{url}{SERVICE_ORDERING}/serviceOrder", params={"externalId": order_id}, timeout=10).json()
    return sum(item["state"] == "completed" for item in found[0]["serviceOrderItem"]) if found else 0


def test_fulfilment_resumes_within_a_lease_of_the_restart(database: str, tmp_path: Path) -> None:
    # The default delivery timeout (10 s): leases no longer depend on it.
    env = {"TMFGATE_ACTIVATION_DELAY": str(DELAY), "TMFGATE_RETRY_DELAY": "0.1", "TMFGATE_RETRY_DELAY_MAX": "0.5"}
    with served(database, tmp_path, env=env) as (process, url):
        body = {"productOrderItem": [add("1", "po-mobile-unlimited")]}
        order = requests.post(f"{url}{ORDERING}/productOrder", json=body, timeout=10).json()
        wait(lambda: items_completed(url, order["id"]), lambda done: done >= 1, 20, "the first activation")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    with served(database, tmp_path, env=env) as (_, url):
        restarted = time.monotonic()
        done_before = items_completed(url, order["id"])
        # The killed worker's lease runs out within LEASE seconds; then an activation takes DELAY.
        wait(
            lambda: items_completed(url, order["id"]),
            lambda done: done > done_before,
            LEASE + 3 * DELAY + 3,
            "the next activation after the restart",
        )
        assert time.monotonic() - restarted <= LEASE + 3 * DELAY + 3
        final = wait(
            lambda: requests.get(f"{url}{ORDERING}/productOrder/{order['id']}", timeout=10).json(),
            lambda found: found["state"] in ("completed", "failed", "partial"),
            30,
            "the order to end",
        )
        assert final["state"] == "completed", final.get("note")
