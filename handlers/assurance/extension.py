"""The revenue assurance extension: its settings and ``tmfgate assure --period YYYY-MM``.

The command runs the rules chosen by ``assure_rules`` over one month, raises what each new finding
raises (:mod:`handlers.assurance.findings`), one transaction per finding, and prints a report. Its
exit status is 0 when no rule found anything, 1 when something was found (new or raised already, so
a scheduler can alert on it), and 2 when the month cannot be checked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING

from handlers.assurance import checks
from handlers.assurance.checks import Finding
from handlers.assurance.findings import Raised, Worker, raise_once
from handlers.assurance.settings import (
    ASSURE_RULES,
    ASSURE_SEVERITY,
    ASSURE_SPIKE_FACTOR,
    ASSURE_SPIKE_WINDOW,
    ASSURE_SUSPEND,
    RULES,
    SETTINGS,
)
from handlers.billing.rules import Period
from handlers.catalog.loading import CATALOG
from tmfgate.extensions import Command, Handlers
from tmfgate.ids import new_id
from tmfgate.settings import Settings

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

extension = Handlers("assurance", settings=SETTINGS)


def findings(gateway: Gateway, rule: str, period: Period) -> AsyncIterator[Finding]:
    """The findings of one rule for one month, read from the gateway's store."""
    store, settings = gateway.backend, gateway.settings
    if rule == "inactive-usage":
        return checks.inactive_usage(store, period)
    if rule == "usage-spike":
        factor = Decimal(settings.get(ASSURE_SPIKE_FACTOR))
        return checks.usage_spikes(store, period, factor, settings.get(ASSURE_SPIKE_WINDOW))
    if rule == "duplicate-usage":
        return checks.duplicate_usage(store, period)
    if rule == "unbilled-product":
        return checks.unbilled_products(store, period)
    return checks.bill_mismatches(store, period)


async def assure(gateway: Gateway, period: Period) -> list[Raised]:
    """Run the configured rules over the month; what each finding raised, new or not, in rule order."""
    settings = gateway.settings
    chosen = [rule for rule in settings.get(ASSURE_RULES).split(",") if rule]
    suspending = set(settings.get(ASSURE_SUSPEND).split(","))
    actor = Worker(gateway, f"assure:{period}:{new_id()}")
    done = []
    for rule in chosen:
        async for finding in findings(gateway, rule, period):
            async with gateway.transaction() as tx:
                raised = await raise_once(
                    tx, actor, finding, severity=settings.get(ASSURE_SEVERITY), suspend=rule in suspending
                )
            done.append(raised)
    return done


def report(period: Period, chosen: list[str], done: list[Raised]) -> str:
    """The report ``tmfgate assure`` prints: a line per rule, then one per finding."""
    new = sum(1 for raised in done if raised.alarm)
    lines = [f"Revenue assurance of {period}: {len(done)} findings, {new} new."]
    for rule in chosen:
        count = sum(1 for raised in done if raised.finding.rule == rule)
        lines.append(f"  {rule}: {count}")
    for raised in done:
        if raised.alarm is None:
            what = "raised already"
        else:
            what = f"alarm {raised.alarm}, ticket {raised.ticket}"
            if raised.order:
                what += f", suspension order {raised.order}"
        lines.append(f"{raised.finding.rule}: {raised.finding.summary} ({what})")
    return "\n".join(lines)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--period",
        required=True,
        type=_period,
        metavar="YYYY-MM",
        help="the month to check, e.g. 2026-11; checking a month again raises nothing twice",
    )


def _period(raw: str) -> Period:
    try:
        return Period.parse(raw.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


async def _assure(args: argparse.Namespace, gateway: Gateway) -> int:
    """``tmfgate assure --period YYYY-MM``: 0 with no findings, 1 with some."""
    period: Period = args.period
    if period.start > dt.datetime.now(dt.UTC):
        print(f"tmfgate assure: {period} has not started; check a month under way or past.", file=sys.stderr)
        return 2
    done = await assure(gateway, period)
    chosen = [rule for rule in RULES if rule in gateway.settings.get(ASSURE_RULES).split(",")]
    print(report(period, chosen, done), flush=True)
    return 1 if done else 0


extension.command(
    Command(
        "assure",
        "run the revenue assurance and fraud rules over one month and report the findings, on the store directly",
        (Settings.database_url, Settings.public_url, CATALOG, *SETTINGS),
        _arguments,
        _assure,
        prepare=True,
    )
)

__all__ = ["assure", "extension", "findings", "report"]
