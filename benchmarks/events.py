"""Benchmark: hub events delivered per second to a local listener, and the delay from commit to arrival.

The gateway (SQLite store, dispatcher in-process) and a bare ASGI listener run side by side; for 1
and for 50 subscribers, orders are created and their events timed on arrival, then the same bodies
are POSTed straight to the same listener by a plain ``requests`` loop with the dispatcher's
concurrency, which is the baseline; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from post_order import HOST, REPO, Target, compact_body, free_port, running, tail
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

sys.path.insert(0, str(REPO))
from tmfgate.notifications.delivery import CONCURRENCY

HERE = Path(__file__).resolve().parent
API = "/tmf-api/productOrderingManagement/v4"
# The dispatcher keeps its list of subscriptions for about a second (tmfgate.notifications.delivery.SUBSCRIPTIONS_TTL):
# after unsubscribing, wait so that the next phase's events go to its own subscribers only.
FORGET = 2.0
# baseline: the listener's ceiling; gateway: as many orders as fast as possible (throughput);
# paced: orders at a share of that rate, so the delay is commit to arrival, not the wait in a backlog.
TARGETS = ("baseline", "gateway", "paced")


@dataclass
class Phase:
    """One measured phase: the gateway delivering, or the baseline posting, to S subscribers."""

    target: str
    subscribers: int
    expected: int
    delivered: int = 0  # distinct (subscriber, event) arrivals
    duplicates: int = 0
    seconds: float = 0.0  # from the first request sent to the last arrival
    delays_ms: list[float] = field(default_factory=list, repr=False)  # from commit (gateway) or send (baseline)
    event_time_delays_ms: list[float] = field(default_factory=list, repr=False)
    orders_per_second: float | None = None
    failed_requests: int = 0
    store: dict[str, int] = field(default_factory=dict)  # the phase's deliveries by state, from the admin API

    @property
    def valid(self) -> bool:
        return self.delivered == self.expected and self.failed_requests == 0

    @property
    def events_per_second(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else 0.0

    def figures(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "subscribers": self.subscribers,
            "expected": self.expected,
            "delivered": self.delivered,
            "duplicates": self.duplicates,
            "seconds": self.seconds,
            "events_per_second": self.events_per_second,
            "orders_per_second": self.orders_per_second,
            "delay_p50_ms": percentile(self.delays_ms, 50),
            "delay_p99_ms": percentile(self.delays_ms, 99),
            "event_time_delay_p50_ms": percentile(self.event_time_delays_ms, 50),
            "event_time_delay_p99_ms": percentile(self.event_time_delays_ms, 99),
            "failed_requests": self.failed_requests,
            "store": self.store,
            "valid": self.valid,
        }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100, help="orders created in the throughput phase (default 100)")
    parser.add_argument("--subscribers", default="1,50", help="subscriber counts to measure (default 1,50)")
    parser.add_argument("--clients", type=int, default=4, help="threads creating orders (default 4)")
    parser.add_argument(
        "--load",
        type=float,
        default=0.5,
        help="the paced phase's share of the delivery rate just measured (default 0.5)",
    )
    parser.add_argument("--paced-seconds", type=float, default=10.0, help="length of the paced phase (default 10)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=CONCURRENCY,
        help=f"baseline sending threads (default {CONCURRENCY}, the dispatcher's)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (default 3)")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for a phase's events to arrive (default 120)"
    )
    parser.add_argument(
        "--body",
        type=Path,
        default=HERE / "bodies" / "product_order.json",
        help="order to create (default bodies/product_order.json)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args(argv)
    args.subscriber_counts = [int(n) for n in args.subscribers.split(",") if n.strip()]
    for name in ("orders", "clients", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if not 0 < args.load <= 1 or args.paced_seconds <= 0:
        parser.error("--load must be in (0, 1] and --paced-seconds more than 0")
    if not args.subscriber_counts or min(args.subscriber_counts) < 1:
        parser.error("--subscribers must list counts of at least 1, such as 1,50")
    return args


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(q / 100 * len(ordered)))) - 1]


def session() -> requests.Session:
    """A session whose GETs and DELETEs are retried: uvicorn closes a connection idle for 5 s, and a
    request sent just then fails. POSTs are never retried (an order could be created twice)."""
    http = requests.Session()
    adapter = HTTPAdapter(max_retries=Retry(total=3, backoff_factor=0.1))
    http.mount("http://", adapter)
    return http


def parallel(count: int, threads: int, work: Callable[[requests.Session, int], None], rate: float = 0.0) -> None:
    """Call ``work(session, i)`` for i in 0..count-1 from ``threads`` threads, each with a session;
    with ``rate``, item i starts no sooner than i / rate seconds after the start."""
    lock = threading.Lock()
    next_item = iter(range(count))
    start = time.monotonic()
    errors: list[BaseException] = []

    def worker() -> None:
        with session() as http:
            while True:
                with lock:
                    item = next(next_item, None)
                if item is None or errors:
                    return
                if rate > 0:
                    time.sleep(max(0.0, start + item / rate - time.monotonic()))
                try:
                    work(http, item)
                except BaseException as exc:  # noqa: BLE001 - reported by the caller
                    errors.append(exc)
                    return

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(min(threads, count))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise RuntimeError(f"a request failed: {errors[0]!r}")


class Listener:
    """The listener process, as the benchmark talks to it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = session()

    def clear(self) -> None:
        self.http.delete(f"{self.url}/records", timeout=30).raise_for_status()

    def wait(self, expected: int, timeout: float) -> None:
        """Until ``expected`` notifications arrived, or ``timeout`` seconds passed without progress."""
        last, progress = -1, time.monotonic()
        while True:
            count = int(self.http.get(f"{self.url}/count", timeout=30).text)
            if count >= expected:
                return
            if count != last:
                last, progress = count, time.monotonic()
            elif time.monotonic() - progress > timeout:
                return
            time.sleep(0.05)

    def records(self) -> list[tuple[float, int, str, str, str]]:
        return [
            (float(a), int(n), str(e), str(t), str(r))
            for a, n, e, t, r in self.http.get(f"{self.url}/records", timeout=60).json()
        ]

    def bodies(self) -> list[bytes]:
        return [body.encode() for body in self.http.get(f"{self.url}/bodies", timeout=60).json()]


