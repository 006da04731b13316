"""Benchmark: create a TMF638 service on PostgreSQL and in memory, each against its raw baseline, in one run.

    createdb -h 127.0.0.1 -U postgres bench
    python benchmarks/seed.py --database-url postgresql://postgres@127.0.0.1/bench --count 1   # the schema
    cd benchmarks && python pg_create.py postgresql://postgres@127.0.0.1/bench --connections 16 64

Each round starts four servers in turn (``--workers`` processes each, on free ports of 127.0.0.1)
and posts ``bodies/service.json`` with ``wrk`` for ``--duration`` seconds after a warm-up:

- **pg baseline**: ``pg_baseline.py``, bare Starlette parsing the body, giving it an id and href,
  and inserting it into ``tmf_document`` through the same driver and pool as the gateway;
- **pg gateway**: ``tmfgate serve`` on that store (validated, stamped, stored with its one event);
- **echo**: ``echo_app.py``, the bare echo of ``post_order.py``, the ceiling for a store in memory;
- **memory gateway**: ``tmfgate serve --database-url memory://``.

It prints the median req/s, p50 and p99 of each and the ratios gateway / baseline per client count;
``--json FILE`` writes them. Issue 14's goals: create on PostgreSQL at least 60 % of its baseline.

``--before DIR`` also runs both gateways from the source tree DIR (``git archive REV | tar -x -C DIR``),
as "pg before" and "memory before" right after the current ones, so a change and the code before it
are measured side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from post_order import HOST, Run, Target, compact_body, free_port, running, wrk

HERE = Path(__file__).resolve().parent
SERVICES = "/tmf-api/serviceInventory/v4/service"
PAIRS = (("pg gateway", "pg baseline"), ("memory gateway", "echo"))
BEFORE = (("pg before", "pg baseline"), ("memory before", "echo"))


def targets(url: str, folder: Path, workers: int, before: Path | None = None) -> list[Target]:
    """The four servers, in the order each round runs them (six with ``before``)."""
    ports = [free_port() for _ in range(6)]
    uvicorn = [sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "--host", HOST, "--workers", str(workers)]
    quiet = ["--log-level", "warning", "--no-access-log"]
    served = [sys.executable, "-m", "tmfgate", "serve", "--host", HOST, "--workers", str(workers), "--rate-limit", "0"]
    gateway = [*served, "--fulfilment", "off", "--log-level", "warning"]
    chosen = [
        Target("pg baseline", [*uvicorn, "pg_baseline:app", "--port", str(ports[0]), *quiet],
               f"http://{HOST}:{ports[0]}/service", folder / "pg_baseline.log"),
        Target("pg gateway", [*gateway, "--database-url", url, "--port", str(ports[1])],
               f"http://{HOST}:{ports[1]}{SERVICES}", folder / "pg_gateway.log"),
        Target("echo", [*uvicorn, "echo_app:app", "--port", str(ports[2]), *quiet],
               f"http://{HOST}:{ports[2]}/echo", folder / "echo.log"),
        Target("memory gateway", [*gateway, "--database-url", "memory://", "--port", str(ports[3])],
               f"http://{HOST}:{ports[3]}{SERVICES}", folder / "memory_gateway.log"),
    ]  # fmt: skip
    if before is not None:
        # That tree's tmfgate: first on the path (-P keeps the working directory, this tree, off it);
        # the workers, spawned, inherit the path.
        old = ["env", f"PYTHONPATH={before.resolve()}", sys.executable, "-P", *gateway[1:]]
        for index, name, store in ((2, "pg before", url), (5, "memory before", "memory://")):
            port = ports[4 if store == url else 5]
            command = [*old, "--database-url", store, "--port", str(port)]
            log = folder / f"{name.replace(' ', '_')}.log"
            chosen.insert(index, Target(name, command, f"http://{HOST}:{port}{SERVICES}", log))
    return chosen


def measure(chosen: list[Target], args: argparse.Namespace, body: Path) -> dict[tuple[str, int], list[Run]]:
    runs: dict[tuple[str, int], list[Run]] = {}
    for round_ in range(args.rounds):
        for target in chosen:
            with running(target):
                for connections in args.connections:
                    wrk(target.url, args.warmup, connections, body, args.workers)
                    run = wrk(target.url, args.duration, connections, body, args.workers)
                    runs.setdefault((target.name, connections), []).append(run)
                    figures = f"{run.rps:8.0f} req/s p50 {run.p50_ms:6.1f} ms p99 {run.p99_ms:7.1f} ms"
                    print(f"round {round_ + 1} {target.name:15} {connections:>3} clients: {figures}", flush=True)
    return runs


def report(
    runs: dict[tuple[str, int], list[Run]], connections: Sequence[int], pairs: Sequence[tuple[str, str]] = PAIRS
) -> dict[str, object]:
    # Every run counts: under many clients on a loaded machine a slow target has wrk time some requests
    # out (2 s), and leaving those runs out would leave the slowest target without a figure.
    def median(name: str, clients: int, field: str) -> float:
        return statistics.median(getattr(run, field) for run in runs[(name, clients)])

    figures: dict[str, object] = {}
    print(f"\n{'target':15} {'clients':>7} {'req/s p50':>10} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7} {'timeouts':>9}")
    for clients in connections:
        for measured, reference in pairs:
            base = median(reference, clients, "rps")
            for name in (reference, measured):
                rate = median(name, clients, "rps")
                ratio = rate / base * 100 if base else 0.0
                errors = sum(run.socket_errors + run.non2xx for run in runs[(name, clients)])
                print(f"{name:15} {clients:>7} {rate:>10.0f} {median(name, clients, 'p50_ms'):>8.1f} "
                      f"{median(name, clients, 'p99_ms'):>8.1f} {ratio:>6.0f}% {errors:>9}")  # fmt: skip
                figures[f"{name} {clients}"] = {"rps": rate, "ratio_percent": round(ratio, 1), "errors": errors}
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", metavar="URL", help="a PostgreSQL store with tmfgate's schema (seed.py makes it)")
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, metavar="FILE")
    parser.add_argument("--before", type=Path, metavar="DIR", help="also run the gateways of this source tree")
    args = parser.parse_args(argv)
    os.environ["DATABASE_URL"] = args.url.replace("postgresql://", "postgresql+psycopg://", 1)  # the baseline's
    with tempfile.TemporaryDirectory(prefix="pg_create_") as scratch:
        folder = Path(scratch)
        body = compact_body(HERE / "bodies" / "service.json", folder)
        pairs = PAIRS if args.before is None else (*PAIRS, *BEFORE)
        chosen = targets(args.url, folder, args.workers, args.before)
        figures = report(measure(chosen, args, body), args.connections, pairs)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
