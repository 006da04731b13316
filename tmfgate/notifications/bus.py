"""The event bus (``--event-bus``): every event hub subscribers get, published to a broker as well.

The bus is one of the gateway's own subscriptions, ``tmfgate.event-bus``, taking every event of every
API served. So it has the outbox's guarantees: fan-out gives it a delivery per event once the change
has committed; the delivery worker claims it with a lease, holds a resource's later events back until
its earlier one is settled, and settles it as delivered only after the broker acknowledged it. A broker
that is down or does not answer defers the delivery (retried with backoff, never parked): publishing
waits and then resumes in order, losing nothing. A broker that answers and refuses one event for good
(too large, not allowed: :class:`~tmfgate.notifications.brokers.Refused`) fails that delivery alone,
as a listener's error fails a hub delivery: retried with backoff and parked after
``delivery_attempts``, with the broker's reason, for an operator to redeliver; the bus stays up for the
other events, and the resource's later events follow once it is parked, as a hub's do. A worker that
dies between the ack and the settle publishes again: at least once, as for the hub; consumers
de-duplicate on the message id, the ``eventId``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections.abc import Callable

from backends.base import Event
from tmfgate.calls import Later
from tmfgate.model import ApiModel
from tmfgate.notifications.brokers import Broker, BrokerError, BusAddress, Refused, broker
from tmfgate.notifications.reactions import INTERNAL_PREFIX, Declined
from tmfgate.notifications.subscriptions import ANY_TYPE, Subscription
from tmfgate.settings import Settings

logger = logging.getLogger("tmfgate.bus")

BUS_ID = f"{INTERNAL_PREFIX}event-bus"  # not an extension's name, which is an identifier


class EventBus:
    """Publishes events to the broker of ``settings.event_bus``, connecting when first needed and
    again after a failure."""

    def __init__(
        self,
        settings: Settings,
        apis: list[ApiModel],
        *,
        connect: Callable[[BusAddress, float], Broker] = broker,
    ) -> None:
        self.settings = settings
        self.address = BusAddress.parse(settings.event_bus)
        self.apis = apis
        self._connect = connect
        self._broker: Broker | None = None
        self._lock = asyncio.Lock()
        self._failures = 0  # in a row, for the backoff
        # Until then (monotonic) publishing fails at once: the deliveries claimed during an outage
        # do not each wait for a connection to time out.
        self._resting_until = 0.0

    def subscription(self) -> Subscription:
        """The bus as a subscription to every event of the APIs served."""
        return Subscription(
            id=BUS_ID,
            api=None,
            callback=f"internal:event-bus:{self.address.kind}",
            secret=None,
            event_types=None,
            conditions=(),
            fields=None,
            created_at="",
            reaction=self._react,
            sources=frozenset((api.name, ANY_TYPE) for api in self.apis),
        )

    def subject(self, event: Event) -> str:
        """The NATS subject, AMQP routing key or Kafka topic of ``event``: ``prefix.api.eventType``."""
        return f"{self.address.prefix}.{event.api}.{event.type}"

    async def _react(self, event: Event, final: bool) -> None:
        await self.publish(event)

    async def publish(self, event: Event) -> None:
        """Publish ``event`` as hub subscribers receive it, returning once the broker has it; raises
        :class:`~tmfgate.calls.Later` when the broker cannot be used, so the delivery waits and is never
        parked, and :class:`~tmfgate.notifications.reactions.Declined` when it refused this event."""
        used: Broker | None = None
        try:
            used = await self._connected()
            await used.publish(self.subject(event), event.resource_id, event.id, event.body)
        except Refused as exc:  # the broker is up: no rest, and the next event is tried at once
            if exc.lost:
                await self._dropped(used)
            raise Declined(f"The broker refused event {event.id}: {exc}") from exc
        except _Resting as exc:  # not a failure of its own: it waits for the try after the rest
            rest = self._resting_until - time.monotonic() + random.uniform(0.0, self.settings.retry_delay)
            raise Later(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=max(rest, 0.0)), str(exc)) from exc
        except BrokerError as exc:
            await self._failed(used)
            delay = self.retry_delay()
            self._resting_until = time.monotonic() + delay
            if self._failures == 1:  # once an outage, not once an event
                logger.warning("The event bus cannot publish (%s); events wait in the outbox.", exc)
            raise Later(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay), str(exc)) from exc
        if self._failures:
            logger.info("The event bus publishes again after %d failures.", self._failures)
            self._failures = 0

    def retry_delay(self) -> float:
        """Seconds before trying again: ``--retry-delay`` doubling with each failure in a row, capped
        at ``--retry-delay-max``, with jitter so the waiting deliveries do not retry all at once."""
        settings = self.settings
        base = min(settings.retry_delay_max, settings.retry_delay * 2.0 ** min(self._failures - 1, 64))
        return base * random.uniform(0.5, 1.5)

    async def close(self) -> None:
        async with self._lock:
            used, self._broker = self._broker, None
        if used is not None:
            await used.close()

    async def _connected(self) -> Broker:
        async with self._lock:  # one connection for the publishes running at once
            if self._broker is None:
                if time.monotonic() < self._resting_until:
                    raise _Resting("The broker failed a moment ago; publishing waits for the next try.")
                made = self._connect(self.address, self.settings.delivery_timeout)
                await made.connect()
                self._broker = made
            return self._broker

    async def _failed(self, used: Broker | None) -> None:
        """Count a failure and drop the connection that failed (not one made meanwhile)."""
        self._failures += 1
        await self._dropped(used)

    async def _dropped(self, used: Broker | None) -> None:
        """Drop the connection ``used`` (not one made meanwhile), for the next publish to connect anew."""
        async with self._lock:
            if used is None or self._broker is not used:
                return
            self._broker = None
        await used.close()


class _Resting(BrokerError):
    """Publishing rests after a failure: the broker is not tried again before the rest is over."""


__all__ = ["BUS_ID", "EventBus"]
