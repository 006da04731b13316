"""Fill a store with realistic TMF638 services, through the store's own code path, adding to what is there.

    python benchmarks/seed.py --database-url postgresql://postgres@127.0.0.1/bench --api tmf638 --count 1000000

Each service belongs to a customer (several services per customer: ``relatedParty`` holds the
customer and a technician), has an external identifier, characteristics, a specification and
dates; 60 % are ``active``, the rest spread over the other states. The documents are written with
``transaction().create`` of the store the gateway opens (:func:`backends.open_backend`), a batch a
transaction, so they are stored exactly as the gateway stores them; no events are raised (a seed
is not API traffic, so no subscriber is told). Numbers (and so ids) go on from what is there: run it twice for twice
as many. Prints the rate, and the storage the kind takes on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from backends import open_backend
from backends.base import Backend, Query

# What each API's seed writes: the kind, and where its resources live.
APIS = {"tmf638": ("service", "/tmf-api/serviceInventory/v4/service/")}
SERVICES_PER_CUSTOMER = 4
OTHER_STATES = ("feasibilityChecked", "designed", "reserved", "inactive", "terminated")
TYPES = ("broadband", "voice", "iptv", "mobile", "vpn")
BATCH = 500


def service(number: int, path: str, rng: random.Random) -> dict[str, Any]:
    """The ``number``-th service: deterministic for a number, so a seed can be told apart and repeated."""
    identifier = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    customer = number // SERVICES_PER_CUSTOMER
    kind = TYPES[number % len(TYPES)]
    state = "active" if number % 10 < 6 else OTHER_STATES[number % len(OTHER_STATES)]
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=7 * number)
    return {
        "id": identifier,
        "href": path + identifier,
        "name": f"{kind} service {number}",
        "description": f"{kind} for customer C{customer:08d}",
        "category": "CFS",
        "serviceType": kind,
        "state": state,
        "isServiceEnabled": state == "active",
        "hasStarted": state in ("active", "inactive", "terminated"),
        "isStateful": True,
        "startDate": start.isoformat().replace("+00:00", "Z"),
        "externalIdentifier": [{"id": f"EXT-{number:09d}", "owner": "OSS", "externalIdentifierType": "order"}],
        "relatedParty": [
            {"id": f"C{customer:08d}", "role": "customer", "@referredType": "Individual"},
            {"id": f"T{number % 250:04d}", "role": "technician", "@referredType": "Individual"},
        ],
        "serviceCharacteristic": [
            {"name": "bandwidth", "valueType": "string", "value": f"{(number % 10 + 1) * 100}M"},
            {"name": "region", "valueType": "string", "value": f"R{number % 40:02d}"},
        ],
        "serviceSpecification": {"id": f"SPEC-{kind}", "name": kind, "version": "1.0"},
        "@type": "Service",
    }


async def seed(backend: Backend, kind: str, path: str, count: int, first: int, writers: int) -> None:
    """``count`` services from number ``first`` on, in batches of one transaction each, ``writers`` at once."""
    began = time.monotonic()
    batches = iter(range(first, first + count, BATCH))
    written = 0

    async def writer() -> None:
        nonlocal written
        for start in batches:  # shared: each writer takes the next batch
            rng = random.Random(start)
            async with backend.transaction() as tx:
                for number in range(start, min(start + BATCH, first + count)):
                    doc = service(number, path, rng)
                    await tx.create(kind, doc["id"], orjson.dumps(doc))
            done = min(start + BATCH, first + count) - start
            written += done
            if written % 50_000 < done or written == count:
                rate = written / (time.monotonic() - began)
                print(f"seed: {written} of {count} written, {rate:.0f} a second", flush=True)

    await asyncio.gather(*(writer() for _ in range(writers)))


async def storage(backend: Backend) -> None:
    """The size of each table (with its TOAST) and of each index on its own (PostgreSQL only)."""
    engine = getattr(backend, "engine", None)
    if engine is None:
        return
    from sqlalchemy import text

    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT c.relname, CASE c.relkind WHEN 'r' THEN pg_table_size(c.oid) ELSE pg_relation_size(c.oid) END "
                "FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') "
                "AND (c.relname LIKE 'tmf_%' OR c.relname LIKE 'ix_tmf_%') ORDER BY 2 DESC"
            )
        )
        for name, size in rows:
            print(f"storage: {name} {size / 2**20:.1f} MiB")


def backend_is_shared(args: argparse.Namespace) -> bool:
    """Whether writers may work at once: SQLite has one writer at a time anyway."""
    return not str(args.database_url).startswith("sqlite")


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, metavar="URL")
    parser.add_argument("--api", choices=sorted(APIS), default="tmf638")
    parser.add_argument("--count", type=int, required=True, metavar="N")
    parser.add_argument("--writers", type=int, default=4, metavar="N", help="transactions at once (PostgreSQL)")
    args = parser.parse_args(argv)
    kind, path = APIS[args.api]
    backend = open_backend(args.database_url)
    await backend.open()
    try:
        first = (await backend.query(kind, Query(limit=0))).total
        print(f"seed: {first} {kind} stored already; adding {args.count}", flush=True)
        await seed(backend, kind, path, args.count, first, args.writers if backend_is_shared(args) else 1)
        await storage(backend)
    finally:
        await backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
