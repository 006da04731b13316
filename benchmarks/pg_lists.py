"""Benchmark: filtered lists of 100 services with their exact count, on SQL stores of several sizes.

    python benchmarks/seed.py --database-url postgresql://postgres@127.0.0.1/small --count 10000
    python benchmarks/seed.py --database-url postgresql://postgres@127.0.0.1/large --count 1000000
    python benchmarks/pg_lists.py postgresql://postgres@127.0.0.1/small postgresql://postgres@127.0.0.1/large
    python benchmarks/pg_lists.py sqlite:///small.db sqlite:///large.db

For each store and each filter, a list query (``X-Total-Count`` and the page of 100, as the gateway
asks its store) runs ``--repeat`` times after a warm-up; the median and the 90th percentile are
printed in milliseconds, for the equality filters compiled to what the indexes serve (containment
and the state columns on PostgreSQL, the member indexes on SQLite) and, in the same run as the
baseline, compiled to the walk that every row evaluates (as before issue 14). The filters pick
values the seed wrote: a customer, an external identifier, an id, ``state=active`` (60 % of the
services), and that at ``offset=5000``. With ``--vary`` each repetition asks another customer,
external identifier and id (the same shape, other values), as traffic does; without it every
repetition asks the same values.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from backends import open_backend
from backends.base import Backend, Query
from backends.queries import ValueType
from backends.sql import containment, members
from backends.sql.lists import built
from tmfgate.query import parse_query

KIND = "service"


def filters(sample: dict[str, object], count: int, step: int = 0) -> dict[str, str]:
    """The filters asked, with values that the ``sample`` service (the ``step``-th past the middle) has;
    the state filters are the same at every step."""
    number = count // 2 + step
    return {
        "relatedParty.id": f"relatedParty.id=C{number // 4:08d}",
        "externalId": f"externalIdentifier.id=EXT-{number:09d}",
        "id": f"id={sample['id']}",
        "state=active": "state=active",
        "state=active offset=5000": "state=active&offset=5000",
    }


@contextmanager
def jsonpath_only() -> Iterator[None]:
    """Compile every filter as before issue 14: a jsonpath or json_each walk evaluated for each row."""
    applies = containment.applies, members.applies
    containment.applies = members.applies = lambda condition: False
    built.cache_clear()  # statements are kept per shape, which applies() changes: build them anew
    try:
        yield
    finally:
        containment.applies, members.applies = applies
        built.cache_clear()


async def timed(backend: Backend, queries: Sequence[Query]) -> tuple[list[float], int]:
    """The time of each query but the first (the warm-up: plans, caches, the pool), and the last total."""
    await backend.query(KIND, queries[0])
    times = []
    total = 0
    for query in queries[1:]:
        began = time.perf_counter()
        page = await backend.query(KIND, query)
        times.append((time.perf_counter() - began) * 1000)
        total = page.total
    return times, total


async def measure(url: str, repeat: int, baseline: bool, vary: bool) -> None:
    backend = open_backend(url)
    await backend.open()
    try:
        count = (await backend.query(KIND, Query(limit=0))).total
        steps = repeat + 1 if vary else 1
        middle = await backend.query(KIND, Query(offset=count // 2, limit=steps))
        samples = [orjson.loads(item) for item in middle.items]
        print(f"\n{url.rsplit('/', 1)[-1]}: {count} services" + (", values varied" if vary else ""))
        print(f"{'filter':28} {'compiled to':12} {'total':>8} {'p50 ms':>9} {'p90 ms':>9}")
        asked = [filters(samples[step % steps], count, step % steps) for step in range(repeat + 1)]
        for name in asked[0]:
            queries = [
                parse_query(filters_[name] + "&limit=100", attribute_kind=lambda path: ValueType.STRING)
                for filters_ in asked
            ]
            ways = [("indexes", False), ("per row", True)] if baseline else [("indexes", False)]
            for label, old in ways:
                if old:
                    with jsonpath_only():
                        times, total = await timed(backend, queries)
                else:
                    times, total = await timed(backend, queries)
                p50 = statistics.median(times)
                p90 = statistics.quantiles(times, n=10)[-1] if len(times) > 1 else p50
                print(f"{name:28} {label:12} {total:>8} {p50:>9.1f} {p90:>9.1f}", flush=True)
    finally:
        await backend.close()


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", nargs="+", metavar="URL", help="PostgreSQL or SQLite stores filled by seed.py")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--no-baseline", action="store_true", help="skip the per-row runs (slow on large stores)")
    parser.add_argument(
        "--vary", action="store_true", help="ask each repetition for another customer, external id and id (same shape)"
    )
    args = parser.parse_args(argv)
    for url in args.urls:
        await measure(url, args.repeat, not args.no_baseline, args.vary)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
