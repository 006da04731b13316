"""Event retention: the outbox forgets an event once it is old enough and every delivery of it was made.

Without it the outbox keeps every event and delivery for good (a store of many orders keeps
several events each). Each dispatcher prunes now and then (``PRUNE_INTERVAL``, or half the
retention when that is shorter), in batches with a turn of the event loop between them. Events
not yet fanned out, and events with a pending or parked delivery, are kept whatever their age:
pruning never loses a notification, it only limits how far back an operator can ``replay``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

from backends.base import Backend

logger = logging.getLogger("tmfgate.retention")

PRUNE_INTERVAL = 60.0  # seconds between two prunes by one dispatcher, at most
PRUNE_BATCH = 1000  # events per transaction


class Pruner:
    """Prunes a store's outbox of the events older than ``days`` (never, when ``days`` is 0)."""

    def __init__(self, backend: Backend, days: float) -> None:
        self.backend = backend
        self.retention = dt.timedelta(days=days) if days > 0 else None
        self.interval = min(PRUNE_INTERVAL, self.retention.total_seconds() / 2) if self.retention else 0.0
        self._next = time.monotonic()  # a first prune at start-up

    async def tick(self) -> int:
        """Prune when it is time; how many events went. Store errors are the caller's to handle."""
        if self.retention is None or time.monotonic() < self._next:
            return 0
        self._next = time.monotonic() + self.interval
        before = dt.datetime.now(dt.UTC) - self.retention
        total = 0
        while taken := await self.backend.prune(before, limit=PRUNE_BATCH):
            total += taken
            if taken < PRUNE_BATCH:
                break
            await asyncio.sleep(0)  # requests and deliveries run between batches
        if total:
            logger.info("Pruned %d delivered events from before %s.", total, before.isoformat())
        return total
