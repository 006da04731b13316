"""A month of 10,000 usage records rates to the cent, on the store directly.

The records go through the same path as the API's (:func:`handlers.usage.batches.take`), in batches of
1,000 and in shuffled order, on SQLite; the expected amounts come from an independent computation here, in exact
fractions, of the demo catalog's tiered prices: the home phone's 60 minutes included, 0.05 EUR a minute to
500, 0.02 beyond; the mobile plan's 10 GB included, 2.00 EUR a GB beyond.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

from handlers.billing.rating import Worker
from handlers.billing.rules import RATE
from handlers.usage import batches
from handlers.usage.rating import TOTALS
from tests.conftest import TEST_SETTINGS
from tmfgate import documents, model, specs
from tmfgate.runtime import Runtime
from tmfgate.settings import Settings
from tmfgate.types import Document

MONTH = "2026-10"
# (offering, unit, tiers as (up to, EUR per unit), EUR per unit beyond): the demo catalog's, restated.
PLANS = {
    "po-home-phone": ("minute", [(60, Fraction(0)), (500, Fraction(5, 100))], Fraction(2, 100)),
    "po-mobile-10gb": ("GB", [(10, Fraction(0))], Fraction(2)),
}


# The APIs rating reads (the catalog, seeded into the store) and writes through (their events, their hrefs);
# loading only these keeps the start short.
SERVED = ("tmf620_product_catalog", "tmf635_usage", "tmf637_product_inventory", "tmf678_bill")


def independent_cost(offering: str, quantity: Fraction) -> Decimal:
    """The month's charge for ``quantity``, band by band in exact fractions, rounded half-up to the cent once."""
    _, tiers, beyond = PLANS[offering]
    total, floor = Fraction(0), Fraction(0)
    for up_to, price in tiers:
        total += max(Fraction(0), min(quantity, Fraction(up_to)) - floor) * price
        floor = Fraction(up_to)
    total += max(Fraction(0), quantity - floor) * beyond
    exact = Decimal(total.numerator) / Decimal(total.denominator)
    return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def products() -> list[Document]:
    return [
        {
            "id": f"prod-{n}",
            "href": f"http://gw.test/tmf-api/productInventory/v4/product/prod-{n}",
            "name": offering,
            "status": "active",
            "startDate": "2026-09-15T00:00:00Z",
            "productOffering": {"id": offering},
            "billingAccount": {"id": f"ba-{n % 7}"},
        }
        for n, offering in enumerate(sorted(PLANS) * 10)
    ]


def records(rng: random.Random, catalog: list[Document]) -> list[Document]:
    found = []
    for n in range(10_000):
        product = rng.choice(catalog)
        unit = PLANS[product["productOffering"]["id"]][0]
        quantity = Decimal(rng.randrange(1, 20_000)) / 1000  # 0.001 to 19.999, three decimals
        moment = dt.datetime(2026, 10, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randrange(31 * 86_400))
        found.append(
            {
                "id": f"cdr-{n}",
                "usageDate": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ratedProductUsage": [{"productRef": {"id": product["id"]}}],
                "usageCharacteristic": [{"name": "quantity", "value": str(quantity)}, {"name": "unit", "value": unit}],
            }
        )
    return found


async def rate_all(database: str, catalog: list[Document], batch: list[Document]) -> tuple[list[Document], ...]:
    apis = [model.build(specs.load(specs.specs_dir() / f"{name}.yaml")) for name in SERVED]
    runtime = Runtime(Settings(database_url=database, **TEST_SETTINGS), apis=apis)  # type: ignore[arg-type]
    await runtime.start(deliver=False)
    try:
        gateway = runtime.gateway
        async with gateway.transaction() as tx:
            for product in catalog:
                await documents.create(tx, "product", product)
        actor = Worker(gateway, "test-usage-money")
        for start in range(0, len(batch), batches.LARGEST):
            async with gateway.transaction() as tx:
                report = await batches.take(tx, actor, batch[start : start + batches.LARGEST])
            assert not report.parked and not report.refused and not report.duplicates
        stored = await documents.find(gateway.backend, "usage", sort="id")
        rates = await documents.find(gateway.backend, RATE, sort="id")
        totals = await documents.find(gateway.backend, TOTALS, sort="id")
        return stored, rates, totals
    finally:
        await runtime.stop()


def test_a_month_of_10000_records_rates_to_the_cent(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'usage.db'}"  # PostgreSQL: tests/api/test_usage.py, and the benchmark
    rng = random.Random(635)
    catalog = products()
    batch = records(rng, catalog)
    rng.shuffle(batch)
    stored, rates, totals = asyncio.run(rate_all(database, catalog, batch))

    used: dict[str, Fraction] = {}
    for record in batch:
        product = record["ratedProductUsage"][0]["productRef"]["id"]
        used[product] = used.get(product, Fraction(0)) + Fraction(record["usageCharacteristic"][0]["value"])
    offering = {p["id"]: p["productOffering"]["id"] for p in catalog}
    expected = {product: independent_cost(offering[product], quantity) for product, quantity in used.items()}
    assert sum(expected.values()) > Decimal("1000")  # allowances are exceeded: the tiers matter

    assert len(stored) == 10_000 and {r["status"] for r in stored} == {"rated"}
    charged: dict[str, Decimal] = {}
    for record in stored:
        rated = record["ratedProductUsage"][0]
        amount = Decimal(str(rated["taxExcludedRatingAmount"]["value"]))
        assert amount == amount.quantize(Decimal("0.01"))
        charged[rated["productRef"]["id"]] = charged.get(rated["productRef"]["id"], Decimal(0)) + amount
    assert charged == expected  # each record's charge, added up, is the month's independent total

    by_product = {rate["product"]["id"]: rate for rate in rates}
    assert len(rates) == len(expected)
    for product, due in expected.items():
        rate = by_product[product]
        assert Decimal(str(rate["taxExcludedAmount"]["value"])) == due
        tax = (due * Decimal("0.20")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert Decimal(str(rate["taxIncludedAmount"]["value"])) == due + tax
        assert rate["periodCoverage"]["startDateTime"].startswith(f"{MONTH}-01")
    assert {Fraction(t["quantity"]) for t in totals} == set(used.values())
