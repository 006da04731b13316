"""The operator commands ``deliveries``, ``redeliver`` and ``replay``, run on the store directly.

They open the configured store (``TMFGATE_DATABASE_URL`` or ``--database-url``) as the gateway does,
so they work whether or not a gateway is running, and need no network access to one.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

from backends import open_backend
from backends.base import Backend, BackendConfigurationError, Delivery, DeliveryState, StorageError
from tmfgate import model, specs, subscriptions, times
from tmfgate.errors import ConfigurationError
from tmfgate.settings import Settings

COMMANDS = ("deliveries", "redeliver", "replay")
_ERROR_WIDTH = 60


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the operator commands to the ``tmfgate`` command line."""
    deliveries = subparsers.add_parser(
        "deliveries", help="list deliveries of hub events, oldest first (e.g. --state parked)"
    )
    deliveries.add_argument("--state", choices=[state.value for state in DeliveryState])
    deliveries.add_argument("--subscription", metavar="ID", help="only deliveries to this hub subscription")
    deliveries.add_argument("--limit", type=_positive, default=100, metavar="N", help="at most N (default 100)")
    redeliver = subparsers.add_parser("redeliver", help="send parked deliveries again, due now")
    redeliver.add_argument("delivery_ids", nargs="+", metavar="DELIVERY_ID")
    replay = subparsers.add_parser(
        "replay", help="send a hub subscription the events it accepts again, from a point in time"
    )
    replay.add_argument("subscription_id", metavar="SUBSCRIPTION_ID")
    replay.add_argument(
        "--since",
        required=True,
        type=_instant,
        metavar="DATETIME",
        help="ISO 8601 with a time zone, e.g. 2026-11-25T00:00:00Z",
    )
    for command in (deliveries, redeliver, replay):
        command.add_argument(
            "--database-url", help="the gateway's store (default: TMFGATE_DATABASE_URL, else sqlite:///tmfgate.db)"
        )


def run(args: argparse.Namespace) -> int:
    """Run one operator command; 0 when it did everything asked, 1 when not, 2 on a setup problem."""
    try:
        settings = Settings.from_env().with_overrides(database_url=args.database_url)
        backend = _open(settings.database_url)
        return asyncio.run(_run(args, backend))
    except ConfigurationError as exc:
        print(f"tmfgate: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"tmfgate: the store cannot be used: {exc}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, backend: Backend) -> int:
    await backend.open()
    try:
        if args.command == "deliveries":
            return await _deliveries(backend, args)
        if args.command == "redeliver":
            return await _redeliver(backend, args.delivery_ids)
        return await _replay(backend, args.subscription_id, args.since)
    finally:
        await backend.close()


async def _deliveries(backend: Backend, args: argparse.Namespace) -> int:
    state = DeliveryState(args.state) if args.state else None
    found = await backend.deliveries(state=state, subscription_id=args.subscription, limit=args.limit)
    if not found:
        print("No deliveries match.")
        return 0
    print(table(found))
    if len(found) == args.limit:
        print(f"tmfgate: showing the first {args.limit}; more may match (use --limit).", file=sys.stderr)
    return 0


async def _redeliver(backend: Backend, delivery_ids: Sequence[str]) -> int:
    failed = 0
    for delivery_id in delivery_ids:
        if await backend.redeliver(delivery_id, now=dt.datetime.now(dt.UTC)):
            print(f"{delivery_id}: pending again, due now")
        else:
            failed += 1
            print(
                f"{delivery_id}: not redelivered; no parked delivery has this id "
                "(see 'tmfgate deliveries --state parked')",
                file=sys.stderr,
            )
    return 1 if failed else 0


async def _replay(backend: Backend, subscription_id: str, since: dt.datetime) -> int:
    apis = [model.build(spec) for spec in specs.load_all()]
    subscription = (await subscriptions.load_all(backend, apis)).get(subscription_id)
    if subscription is None:
        print(f"tmfgate: no hub subscription has the id {subscription_id}.", file=sys.stderr)
        return 1
    count = await backend.replay(subscription.id, since, subscription.accepts)
    print(
        f"{count} event{'' if count == 1 else 's'} since {times.stamp(since)} queued for subscription "
        f"{subscription.id} ({subscription.callback})"
    )
    return 0


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


def _open(url: str) -> Backend:
    if url.startswith("memory:"):
        raise ConfigurationError(
            "memory:// lives inside the gateway process; use the administration API "
            "at /tmfgate/admin/v1 of that gateway, or give --database-url."
        )
    database = _sqlite_file(url)
    if database is not None and not database.exists():
        # Opening would create an empty database; the operator most likely meant another file.
        raise ConfigurationError(f"There is no database at {database}; give the gateway's --database-url.")
    try:
        return open_backend(url)
    except BackendConfigurationError as exc:
        raise ConfigurationError(str(exc)) from exc


def _sqlite_file(url: str) -> Path | None:
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.lower().startswith("sqlite"):
        return None
    return Path(rest[1:].split("?", 1)[0]) if rest.startswith("/") else None


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