def gateway_phase(
    gateway: str,
    listener: Listener,
    subscribers: int,
    body: bytes,
    *,
    orders: int,
    clients: int,
    rate: float,
    timeout: float,
    target: str = "gateway",
) -> tuple[Phase, list[bytes]]:
    """Subscribe, create the orders, time their events' arrival; returns the phase and the bodies."""
    listener.clear()
    http = session()
    hub = []
    for n in range(subscribers):
        response = http.post(f"{gateway}{API}/hub", json={"callback": f"{listener.url}/s/{n}"}, timeout=30)
        response.raise_for_status()
        hub.append(response.json()["id"])
    committed: dict[str, float] = {}
    failures: list[int] = []

    def create(http: requests.Session, _: int) -> None:
        try:
            response = http.post(
                f"{gateway}{API}/productOrder", data=body, headers={"Content-Type": "application/json"}, timeout=30
            )
        except requests.RequestException:
            failures.append(1)  # list.append is atomic across threads
            return
        answered = time.time()
        if response.status_code != 201:
            failures.append(1)
            return
        committed[response.json()["id"]] = answered

    phase = Phase(target, subscribers, expected=orders * subscribers)
    started = time.time()
    parallel(orders, clients, create, rate)
    created = time.time()
    listener.wait(phase.expected, timeout)
    records = listener.records()
    if len(records) < phase.expected:  # where the missing ones are: pending, parked, or never fanned out
        phase.store = store_states(gateway, hub)
    for id in hub:  # the next phase's orders are not for these subscribers
        http.delete(f"{gateway}{API}/hub/{id}", timeout=30)
    time.sleep(FORGET)
    phase.failed_requests = len(failures)
    phase.orders_per_second = len(committed) / (created - started)
    seen: set[tuple[int, str]] = set()
    last = started
    for arrived, subscriber, event_id, event_time, resource_id in records:
        if resource_id not in committed or subscriber >= subscribers:
            continue
        if (subscriber, event_id) in seen:
            phase.duplicates += 1
            continue
        seen.add((subscriber, event_id))
        last = max(last, arrived)
        phase.delays_ms.append(1000 * (arrived - committed[resource_id]))
        stamped = dt.datetime.fromisoformat(event_time).timestamp()
        phase.event_time_delays_ms.append(1000 * (arrived - stamped))
    phase.delivered = len(seen)
    phase.seconds = last - started
    ours = {event_id for _, event_id in seen}
    return phase, [body for body in listener.bodies() if json.loads(body)["eventId"] in ours]


