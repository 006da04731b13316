"""The delivery worker: sends the outbox's events to hub subscribers over HTTP (TMF630 Part 1 §10).

One loop, in the gateway process or in ``tmfgate dispatch``:

1. **fan out** new events into one pending delivery per subscription that accepts them;
2. **claim** the deliveries that are due, as many as there are free delivery slots (the store
   leases them, so several workers never send the same one at once, and holds back a resource's
   later events until its earlier one is settled, so they arrive in order);
3. **deliver** each in a task of its own: a POST of the subscriber's payload to its callback, as
   given, or the gateway's own reaction; any 2xx is delivered (v4 listeners answer 201, v5 ones 204);
4. **settle**: delivered; or pending again after an exponential backoff with jitter; or parked
   once ``delivery_attempts`` are spent, for an operator to redeliver.

When there is nothing to do the loop sleeps until a commit of this process, a settled delivery
(which may free a resource's next event), the next retry it scheduled, or a short poll (other
processes commit too). Passes start at most once a millisecond (``PASS_INTERVAL``), so under load
one pass takes many commits instead of one each. Delivery is at least once: a listener
de-duplicates on ``eventId``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import httpx
from opentelemetry.trace import Span

from backends.base import Backend, Delivery, Event, Route
from tmfgate.metrics import WorkTally
from tmfgate.model import ApiModel
from tmfgate.notifications import reactions, subscriptions
from tmfgate.notifications.bus import BUS_ID
from tmfgate.notifications.callbacks import Resolver
from tmfgate.notifications.lanes import Lanes
from tmfgate.notifications.posts import Outcome, Poster
from tmfgate.notifications.reactions import INTERNAL_PREFIX
from tmfgate.notifications.retention import Pruner
from tmfgate.notifications.subscriptions import Subscription
from tmfgate.settings import Settings
from tmfgate.tracing import Tracing

logger = logging.getLogger("tmfgate.delivery")

CONCURRENCY = 32  # reactions running at once, and the default of callbacks POSTed at once
# Deliveries claimed and not settled, at most: those waiting for a slow subscription's slot hold
# their lease (renewed) without blocking the reactions claimed with them (tmfgate.notifications.lanes).
MAX_CLAIMED = 1000
FAN_OUT_BATCH = 200
POLL_INTERVAL = 0.5  # seconds between looks at the outbox when idle: other processes commit too
# Seconds from the start of one pass to the next, at least. A pass costs about as much as a whole
# POST on memory:// whatever it finds, and under load every commit wakes the loop: paced, a pass
# takes all the commits of its interval at once. An idle worker still starts at once.
PASS_INTERVAL = 0.001
SUBSCRIPTIONS_TTL = 1.0  # seconds a list of subscriptions serves (a removed one may get events that long)
STOP_GRACE = 5.0  # seconds in-flight deliveries get to finish when the worker stops
ERROR_BACKOFF_MAX = 5.0  # seconds between attempts to reach a failing store
# Seconds a claimed delivery is leased for; the worker renews the leases of those in flight every
# RENEW_INTERVAL, so a worker that dies gives its deliveries back within a lease.
LEASE = 5.0
RENEW_INTERVAL = LEASE / 3


@dataclass(frozen=True)
class _Loaded:
    """The subscriptions, as read from the store at ``monotonic`` (taken before the read)."""

    by_id: dict[str, Subscription]
    monotonic: float


class DeliveryWorker:
    """Fans out, claims, delivers and settles the outbox's deliveries; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        apis: list[ApiModel],
        *,
        committed: asyncio.Event | None = None,
        concurrency: int = CONCURRENCY,
        internal: Iterable[Subscription] = (),
        transport: httpx.AsyncBaseTransport | None = None,
        resolve: Resolver | None = None,
        work: WorkTally | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.apis = apis
        self.work, self.tracing = work, tracing  # /metrics and spans, when the gateway has them
        self.concurrency = max(1, concurrency)
        self._poster = Poster(settings, transport=transport, resolve=resolve)
        self._lanes = Lanes(settings.delivery_concurrency, settings.delivery_per_subscriber, reactions=self.concurrency)
        self.internal = {subscription.id: subscription for subscription in internal}
        # One event wakes the idle loop: set by the gateway's commits (when it shares it), by a
        # settled delivery, by a timeout and by stop. Waiting on a single event costs no task per
        # pass, where waiting for the first of several would create one per awaitable (a pass per
        # commit under load).
        self._wake = committed if committed is not None else asyncio.Event()
        self._lease = LEASE
        self._loaded: _Loaded | None = None
        self._reload_lock = asyncio.Lock()
        self._inflight: dict[asyncio.Task[None], str] = {}  # each delivery in flight, and its id
        self._next_retry: float | None = None  # monotonic time of the earliest retry this worker set
        self._pruner = Pruner(backend, settings.event_retention)

    # The loop

    async def step(self) -> int:
        """One round: fan out, claim what is due, deliver it and settle it; returns the work done."""
        routed = await self._fan_out()
        started = await self._claim()
        if started:
            await asyncio.gather(*started)
        return routed + len(started)

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; store errors are logged and retried, never raised."""
        backoff = 0.0
        watch = asyncio.create_task(stop.wait())
        watch.add_done_callback(lambda _: self._wake.set())
        renewing = asyncio.create_task(self._renew_leases(stop), name="tmfgate-leases")
        last_pass = -PASS_INTERVAL
        try:
            while not stop.is_set():
                pause = last_pass + PASS_INTERVAL - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)  # requests run meanwhile
                last_pass = time.monotonic()
                # Cleared before looking, so a commit or settle made while we look wakes the next wait.
                self._wake.clear()
                try:
                    worked = await self._fan_out() + len(await self._claim())
                    await self._pruner.tick()
                    backoff = 0.0
                except Exception:
                    backoff = min(ERROR_BACKOFF_MAX, backoff * 2 or POLL_INTERVAL)
                    logger.warning("Event dispatch failed; trying again in %.1f s.", backoff, exc_info=True)
                    with contextlib.suppress(TimeoutError):  # commits do not cut a backoff short
                        await asyncio.wait_for(stop.wait(), timeout=backoff)
                    continue
                if worked:
                    continue  # after the pause above, which lets requests run between busy passes
                await self._sleep(self._idle_timeout(), stop)
        finally:
            watch.cancel()
            await self._drain()
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _renew_leases(self, stop: asyncio.Event) -> None:
        """Keep renewing the short leases of the deliveries in flight, so that those of a worker that
        died run out within a lease (a restarted gateway resumes its reactions within seconds), while
        a slow listener or reaction keeps its own."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=RENEW_INTERVAL)
            ids = list(self._inflight.values())
            if ids and not stop.is_set():
                try:
                    await self.backend.renew(ids, until=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self._lease))
                except Exception:
                    logger.warning("Could not renew the leases of %d deliveries.", len(ids), exc_info=True)

    async def _sleep(self, timeout: float, stop: asyncio.Event) -> None:
        """Until woken (a commit, a settled delivery, stop) or ``timeout`` seconds pass."""
        if stop.is_set():
            return
        if timeout <= 0:
            await asyncio.sleep(0)
            return
        timer = asyncio.get_running_loop().call_later(timeout, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            timer.cancel()

    async def close(self) -> None:
        """Finish or cancel the deliveries in flight and close the connections to listeners."""
        await self._drain()
        await self._poster.close()

    def _idle_timeout(self) -> float:
        timeout = POLL_INTERVAL
        if self._next_retry is not None:
            remaining = self._next_retry - time.monotonic()
            if remaining <= 0:
                self._next_retry = None
                return 0.0
            timeout = min(timeout, remaining)
        return timeout

    async def _drain(self) -> None:
        """Give in-flight deliveries a moment to finish; a cancelled one is sent again after its lease."""
        if not self._inflight:
            return
        pending = set(self._inflight)
        _, late = await asyncio.wait(pending, timeout=STOP_GRACE)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)

    # Fan-out

    async def _fan_out(self) -> int:
        loaded = self._loaded
        if loaded is None or time.monotonic() - loaded.monotonic > SUBSCRIPTIONS_TTL:
            loaded = await self._reload()
        batch: list[Event] = []
        taken = await self.backend.fan_out(self._route(loaded, batch), limit=FAN_OUT_BATCH)
        if taken:
            await self._catch_up(loaded, batch)
        return taken

    def _route(self, loaded: _Loaded, batch: list[Event]) -> Route:
        """The route for fan-out: parses each event's body once, and only when a query needs it."""
        by_api: dict[str, list[Subscription]] = {}
        by_kind: dict[tuple[str, str], list[Subscription]] = {}  # those hearing another API's events of a kind
        for subscription in loaded.by_id.values():
            apis = (
                {subscription.api} if subscription.api is not None else {api for api, _ in subscription.sources or ()}
            )
            for api in apis:
                by_api.setdefault(api, []).append(subscription)
            for pair in subscription.shared:
                by_kind.setdefault(pair, []).append(subscription)

        def route(event: Event) -> Iterable[str]:
            batch.append(event)
            candidates = by_api.get(event.api, [])
            if by_kind:
                candidates = candidates + by_kind.get((event.api, event.kind), [])
            return subscriptions.accepting(candidates, event)

        return route

    async def _catch_up(self, used: _Loaded, batch: list[Event]) -> None:
        """Give a routed batch to the subscriptions made while it was routed.

        The subscriptions were read before fan-out read the events, so one committed in between
        is missing although a change committed after it may be in the batch. Reading them again
        after fan-out closes that gap; the fresh list also routes the next batch.
        """
        fresh = await self._reload()
        for subscription in fresh.by_id.values():
            if subscription.id in used.by_id:
                continue
            owed = [event for event in batch if subscriptions.accepting([subscription], event)]
            if owed:
                await self.backend.replay(subscription.id, min(event.time for event in owed), subscriptions.among(owed))

    async def _reload(self) -> _Loaded:
        started = time.monotonic()
        stored = await subscriptions.load_all(self.backend, self.apis)
        self._loaded = _Loaded({**stored, **self.internal}, started)
        return self._loaded

    async def _subscription(self, id: str, claimed: float) -> Subscription | None:
        """The subscription of a claimed delivery; read again when unknown, in case it is new."""
        loaded = self._loaded
        if loaded is not None and id in loaded.by_id:
            return loaded.by_id[id]
        async with self._reload_lock:  # one read for a batch of deliveries to the same newcomer
            loaded = self._loaded
            if loaded is None or loaded.monotonic < claimed:
                loaded = await self._reload()
        return loaded.by_id.get(id)

    # Claim, deliver, settle

    async def _claim(self) -> list[asyncio.Task[None]]:
        free = MAX_CLAIMED - len(self._inflight)
        if free <= 0:
            return []
        claimed_at = time.monotonic()
        claimed = await self.backend.claim(limit=free, lease=self._lease, now=dt.datetime.now(dt.UTC))
        started = []
        for delivery in claimed:
            task = asyncio.create_task(self._deliver(delivery, claimed_at))
            self._inflight[task] = delivery.id
            task.add_done_callback(self._finished)
            started.append(task)
        return started

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self._wake.set()  # a settled delivery may free a resource's next event

    async def _deliver(self, delivery: Delivery, claimed_at: float) -> None:
        try:
            subscription = await self._subscription(delivery.subscription_id, claimed_at)
            if subscription is None and delivery.subscription_id.startswith(INTERNAL_PREFIX):
                # A reaction of a gateway configured otherwise (fulfilment on there, off here):
                # leave it to that one, and look again later in case none runs any more.
                retry_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.settings.retry_delay_max)
                await self.backend.settle(
                    delivery.id,
                    delivered=False,
                    retry_at=retry_at,
                    error="No delivery worker running this reaction has taken it.",
                )
                return
            if subscription is None:
                # Unsubscribed: nothing is owed to it any more (its other deliveries go too).
                await self.backend.drop_deliveries(delivery.subscription_id)
                return
            with self._span(delivery, subscription) as span:
                verdict = await self._settle(delivery, subscription, await self._attempt(delivery, subscription))
                if span is not None:
                    span.set_attribute("tmfgate.outcome", verdict)
            if self.work is not None:
                self.work.delivery("callback" if subscription.reaction is None else "reaction", verdict)
        except Exception:
            # The lease runs out and the delivery is claimed again: at least once, maybe twice.
            logger.warning(
                "Delivery %s of event %s could not be settled.", delivery.id, delivery.event.id, exc_info=True
            )

    async def _attempt(self, delivery: Delivery, subscription: Subscription) -> Outcome:
        if subscription.id == BUS_ID:
            # The event bus waits on an outside system, as a listener does: it takes a callback's slots,
            # so a broker slow to acknowledge holds up neither fulfilment nor the other listeners.
            async with self._lanes.callback(subscription.id):
                return await reactions.run(subscription, delivery.event, False, self.work)
        if subscription.reaction is not None:
            async with self._lanes.reaction():
                final = delivery.attempts + 1 >= self.settings.delivery_attempts
                return await reactions.run(subscription, delivery.event, final, self.work)
        async with self._lanes.callback(subscription.id):
            return await self._poster.post(subscription, delivery.event)

    def _span(self, delivery: Delivery, subscription: Subscription) -> AbstractContextManager[Span | None]:
        """A span of the delivery when tracing, carrying the correlation id of the request that raised it."""
        if self.tracing is None:
            return contextlib.nullcontext()
        verb = f"react {subscription.id.removeprefix(INTERNAL_PREFIX)}" if subscription.reaction else "deliver"
        return self.tracing.work(verb, delivery.event, subscription.id)

    async def _settle(self, delivery: Delivery, subscription: Subscription, outcome: Outcome) -> str:
        """Record the attempt; returns what came of it: delivered, deferred, parked or retried."""
        if outcome.delivered:
            await self.backend.settle(delivery.id, delivered=True)
            return "delivered"
        if outcome.later is not None:
            await self.backend.settle(delivery.id, delivered=False, error=outcome.error, retry_at=outcome.later)
            self._retry_by(max(0.0, (outcome.later - dt.datetime.now(dt.UTC)).total_seconds()))
            return "deferred"
        attempts = delivery.attempts + 1
        if attempts >= self.settings.delivery_attempts:
            await self.backend.settle(delivery.id, delivered=False, error=outcome.error)
            logger.warning(
                "Parked event %s for %s after %d attempts: %s",
                delivery.event.id,
                subscription.callback,
                attempts,
                outcome.error,
            )
            return "parked"
        delay = self.retry_delay(delivery.attempts)
        retry_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)
        await self.backend.settle(delivery.id, delivered=False, error=outcome.error, retry_at=retry_at)
        self._retry_by(delay)
        logger.debug(
            "Event %s to %s failed (%s); retry in %.2f s.",
            delivery.event.id,
            subscription.callback,
            outcome.error,
            delay,
        )
        return "retried"

    def _retry_by(self, delay: float) -> None:
        """Wake up in ``delay`` seconds at the latest, for a delivery due then."""
        due = time.monotonic() + delay
        if self._next_retry is None or due < self._next_retry:
            self._next_retry = due

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` failed ones: doubling, capped, with jitter."""
        base = min(self.settings.retry_delay_max, self.settings.retry_delay * 2.0 ** min(attempts, 64))
        # Jitter spreads the retries of many deliveries that failed together (a listener outage).
        return base * random.uniform(0.5, 1.5)


__all__ = ["DeliveryWorker"]
