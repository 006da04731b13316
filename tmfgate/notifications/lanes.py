"""Bulkheads for delivery: the gateway's own reactions run in a lane of their own, and callbacks
are POSTed at most ``delivery_concurrency`` at once and ``delivery_per_subscriber`` to any one
subscription, so slow or dead listeners cannot hold up fulfilment or each other (F-07)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class Lanes:
    """Semaphores for the two kinds of delivery; a subscription's own is dropped when unused."""

    def __init__(self, callbacks: int, per_subscriber: int, reactions: int) -> None:
        self.per_subscriber = per_subscriber
        self._callbacks = asyncio.Semaphore(callbacks)
        self._reactions = asyncio.Semaphore(reactions)
        self._subscribers: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def reaction(self) -> AsyncIterator[None]:
        async with self._reactions:
            yield

    @contextlib.asynccontextmanager
    async def callback(self, subscription_id: str) -> AsyncIterator[None]:
        """Hold a slot of this subscription, then one of all callbacks (in that order, so a subscription
        at its limit waits without holding a shared slot)."""
        own, users = self._subscribers.get(subscription_id) or (asyncio.Semaphore(self.per_subscriber), 0)
        self._subscribers[subscription_id] = (own, users + 1)
        try:
            async with own, self._callbacks:
                yield
        finally:
            own, users = self._subscribers[subscription_id]
            if users == 1:
                del self._subscribers[subscription_id]
            else:
                self._subscribers[subscription_id] = (own, users - 1)
