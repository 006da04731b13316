"""The gateway's own listeners: domain work driven by the outbox, like hub notifications.

Each extension with reactions (``{eventType: function}``) gets an internal subscription,
``tmfgate.<name>``: fan-out gives it a delivery for every event of those types, and the delivery
worker claims it with a lease, keeps a resource's events in order, retries with backoff and parks
what keeps failing, exactly as for a hub listener, but awaits the function with a
:class:`~tmfgate.calls.Job` instead of posting. So the work (decomposing an order, activating a
service) is never done inside the request that caused it, survives a crash, and is done at least
once: every reaction checks the stored state before acting, so doing it twice changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from backends.base import Event
from tmfgate.calls import Job, Later, Reaction
from tmfgate.extensions import Registry
from tmfgate.gateway import Gateway
from tmfgate.metrics import WorkTally
from tmfgate.model import ApiModel
from tmfgate.notifications.posts import Outcome, short
from tmfgate.notifications.subscriptions import Subscription, event_types

INTERNAL_PREFIX = "tmfgate."  # ids of the gateway's own subscriptions
logger = logging.getLogger("tmfgate.delivery")


class Declined(Exception):
    """A reaction that could not do its work for a reason it states (a broker refused the event): retried
    and parked like any failure, with its message as the delivery's error and no trace in the log."""


def internal_subscriptions(gateway: Gateway, registry: Registry) -> list[Subscription]:
    """One subscription per extension that reacts to some events with this configuration."""
    tables = {extension.name: extension.reactions(gateway) for extension in registry.extensions}
    reacting: dict[str, list[str]] = {}  # event type -> the subscriptions that react to it now
    for name, table in tables.items():
        for event_type in table:
            reacting.setdefault(event_type, []).append(f"{INTERNAL_PREFIX}{name}")
    found = []
    for extension in registry.extensions:
        table = tables[extension.name]
        if table:
            found.append(
                Subscription(
                    id=f"{INTERNAL_PREFIX}{extension.name}",
                    api=None,
                    callback=f"internal:{extension.name}",
                    secret=None,
                    event_types=frozenset(table),
                    conditions=(),
                    fields=None,
                    created_at="",
                    reaction=_runner(gateway, table, reacting),
                    sources=sources(gateway.apis, frozenset(table)),
                )
            )
    return found


def sources(apis: list[ApiModel], types: frozenset[str]) -> frozenset[tuple[str, str]]:
    """The (api, eventType) pairs to react to: each type from the first API (by name) that raises it,
    since a change to a resource several APIs serve raises the same event type in each."""
    pairs: dict[str, str] = {}
    for api in sorted(apis, key=lambda api: api.name):
        for event_type in event_types(api) & types:
            pairs.setdefault(event_type, api.name)
    return frozenset((api, event_type) for event_type, api in pairs.items())


def _runner(
    gateway: Gateway, table: Mapping[str, Reaction], reacting: Mapping[str, list[str]]
) -> Callable[[Event, bool], Awaitable[None]]:
    async def run(event: Event, final: bool) -> None:
        reaction = table.get(event.type)
        if reaction is not None:
            await reaction(Job.of(gateway, event, final=final))
            return
        # A delivery made before an upgrade moved this reaction to another extension: the event was
        # fanned out to this subscription only, so it is handed to the ones that react to it now (an
        # incident opened before the SLA escalation became an extension of its own is escalated).
        for moved_to in reacting.get(event.type, ()):
            await gateway.backend.replay(moved_to, event.time, lambda found: found.id == event.id)
            logger.info("Event %s (%s) handed over to %s, which reacts to it now.", event.id, event.type, moved_to)

    return run


async def run(subscription: Subscription, event: Event, final: bool, work: WorkTally | None) -> Outcome:
    """Run one of the gateway's own reactions, tallied in ``work``; a failure is retried like a failed
    POST, and parked after the ``final`` attempt (the reaction is told, so that what waits on it can say so)."""
    assert subscription.reaction is not None
    started, result = time.monotonic(), "done"
    try:
        await subscription.reaction(event, final)
    except Later as later:
        result = "later"
        return Outcome(False, short(str(later)), later=later.at)
    except Declined as declined:
        result = "failed"
        logger.info("Reaction %s to event %s (%s) declined: %s", subscription.id, event.id, event.type, declined)
        return Outcome(False, short(str(declined)))
    except Exception as exc:
        result = "failed"
        logger.warning("Reaction %s to event %s (%s) failed.", subscription.id, event.id, event.type, exc_info=True)
        return Outcome(False, short(f"The reaction failed: {exc!r}"))
    finally:
        if work is not None:
            work.reaction(subscription.id.removeprefix(INTERNAL_PREFIX), event.type, result, time.monotonic() - started)
    return Outcome(True)
