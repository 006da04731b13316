"""Benchmark: billing accounts billed per second by the bill run, on SQLite and PostgreSQL, beside a raw baseline.

For each store (``--stores sqlite,postgresql``) and ``--accounts`` N (10,000 by default), one run:

- **tmfgate**: N TMF666 billing accounts, each with one active product of two prices (a monthly fee and a
  monthly option, as an order leaves them), seeded straight into a fresh store through the storage
  contract (500 to a transaction, no HTTP, no events); then :func:`handlers.billing.bill_runs.run_cycle`,
  what ``tmfgate bill-run --period`` runs, in process, for a month that has ended: up to 100 accounts to a
  transaction, their locks held and their products and rates read together; per account the month's
  recurring charges rated, the unbilled rates gathered into a CustomerBill with its PDF and HTML document,
  each rate marked billed, the balance kept; every write with its event in the outbox. It checks that
  every account got one bill of the right amount.
- **baseline**: the N bills that run made, written raw to a fresh store of the same kind through the storage
  contract, one to a transaction as the run commits them: the floor of storing a bill run's bills.

It prints accounts/s of each and their ratio; ``--profile FILE`` also writes a cProfile of the bill run and
prints its 25 dearest functions (cumulative time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from usage_rating import fresh_store  # noqa: E402

from handlers.billing import accounts, bill_runs  # noqa: E402
from handlers.billing.rules import BILL, Period  # noqa: E402
from tmfgate import codec, documents, model, specs  # noqa: E402
from tmfgate.runtime import Runtime  # noqa: E402
from tmfgate.settings import Settings  # noqa: E402

SERVED = ("tmf637_product_inventory", "tmf666_account_management", "tmf678_bill", "tmfgate_billing")
PERIOD = Period(2026, 10)  # ended: billed without --in-advance
SEED_BATCH = 500
FEES = (("Fibre 100 monthly fee", 40), ("Static IP option", 5))  # whole euros: JSON numbers, exact
EXPECTED = Decimal(sum(fee for _, fee in FEES))  # tax excluded, per account and month


def account(n: int) -> dict[str, Any]:
    id = f"ba-{n:06d}"
    return {
        "id": id,
        "href": f"http://bench/tmf-api/accountManagement/v4/billingAccount/{id}",
        "@type": "BillingAccount",
        "name": f"Bench account {n}",
        "state": "active",
        "accountType": "residential",
        "relatedParty": [{"id": f"cust-{n}", "role": "owner", "@referredType": "Individual"}],
    }


def product(n: int) -> dict[str, Any]:
    return {
        "id": f"prod-{n:06d}",
        "href": f"http://bench/tmf-api/productInventory/v4/product/prod-{n:06d}",
        "name": "Fibre 100",
        "status": "active",
        "startDate": "2026-09-01T00:00:00Z",
        "billingAccount": {"id": f"ba-{n:06d}", "@referredType": "BillingAccount"},
        "relatedParty": [{"id": f"cust-{n}", "role": "customer", "@referredType": "Individual"}],
        "productPrice": [
            {
                "name": name,
                "priceType": "recurring",
                "recurringChargePeriod": "month",
                "price": {"dutyFreeAmount": {"unit": "EUR", "value": fee}},
            }
            for name, fee in FEES
        ],
    }


async def started(url: str) -> Runtime:
    apis = [model.build(specs.load(specs.specs_dir() / f"{name}.yaml")) for name in SERVED]
    runtime = Runtime(Settings(database_url=url, rate_limit=0.0), apis=apis)  # type: ignore[arg-type]
    await runtime.start(deliver=False)
    return runtime


async def seed(runtime: Runtime, count: int) -> float:
    """Seconds to write ``count`` accounts and their products, ``SEED_BATCH`` to a transaction."""
    began = time.perf_counter()
    for first in range(0, count, SEED_BATCH):
        async with runtime.gateway.transaction() as tx:
            for n in range(first, min(first + SEED_BATCH, count)):
                await documents.create(tx, accounts.KIND, account(n))
                await documents.create(tx, "product", product(n))
    return time.perf_counter() - began


async def bill(url: str, count: int, profile: cProfile.Profile | None) -> tuple[float, float, list[dict[str, Any]]]:
    """Seconds to seed, seconds of the bill run, and the bills it made, on the fresh store at ``url``."""
    runtime = await started(url)
    try:
        seeded = await seed(runtime, count)
        if profile:
            profile.enable()
        began = time.perf_counter()
        results = await bill_runs.run_cycle(runtime.gateway, PERIOD)
        took = time.perf_counter() - began
        if profile:
            profile.disable()
    finally:
        await runtime.stop()
    bills = [made for _, made in results if made is not None]
    wrong = [b["id"] for b in bills if Decimal(str(b["taxExcludedAmount"]["value"])) != EXPECTED]
    assert len(bills) == len(results) == count and not wrong, (len(bills), len(results), wrong[:3])
    return seeded, took, bills


async def raw(url: str, bills: list[dict[str, Any]]) -> float:
    """Seconds to write ``bills`` raw to the fresh store at ``url``, one to a transaction."""
    runtime = await started(url)
    try:
        began = time.perf_counter()
        for made in bills:
            async with runtime.gateway.transaction() as tx:
                await tx.create(BILL, str(made["id"]), codec.dumps(made))
        return time.perf_counter() - began
    finally:
        await runtime.stop()


def measure(store: str, count: int, folder: Path, profile: cProfile.Profile | None) -> tuple[float, float, float]:
    url, drop = fresh_store(store, folder)
    try:
        seeded, took, bills = asyncio.run(bill(url, count, profile))
    finally:
        drop()
    url, drop = fresh_store(store, folder)
    try:
        floor = asyncio.run(raw(url, bills))
    finally:
        drop()
    return seeded, took, floor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the bill run(s) to this file")
    args = parser.parse_args()
    profile = cProfile.Profile() if args.profile else None
    print(f"{'store':<11}{'accounts':>9}{'seed acc/s':>12}{'baseline acc/s':>16}{'tmfgate acc/s':>15}{'ratio':>8}")
    for store in args.stores.split(","):
        folder = Path(tempfile.mkdtemp(prefix="tmfgate-bench-bills-"))  # the SQLite files, removed after
        try:
            seeded, took, floor = measure(store, args.accounts, folder, profile)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        count = args.accounts
        print(
            f"{store:<11}{count:>9,}{count / seeded:>12,.0f}{count / floor:>16,.0f}{count / took:>15,.1f}"
            f"{floor / took:>8.3f}",
            flush=True,
        )
    if profile and args.profile:
        profile.dump_stats(args.profile)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
