"""Group commit: writes that arrive while one transaction commits go together in the next one.

The dispatcher settles each delivery as its answer comes in, many at once under load; one
transaction each means one commit, and on PostgreSQL one WAL flush, each. Here a write waits only
for the transaction in progress, then joins every write that queued meanwhile in one transaction:
one commit for all, and no added wait when writes come one at a time. Each caller returns once its
own write has committed (or raises what the group's transaction raised), so a settled delivery is
never reported settled before it is, and at-least-once delivery holds as with a transaction each.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Runs ``commit(items)`` for the items queued since the last one began, one group at a time."""

    def __init__(self, commit: Callable[[list[T]], Awaitable[None]]) -> None:
        self._commit = commit
        # Per event loop: a future belongs to one loop, and tests run several.
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue[T]] = weakref.WeakKeyDictionary()

    async def submit(self, item: T) -> None:
        """Queue ``item`` and return once the transaction holding it has committed."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        done: asyncio.Future[None] = loop.create_future()
        queue.waiting.append((item, done))
        if not queue.running:
            queue.running = True
            loop.create_task(self._drain(queue))
        await done

    async def _drain(self, queue: _Queue[T]) -> None:
        try:
            while queue.waiting:
                group, queue.waiting = queue.waiting, []
                try:
                    await self._commit([item for item, _ in group])
                except BaseException as exc:
                    if not isinstance(exc, Exception):  # cancelled: nobody commits the rest either
                        group, queue.waiting = group + queue.waiting, []
                    for _, done in group:
                        if not done.done():
                            done.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                else:
                    for _, done in group:
                        if not done.done():
                            done.set_result(None)
        finally:
            queue.running = False


class _Queue(Generic[T]):
    __slots__ = ("running", "waiting")

    def __init__(self) -> None:
        self.waiting: list[tuple[T, asyncio.Future[None]]] = []
        self.running = False


__all__ = ["GroupCommit"]
