"""Benchmark: usage records rated per second on the batch path, on SQLite and PostgreSQL, and how it grows.

For each store and size (10,000 records by default; ``--sizes 10000,100000,1000000``) one run:

- **baseline**: the same records written raw to a fresh store of the same kind, through the storage
  contract (``create_many``), 1,000 to a transaction, with no checks, no rating and no events: the
  floor of storing them;
- **tmfgate**: the records through :func:`handlers.usage.batches.take`, the path of the batch endpoint
  and ``tmfgate usage import`` (checked, de-duplicated, rated with tiers, each record's create event in
  the outbox, the month's rates updated), 1,000 to a transaction, into a fresh store.

The records belong to 70 products (home phone and mobile plans of the demo catalog) over one month.
It prints records/s of each, their ratio, the cost per record at each size against the first, and the
machine's load average (1 minute) when the row was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handlers.billing.rating import Worker  # noqa: E402
from handlers.usage import batches  # noqa: E402
from tmfgate import codec, documents, model, specs  # noqa: E402
from tmfgate.runtime import Runtime  # noqa: E402
from tmfgate.settings import Settings  # noqa: E402

POSTGRES_ADMIN = os.environ.get("TMFGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SERVED = ("tmf620_product_catalog", "tmf635_usage", "tmf637_product_inventory", "tmf678_bill")
PLANS = {"po-home-phone": "minute", "po-mobile-10gb": "GB"}
PRODUCTS = 70


def products() -> list[dict[str, Any]]:
    return [
        {
            "id": f"prod-{n}",
            "href": f"http://bench/tmf-api/productInventory/v4/product/prod-{n}",
            "status": "active",
            "startDate": "2026-09-01T00:00:00Z",
            "productOffering": {"id": offering},
            "billingAccount": {"id": f"ba-{n % 20}"},
        }
        for n, offering in enumerate(sorted(PLANS) * (PRODUCTS // len(PLANS)))
    ]


def records(count: int, catalog: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rng = random.Random(count)
    start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    found = []
    for n in range(count):
        product = catalog[n % len(catalog)]
        moment = start + dt.timedelta(seconds=rng.randrange(31 * 86_400))
        found.append(
            {
                "id": f"cdr-{n}",
                "usageDate": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "usageType": "data",
                "ratedProductUsage": [{"productRef": {"id": product["id"]}}],
                "usageCharacteristic": [
                    {"name": "quantity", "value": str(Decimal(rng.randrange(1, 5000)) / 1000)},
                    {"name": "unit", "value": PLANS[product["productOffering"]["id"]]},
                ],
            }
        )
    return found


def fresh_store(kind: str, folder: Path) -> tuple[str, Any]:
    """A database URL of a new empty store, and how to drop it afterwards."""
    if kind == "sqlite":
        path = folder / f"{uuid.uuid4().hex}.db"

        def remove() -> None:  # a 1,000,000-record store takes gigabytes
            for made in folder.glob(f"{path.name}*"):  # with its -wal and -shm
                made.unlink()

        return f"sqlite:///{path}", remove
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"tmfgate_bench_usage_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False), drop


async def run(url: str, batch: list[dict[str, Any]], *, rate: bool) -> float:
    """Seconds to take ``batch`` on a fresh store: rated by tmfgate, or written raw."""
    apis = [model.build(specs.load(specs.specs_dir() / f"{name}.yaml")) for name in SERVED]
    runtime = Runtime(Settings(database_url=url, rate_limit=0.0), apis=apis)  # type: ignore[arg-type]
    await runtime.start(deliver=False)
    try:
        gateway = runtime.gateway
        async with gateway.transaction() as tx:
            for product in products():
                await documents.create(tx, "product", product)
        actor = Worker(gateway, "bench-usage")
        began = time.perf_counter()
        for start in range(0, len(batch), batches.LARGEST):
            chunk = batch[start : start + batches.LARGEST]
            async with gateway.transaction() as tx:
                if rate:
                    report = await batches.take(tx, actor, chunk)
                    assert len(report.rated) == len(chunk), report.summary()
                else:
                    await tx.create_many("usage", [(doc["id"], codec.dumps(doc)) for doc in chunk])
        return time.perf_counter() - began
    finally:
        await runtime.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--sizes", default="10000", help="comma-separated record counts, e.g. 10000,100000,1000000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="tmfgate-bench-usage-"))
    head = f"{'store':<11}{'records':>10}{'baseline rec/s':>16}{'tmfgate rec/s':>15}{'ratio':>8}"
    print(f"{head}{'µs/record':>11}{'growth':>8}{'load':>6}")
    for store in args.stores.split(","):
        first: float | None = None
        for size in sizes:
            batch = records(size, products())
            timings = []
            for rate in (False, True):
                url, drop = fresh_store(store, folder)
                try:
                    timings.append(asyncio.run(run(url, batch, rate=rate)))
                finally:
                    drop()
            raw, rated = timings
            per = rated / size * 1e6
            first = first or per
            print(
                f"{store:<11}{size:>10,}{size / raw:>16,.0f}{size / rated:>15,.0f}{raw / rated:>8.2f}"
                f"{per:>11,.0f}{per / first:>8.2f}{os.getloadavg()[0]:>6.1f}",
                flush=True,
            )
    folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
