"""Benchmark: retrieve a service by id on PostgreSQL under many clients, against a bare Starlette
baseline (``pg_baseline.py``, same driver, same SELECT), and the PostgreSQL sessions opened per second.

    python benchmarks/seed.py --database-url postgresql://postgres@127.0.0.1/bench --count 10000
    python benchmarks/pg_pool.py postgresql://postgres@127.0.0.1/bench --connections 16 64

Each round starts the baseline, then the gateway (``tmfgate serve --workers 2``, rate limit off,
its pool from ``--db-pool-size``'s default), each on a free port of 127.0.0.1, warms it up, and runs
``wrk`` against ``GET .../service/{id}`` for ``--duration`` seconds; ``pg_stat_database.sessions``
is read before and after the measured run. The goal of issue 14: no connection churn (about 0
sessions opened a second) and retrieve at least 70 % of the baseline.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from post_order import HOST, REPO, Target, free_port, running
from sqlalchemy import create_engine, text

sys.path.insert(0, str(REPO))
HERE = Path(__file__).resolve().parent
SERVICES = "/tmf-api/serviceInventory/v4/service/"


def sessions(url: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            query = text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()


def some_id(url: str) -> str:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            query = text("SELECT id FROM tmf_document WHERE kind = 'service' ORDER BY seq OFFSET 5 LIMIT 1")
            return str(connection.execute(query).scalar_one())
    finally:
        engine.dispose()


def wrk(url: str, seconds: int, connections: int) -> float:
    """Requests a second; non-2xx answers make the run invalid."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    if "Socket errors" in output:  # timeouts (2 s) on a busy machine: counted, said
        print(f"wrk: {url}: {output.split('Socket errors:')[1].splitlines()[0].strip()}", flush=True)
    found = re.search(r"Requests/sec:\s*([0-9.]+)", output)
    if found is None:
        raise RuntimeError(f"wrk printed no rate:\n{output}")
    return float(found.group(1))


def targets(url: str, folder: Path, workers: int) -> tuple[list[Target], str]:
    driver_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    base, gateway = free_port(), free_port()
    baseline = [
        sys.executable, "-m", "uvicorn", "pg_baseline:app", "--app-dir", str(HERE), "--host", HOST,
        "--port", str(base), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    served = [
        sys.executable, "-m", "tmfgate", "serve", "--database-url", url, "--host", HOST, "--port", str(gateway),
        "--workers", str(workers), "--rate-limit", "0", "--fulfilment", "off", "--log-level", "warning",
    ]  # fmt: skip
    return [
        Target("baseline", [*baseline], f"http://{HOST}:{base}/service/", folder / "baseline.log"),
        Target("gateway", served, f"http://{HOST}:{gateway}{SERVICES}", folder / "gateway.log"),
    ], driver_url


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", metavar="URL", help="a PostgreSQL store filled by seed.py")
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    identifier = some_id(args.url)
    rates: dict[tuple[str, int], list[float]] = {}
    opened: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="pg_pool_") as scratch:
        chosen, driver_url = targets(args.url, Path(scratch), args.workers)
        os.environ["DATABASE_URL"] = driver_url  # the baseline's store
        for _ in range(args.rounds):
            for target in chosen:
                with running(target):
                    for connections in args.connections:
                        wrk(target.url + identifier, 3, connections)  # warm-up
                        before, began = sessions(args.url), time.monotonic()
                        rate = wrk(target.url + identifier, args.duration, connections)
                        per_second = (sessions(args.url) - before - 1) / (time.monotonic() - began)
                        rates.setdefault((target.name, connections), []).append(rate)
                        opened.setdefault((target.name, connections), []).append(per_second)
    print(f"{'target':10} {'clients':>7} {'req/s p50':>10} {'sessions/s':>11} {'ratio':>7}")
    for connections in args.connections:
        base = statistics.median(rates[("baseline", connections)])
        for name in ("baseline", "gateway"):
            rate = statistics.median(rates[(name, connections)])
            churn = statistics.median(opened[(name, connections)])
            print(f"{name:10} {connections:>7} {rate:>10.0f} {churn:>11.1f} {rate / base:>7.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
