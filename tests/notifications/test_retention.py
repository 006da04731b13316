"""Event retention: a Pruner prunes in batches, when it is time, and never with no retention set."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tmfgate.notifications import retention
from tmfgate.notifications.retention import Pruner

pytestmark = pytest.mark.anyio


class Outbox:
    """The prune of an outbox holding ``old`` prunable events; records each call."""

    def __init__(self, old: int) -> None:
        self.old = old
        self.calls: list[tuple[dt.datetime, int]] = []

    async def prune(self, before: dt.datetime, *, limit: int) -> int:
        self.calls.append((before, limit))
        taken = min(self.old, limit)
        self.old -= taken
        return taken


def pruner(outbox: Outbox, days: float) -> Pruner:
    return Pruner(outbox, days)  # type: ignore[arg-type]


async def test_a_first_tick_prunes_everything_older_than_the_retention_in_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retention, "PRUNE_BATCH", 10)
    outbox = Outbox(old=25)
    started = dt.datetime.now(dt.UTC)
    assert await pruner(outbox, days=2).tick() == 25
    assert [limit for _, limit in outbox.calls] == [10, 10, 10]
    before = outbox.calls[0][0]
    assert before <= started - dt.timedelta(days=2) + dt.timedelta(seconds=5)
    assert before >= started - dt.timedelta(days=2) - dt.timedelta(seconds=5)


async def test_the_next_prune_waits_for_the_interval() -> None:
    outbox = Outbox(old=3)
    running = pruner(outbox, days=1)
    assert running.interval == retention.PRUNE_INTERVAL
    assert await running.tick() == 3
    outbox.old = 5
    assert await running.tick() == 0 and len(outbox.calls) == 1  # not yet
    running._next = 0.0  # the interval has passed
    assert await running.tick() == 5


def test_a_short_retention_prunes_twice_as_often_as_it_lasts() -> None:
    assert pruner(Outbox(0), days=30 / 86_400).interval == pytest.approx(15.0)


async def test_no_retention_never_prunes() -> None:
    outbox = Outbox(old=3)
    disabled: Any = pruner(outbox, days=0)
    assert disabled.retention is None and await disabled.tick() == 0 and outbox.calls == []
