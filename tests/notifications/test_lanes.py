"""Delivery lanes: callbacks at most so many at once, and per subscription; reactions apart."""

from __future__ import annotations

import asyncio

import pytest

from tmfgate.notifications.lanes import Lanes

pytestmark = pytest.mark.anyio


async def test_callbacks_are_capped_in_all_and_per_subscription_and_reactions_run_apart() -> None:
    lanes = Lanes(callbacks=3, per_subscriber=2, reactions=1)
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    release = asyncio.Event()

    async def post(subscription: str) -> None:
        async with lanes.callback(subscription):
            running[subscription] = running.get(subscription, 0) + 1
            peak[subscription] = max(peak.get(subscription, 0), running[subscription])
            peak["all"] = max(peak.get("all", 0), sum(v for k, v in running.items() if k != "all"))
            await release.wait()
            running[subscription] -= 1

    tasks = [asyncio.create_task(post(s)) for s in ["slow"] * 5 + ["other"] * 2]
    await asyncio.sleep(0.05)
    assert peak == {"slow": 2, "other": 1, "all": 3}  # the slow one holds 2, the other still gets in
    async with lanes.reaction():  # the callbacks' slots are all taken; a reaction goes on
        pass
    release.set()
    await asyncio.gather(*tasks)
    assert lanes._subscribers == {}  # a subscription's semaphore goes once unused
