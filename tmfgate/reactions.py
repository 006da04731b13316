"""The gateway's own listeners: domain work driven by the outbox, like hub notifications.

A handler module may define ``reactions(gateway)`` returning ``{eventType: function}``. Each API
with reactions gets an internal subscription, ``tmfgate.<api>``: fan-out gives it a delivery for
every event of those types, and the dispatcher claims it with a lease, keeps a resource's events in
order, retries with backoff and parks what keeps failing, exactly as for a hub listener. Instead of
an HTTP POST it awaits the function with a :class:`Job`. So the work (decomposing an order,
activating a service) is never done inside the request that caused it, survives a crash or restart
of the gateway, and is done at least once: every reaction checks the stored state before acting,
so doing it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backends.base import Event
from tmfgate import codec
from tmfgate.dispatcher import INTERNAL_PREFIX
from tmfgate.resolver import handler_module
from tmfgate.subscriptions import Subscription

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

Document = dict[str, Any]


@dataclass(frozen=True)
class Job:
    """One event being reacted to; the actor of the changes the reaction makes.

    The changes carry the event's correlation id, so a subscriber can follow one order from its
    creation through every service order, service and resource it touches."""

    gateway: Gateway
    event: Event
    envelope: Document

    @property
    def correlation_id(self) -> str:
        return str(self.envelope.get("correlationId") or self.event.id)

    @property
    def document(self) -> Document:
        """The resource as the event carries it."""
        return self.envelope.get("event", {}).get(self.event.kind, {})  # type: ignore[no-any-return]


Reaction = Callable[[Job], Awaitable[None]]


def internal_subscriptions(gateway: Gateway) -> list[Subscription]:
    """One subscription per served API whose handler module reacts to its events."""
    found = []
    for api in gateway.apis:
        module = handler_module(api.name)
        make = getattr(module, "reactions", None) if module is not None else None
        table: Mapping[str, Reaction] = make(gateway) if make is not None else {}
        if table:
            found.append(
                Subscription(
                    id=f"{INTERNAL_PREFIX}{api.name}",
                    api=api.name,
                    callback=f"internal:{api.name}",
                    secret=None,
                    event_types=frozenset(table),
                    conditions=(),
                    fields=None,
                    created_at="",
                    reaction=_runner(gateway, table),
                )
            )
    return found


def _runner(gateway: Gateway, table: Mapping[str, Reaction]) -> Callable[[Event], Awaitable[None]]:
    async def run(event: Event) -> None:
        await table[event.type](Job(gateway, event, codec.loads(event.body)))

    return run