def store_states(gateway: str, hub: list[str]) -> dict[str, int]:
    """How many of these subscriptions' deliveries the store holds in each state (the admin API)."""
    counts: dict[str, int] = {}
    with session() as http:
        for state in ("pending", "delivered", "parked"):
            for id in hub:
                response = http.get(
                    f"{gateway}/tmfgate/admin/v1/delivery",
                    params={"subscriptionId": id, "state": state, "limit": 0},
                    timeout=30,
                )
                response.raise_for_status()
                counts[state] = counts.get(state, 0) + int(response.headers["X-Total-Count"])
    return counts


def baseline_phase(listener: Listener, subscribers: int, bodies: list[bytes], args: argparse.Namespace) -> Phase:
    """The same bodies to the same subscriber paths, POSTed by a plain requests loop."""
    listener.clear()
    events = [(json.loads(body)["eventId"], body) for body in bodies]
    work = [(n, event_id, body) for event_id, body in events for n in range(subscribers)]
    sent: dict[tuple[int, str], float] = {}
    failures: list[int] = []

    def post(http: requests.Session, item: int) -> None:
        n, event_id, body = work[item]
        sent[(n, event_id)] = time.time()
        try:
            response = http.post(
                f"{listener.url}/s/{n}", data=body, headers={"Content-Type": "application/json"}, timeout=30
            )
        except requests.RequestException:
            failures.append(1)  # list.append is atomic across threads
            return
        if not 200 <= response.status_code < 300:
            failures.append(1)

    phase = Phase("baseline", subscribers, expected=len(work))
    started = time.time()
    parallel(len(work), args.concurrency, post)
    listener.wait(phase.expected, args.timeout)
    seen: set[tuple[int, str]] = set()
    last = started
    for arrived, subscriber, event_id, _, _ in listener.records():
        if (subscriber, event_id) in seen:
            phase.duplicates += 1
            continue
        seen.add((subscriber, event_id))
        last = max(last, arrived)
        phase.delays_ms.append(1000 * (arrived - sent[(subscriber, event_id)]))
    phase.failed_requests = len(failures)
    phase.delivered = len(seen)
    phase.seconds = last - started
    return phase


def show(number: int, phase: Phase, results: dict[tuple[int, str], list[Phase]]) -> None:
    results[(phase.subscribers, phase.target)].append(phase)
    print(f"round {number} {phase.subscribers:>3} subscribers {phase.target:<9}{describe(phase)}", flush=True)


def describe(phase: Phase) -> str:
    p50, p99 = percentile(phase.delays_ms, 50) or 0.0, percentile(phase.delays_ms, 99) or 0.0
    text = (
        f"{phase.delivered:>7,} of {phase.expected:,} in {phase.seconds:6.2f} s  "
        f"{phase.events_per_second:>8,.0f} events/s  delay p50 {p50:8.1f} ms  p99 {p99:8.1f} ms"
    )
    if phase.orders_per_second is not None:
        text += f"  ({phase.orders_per_second:,.0f} orders/s)"
    if phase.duplicates:
        text += f"  {phase.duplicates} duplicates"
    if not phase.valid:
        text += f"  INVALID: {phase.expected - phase.delivered} missing, {phase.failed_requests} failed requests"
        if phase.store:
            text += f"; in the store: {', '.join(f'{n} {state}' for state, n in phase.store.items())}"
    return text


def median(phases: list[Phase], value: Callable[[Phase], float | None]) -> float | None:
    values = [v for p in phases if p.valid and (v := value(p)) is not None]
    return statistics.median(values) if values else None


def report(results: dict[tuple[int, str], list[Phase]]) -> dict[str, Any]:
    """The table of medians over rounds (valid phases only); returns the figures for ``--json``."""
    print(
        f"\n{'subscribers':>11}  {'target':<9}{'events/s':>10}{'ratio':>8}{'p50 ms':>10}{'p99 ms':>10}"
        f"{'eventTime p50':>15}{'p99 ms':>9}"
    )
    rows: list[dict[str, Any]] = []
    for subscribers in sorted({s for s, _ in results}):
        baseline = median(results[(subscribers, "baseline")], lambda p: p.events_per_second)
        for target in TARGETS:
            phases = results[(subscribers, target)]
            rate = median(phases, lambda p: p.events_per_second)
            ratio = 100 * rate / baseline if target == "gateway" and rate is not None and baseline else None
            row: dict[str, Any] = {
                "subscribers": subscribers,
                "target": target,
                "events_per_second": rate,
                "ratio_percent": ratio,
                "delay_p50_ms": median(phases, lambda p: percentile(p.delays_ms, 50)),
                "delay_p99_ms": median(phases, lambda p: percentile(p.delays_ms, 99)),
                "event_time_delay_p50_ms": median(phases, lambda p: percentile(p.event_time_delays_ms, 50)),
                "event_time_delay_p99_ms": median(phases, lambda p: percentile(p.event_time_delays_ms, 99)),
                "valid": all(p.valid for p in phases),
            }
            rows.append(row)
            print(
                f"{subscribers:>11}  {target:<9}{_num(rate, ',.0f'):>10}{_num(ratio, '.1f', ' %'):>8}"
                f"{_num(row['delay_p50_ms'], '.1f'):>10}{_num(row['delay_p99_ms'], '.1f'):>10}"
                f"{_num(row['event_time_delay_p50_ms'], '.1f'):>15}{_num(row['event_time_delay_p99_ms'], '.1f'):>9}"
                + ("" if row["valid"] else "  INVALID")
            )
    return {"table": rows, "phases": [p.figures() for phases in results.values() for p in phases]}


