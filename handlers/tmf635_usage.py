"""TMF635 Usage Management: usage records taken in, de-duplicated by id, rated, and kept as rated.

Records come one by one (``POST /usage``), in batches (the tmfgate usage batch endpoint) or from a file
(``tmfgate usage import FILE``), all through :mod:`handlers.usage.batches`; rating is
:mod:`handlers.usage.rating`. A rated record's charge stands: what rating read and wrote is not changed
by PATCH, and the record is not deleted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from handlers import apis
from handlers.billing.rating import Worker
from handlers.billing.rules import TAX_RATE
from handlers.catalog.loading import CATALOG
from handlers.usage import batches, records
from tmfgate import codec, operations
from tmfgate.calls import Call, Reply
from tmfgate.errors import BadRequest, Conflict
from tmfgate.events import changed_attributes
from tmfgate.extensions import Command, Handlers
from tmfgate.gateway import Gateway
from tmfgate.ids import new_id
from tmfgate.settings import Settings
from tmfgate.types import Document

handlers = Handlers(apis.USAGE, api=apis.USAGE)
# The batch endpoint of mediation systems: tmfgate's own API beside TMF635 (specs/tmfgate_usage.yaml).
batch_endpoint = Handlers(apis.USAGE_BATCHES, api=apis.USAGE_BATCHES)
# What rating read and wrote: changing it would make the record say other than what was charged.
RATED = frozenset({"id", "ratedProductUsage", "usageCharacteristic", "usageDate", "status", "rejectionReason"})


@handlers.operation
async def createUsage(call: Call) -> Reply:
    """``POST /usage``: one record, stored and rated (201), or parked with its reason (201, ``rejected``);
    a malformed record is a 400 and an id stored already a 409, and nothing is stored."""
    async with call.gateway.transaction() as tx:
        report = await batches.take(tx, call, [call.body])
        if report.refused:
            raise BadRequest(report.refused[0][1])
        if report.duplicates:
            raise Conflict(f"A usage record with id {report.duplicates[0]} is stored already; a record is taken once.")
        doc = (report.rated + report.parked)[0]
    return Reply.created(codec.dumps(doc), doc["href"])


@batch_endpoint.operation
async def createUsageBatch(call: Call) -> Reply:
    """``POST /usageBatch``: a JSON array of records, stored and rated in one transaction; what became of each."""
    async with call.gateway.transaction() as tx:
        report = await batches.take(tx, call, call.body)
    return Reply.json(200, report.summary())


@handlers.operation
async def patchUsage(call: Call) -> Reply:
    return await operations.patch(call, check=_check_usage)


def _check_usage(call: Call, old: Document, new: Document) -> None:
    fixed = sorted(changed_attributes(old, new) & RATED)
    if fixed:
        raise BadRequest(
            f"{', '.join(fixed)} cannot be changed by PATCH: rating read or wrote them. To correct a rejected "
            "record, delete it and send it again."
        )


@handlers.operation
async def deleteUsage(call: Call) -> Reply:
    """``DELETE /usage/{id}``: 409 for a rated record, whose charge is on a rate (and maybe a bill)."""
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        if old.get("status") == "rated":
            raise Conflict(
                f"Usage record {old['id']} is rated: its charge is on an appliedCustomerBillingRate and "
                "stays. Only a rejected record may be deleted."
            )
        await operations.write_deleted(tx, call, records.KIND, old)
    return Reply(204)


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["import"], help="import: store and rate the records of FILE")
    parser.add_argument(
        "file",
        type=Path,
        metavar="FILE",
        help="usage records as NDJSON (one TMF635 Usage per line; - for standard input)",
    )


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, record) of an NDJSON file; a line that is not JSON gives its error text."""
    stream = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    with stream:
        for number, line in enumerate(stream, 1):
            if line.strip():
                try:
                    yield number, orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    yield number, f"line {number} is not JSON: {exc}"


async def _import(args: argparse.Namespace, gateway: Gateway) -> int:
    """``tmfgate usage import FILE``: store and rate the file's records, a batch per transaction."""
    actor = Worker(gateway, f"usage-import:{new_id()}")
    try:
        lines = list(_lines(args.file))
    except OSError as exc:
        print(f"tmfgate usage import: {args.file} cannot be read: {exc.strerror}.", file=sys.stderr)
        return 2
    report = batches.Report()
    for start in range(0, len(lines), batches.LARGEST):
        chunk = lines[start : start + batches.LARGEST]
        async with gateway.transaction() as tx:
            done = await batches.take(tx, actor, [body for _, body in chunk])
        for n, why in done.refused:
            report.refused.append((chunk[n][0], why))
        done.refused = []
        report.add(done, 0)
    print(_summary(report), flush=True)
    return 1 if report.refused else 0


def _summary(report: batches.Report) -> str:
    lines = [
        f"{len(report.rated)} rated, {len(report.parked)} parked, {len(report.duplicates)} already stored, "
        f"{len(report.refused)} refused."
    ]
    lines += [f"  parked {doc['id']}: {doc['rejectionReason']}" for doc in report.parked]
    lines += [f"  refused line {n}: {why}" for n, why in report.refused]
    return "\n".join(lines)


handlers.command(
    Command(
        "usage",
        "store and rate usage records from an NDJSON file (tmfgate usage import FILE), on the store directly",
        (Settings.database_url, Settings.public_url, CATALOG, TAX_RATE),
        _import_arguments,
        _import,
        prepare=True,
    )
)
