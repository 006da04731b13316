"""The operator commands ``deliveries``, ``redeliver`` and ``replay``, run on the store directly.

They open the gateway's store as the gateway does, so they work whether or not a gateway is running,
and need no network access to one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

from backends.base import Delivery, DeliveryState
from tmfgate import times
from tmfgate.extensions import Command
from tmfgate.gateway import Gateway
from tmfgate.notifications import subscriptions
from tmfgate.settings import Settings

_ERROR_WIDTH = 60


def _deliveries_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state", choices=[state.value for state in DeliveryState], help="only deliveries in this state"
    )
    parser.add_argument("--subscription", metavar="ID", help="only deliveries to this hub subscription")
    parser.add_argument("--limit", type=_positive, default=100, metavar="N", help="at most N (default 100)")


def _redeliver_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("delivery_ids", nargs="+", metavar="DELIVERY_ID", help="a parked delivery's id")


def _replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("subscription_id", metavar="SUBSCRIPTION_ID", help="the hub subscription's id")
    parser.add_argument(
        "--since",
        required=True,
        type=_instant,
        metavar="DATETIME",
        help="ISO 8601 with a time zone, e.g. 2026-11-25T00:00:00Z",
    )


async def _deliveries(args: argparse.Namespace, gateway: Gateway) -> int:
    backend = gateway.backend
    state = DeliveryState(args.state) if args.state else None
    found = await backend.deliveries(state=state, subscription_id=args.subscription, limit=args.limit)
    if not found:
        print("No deliveries match.")
        return 0
    print(table(found))
    if len(found) == args.limit:
        print(f"tmfgate: showing the first {args.limit}; more may match (use --limit).", file=sys.stderr)
    return 0


async def _redeliver(args: argparse.Namespace, gateway: Gateway) -> int:
    failed = 0
    for delivery_id in args.delivery_ids:
        if await gateway.backend.redeliver(delivery_id, now=dt.datetime.now(dt.UTC)):
            print(f"{delivery_id}: pending again, due now")
        else:
            failed += 1
            print(
                f"{delivery_id}: not redelivered; no parked delivery has this id "
                "(see 'tmfgate deliveries --state parked')",
                file=sys.stderr,
            )
    return 1 if failed else 0


async def _replay(args: argparse.Namespace, gateway: Gateway) -> int:
    subscription = (await subscriptions.load_all(gateway.backend, gateway.apis)).get(args.subscription_id)
    if subscription is None:
        print(f"tmfgate: no hub subscription has the id {args.subscription_id}.", file=sys.stderr)
        return 1
    count = await gateway.backend.replay(subscription.id, args.since, subscription.accepts)
    print(
        f"{count} event{'' if count == 1 else 's'} since {times.stamp(args.since)} queued for subscription "
        f"{subscription.id} ({subscription.callback})"
    )
    return 0


COMMANDS = (
    Command(
        "deliveries",
        "list deliveries of hub events, oldest first (e.g. --state parked)",
        (Settings.database_url,),
        _deliveries_arguments,
        _deliveries,
    ),
    Command(
        "redeliver",
        "send parked deliveries again, due now",
        (Settings.database_url,),
        _redeliver_arguments,
        _redeliver,
    ),
    Command(
        "replay",
        "send a hub subscription the events it accepts again, from a point in time",
        (Settings.database_url,),
        _replay_arguments,
        _replay,
    ),
)


def table(deliveries: Sequence[Delivery]) -> str:
    """Deliveries as aligned text columns."""
    rows = [("ID", "SUBSCRIPTION", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "EVENT", "RESOURCE", "LAST ERROR")]
    for delivery in deliveries:
        event = delivery.event
        error = " ".join((delivery.last_error or "").split())
        if len(error) > _ERROR_WIDTH:
            error = error[: _ERROR_WIDTH - 1] + "…"
        rows.append(
            (
                delivery.id,
                delivery.subscription_id,
                delivery.state.value,
                str(delivery.attempts),
                times.stamp(delivery.next_attempt),
                event.type,
                f"{event.kind}/{event.resource_id}",
                error,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _instant(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date-time such as 2026-11-25T00:00:00Z") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone, such as 2026-11-25T00:00:00Z")
    return moment.astimezone(dt.UTC)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