def _num(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else format(value, spec) + suffix


def benchmark(args: argparse.Namespace, folder: Path) -> int:
    body = compact_body(args.body, folder).read_bytes()
    listener_port, gateway_port = free_port(), free_port()
    listener_target = Target(
        "listener",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "event_listener:app",
            "--app-dir",
            str(HERE),
            "--host",
            HOST,
            "--port",
            str(listener_port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        f"http://{HOST}:{listener_port}/",
        folder / "listener.log",
    )
    gateway_target = Target(
        "gateway",
        [
            sys.executable,
            "-m",
            "tmfgate",
            "serve",
            "--database-url",
            f"sqlite:///{folder / 'bench.db'}",
            "--host",
            HOST,
            "--port",
            str(gateway_port),
            "--log-level",
            "warning",
            # One event per order, its create: fulfilment would add state changes of its own (and
            # fail each order, as the body's offering is not in the demo catalog).
            "--fulfilment",
            "off",
            # The listener is on loopback, and one client sends every order.
            "--callback-hosts",
            "*,127.0.0.0/8",
            "--rate-limit",
            "0",
        ],
        f"http://{HOST}:{gateway_port}{API}/productOrder?limit=1",
        folder / "gateway.log",
    )
    gateway = f"http://{HOST}:{gateway_port}"
    print(
        f"{args.orders} orders from {args.clients} clients, then {args.paced_seconds:g} s of orders at "
        f"{100 * args.load:g} % of the delivery rate; baseline with {args.concurrency} threads; "
        f"{args.rounds} rounds; store sqlite, dispatcher in the gateway process"
    )
    results: dict[tuple[int, str], list[Phase]] = {(s, t): [] for s in args.subscriber_counts for t in TARGETS}
    with ExitStack() as servers:
        servers.enter_context(running(listener_target))
        servers.enter_context(running(gateway_target))
        listener = Listener(listener_target.url.rstrip("/"))
        # Warm-up: the first requests pay for imports, connections and SQLite's first pages.
        gateway_phase(gateway, listener, 1, body, orders=20, clients=args.clients, rate=0, timeout=args.timeout)
        for number in range(1, args.rounds + 1):
            for subscribers in args.subscriber_counts:
                measured, bodies = gateway_phase(
                    gateway,
                    listener,
                    subscribers,
                    body,
                    orders=args.orders,
                    clients=args.clients,
                    rate=0,
                    timeout=args.timeout,
                )
                show(number, measured, results)
                show(number, baseline_phase(listener, subscribers, bodies, args), results)
                # Orders at a share of the rate the gateway just delivered: a delay without a backlog.
                rate = args.load * measured.events_per_second / subscribers
                orders = max(5, round(rate * args.paced_seconds))
                paced, _ = gateway_phase(
                    gateway,
                    listener,
                    subscribers,
                    body,
                    orders=orders,
                    clients=args.clients,
                    rate=rate,
                    timeout=args.timeout,
                    target="paced",
                )
                show(number, paced, results)
    log = gateway_target.log.read_text(errors="replace")
    if "Traceback" in log or "ERROR" in log or "Parked" in log:
        print(f"\nThe gateway logged errors:\n{tail(gateway_target.log)}", file=sys.stderr)
    figures = report(results)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("json", "body", "subscriber_counts")}
        figures |= {"settings": settings, "body_bytes": len(body), "store": "sqlite"}
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return 0 if all(p.valid for phases in results.values() for p in phases) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a plain kill still stops the servers
    try:
        with tempfile.TemporaryDirectory(prefix="tmfgate-events-") as folder:
            return benchmark(args, Path(folder))
    except KeyboardInterrupt:
        print("\nevents: interrupted; the servers were stopped.", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, subprocess.TimeoutExpired, requests.RequestException) as exc:
        print(f"events: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
