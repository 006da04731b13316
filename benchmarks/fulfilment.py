"""Benchmark: product orders fulfilled end to end per second, and the time from the order to ``completed``.

The gateway (SQLite or PostgreSQL, dispatcher in-process) fulfils orders of a fibre / mobile /
home phone mix; the baseline replays, on the same kind of store with the bare driver (sqlite3 or
psycopg), the writes and commits that a counted run of the gateway made for each kind of order
(``fulfilment_census.py``), by as many threads as there are clients, the orders arriving when the
gateway's did. Both run in each round; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from events import parallel, percentile, session
from fulfilment_census import Transaction, Write, order_body, summary, write_catalog
from post_order import HOST, REPO, Target, free_port, running, tail

sys.path.insert(0, str(REPO))
from backends.sql.schema import metadata

HERE = Path(__file__).resolve().parent
ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
# The mix, in turn: 40 % fibre (2 services, 2 resources), 40 % mobile (3 services, 2 resources),
# 20 % home phone (1 service, 1 resource).
MIX = ("po-fibre-100", "po-mobile-10gb", "po-fibre-500", "po-mobile-unlimited", "po-home-phone")
KIND = {
    "po-fibre-100": "fibre",
    "po-fibre-500": "fibre",
    "po-mobile-10gb": "mobile",
    "po-mobile-unlimited": "mobile",
    "po-home-phone": "phone",
}
ENDED = "completed,failed,partial,cancelled"
POLL = 0.5  # seconds between two looks at how many orders have ended
POSTGRES_ADMIN = os.environ.get("TMFGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
Schedule = list[Transaction]  # one order's transactions, as the baseline commits them


@dataclass
class Phase:
    """One measured target in one round."""

    target: str
    orders: int
    round: int = 0
    load: float = 0.0  # the machine's 1-minute load average when the phase started
    completed: int = 0
    failed_requests: int = 0
    seconds: float = 0.0  # from the first order sent (or arrived) to the last completion
    delays_ms: list[float] = field(default_factory=list, repr=False)  # orderDate (or arrival) -> completed
    answered_ms: list[float] = field(default_factory=list, repr=False)  # gateway: the 201 -> completionDate
    alone_ms: list[float] = field(default_factory=list, repr=False)  # one order at a time (the warm-up)
    per_order: dict[str, float] = field(default_factory=dict)  # rows written per order, by table
    note: str = ""
    problem: str = ""

    @property
    def valid(self) -> bool:
        return self.completed == self.orders and self.failed_requests == 0 and not self.problem

    @property
    def orders_per_second(self) -> float:
        return self.completed / self.seconds if self.seconds > 0 else 0.0

    def figures(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "round": self.round,
            "load": self.load,
            "orders": self.orders,
            "completed": self.completed,
            "failed_requests": self.failed_requests,
            "seconds": self.seconds,
            "orders_per_second": self.orders_per_second,
            **{
                f"{name}_p{q}_ms": percentile(values, q)
                for name, values in (
                    ("delay", self.delays_ms),
                    ("answered", self.answered_ms),
                    ("alone", self.alone_ms),
                )
                for q in (50, 99)
            },
            "delay_min_ms": percentile(self.delays_ms, 0),
            "per_order": self.per_order,
            "note": self.note,
            "problem": self.problem,
            "valid": self.valid,
        }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300, help="orders per measured run (default 300)")
    parser.add_argument(
        "--clients", type=int, default=8, help="threads posting orders, and baseline threads (default 8)"
    )
    parser.add_argument(
        "--alone", type=int, default=10, help="orders fulfilled one at a time first, the warm-up (default 10)"
    )
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="the store of both targets (default sqlite)",
    )
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_ADMIN,
        help="a PostgreSQL database to connect to for creating and dropping the run's own "
        "(default $TMFGATE_TEST_POSTGRES_URL or postgresql+psycopg://postgres@127.0.0.1/postgres)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (default 3)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds without an order ending before a run gives up (default 120)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args(argv)
    for name in ("orders", "clients", "alone", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def instant(stamp: str) -> float:
    """Seconds since the epoch of a TMF timestamp such as ``2026-11-25T18:40:00.123Z``."""
    return dt.datetime.fromisoformat(stamp).timestamp()


# The census: what one order of each kind writes


def take_census(folder: Path) -> dict[str, Schedule]:
    """Run fulfilment_census.py and read back each kind's transactions, as committed by the gateway."""
    out = folder / "census.json"
    done = subprocess.run(
        [sys.executable, str(HERE / "fulfilment_census.py"), "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the census failed:\n{done.stdout}{done.stderr}")
    print(done.stdout, end="")
    raw = json.loads(out.read_text())
    return {
        kind: [Transaction([Write(**w) for w in t["writes"]], t["completes"]) for t in ts] for kind, ts in raw.items()
    }


def own_transactions(transactions: Schedule) -> Schedule:
    """The transactions the baseline commits: the order's own work and settles, in the gateway's order.

    The dispatcher fans out and claims for many orders at once under load, so those transactions
    are not the order's: their rows go into the order's next settle transaction instead."""
    own: Schedule = []
    carried: list[Write] = []
    for transaction in transactions:
        if transaction.role in ("fan-out", "claim"):
            carried += transaction.writes
        elif transaction.role == "settle":
            own.append(Transaction([*carried, *transaction.writes]))
            carried = []
        else:
            own.append(transaction)
    if carried:
        own[-1] = Transaction([*own[-1].writes, *carried], own[-1].completes)
    return own


def existing_documents(schedule: Schedule) -> list[Write]:
    """The documents an order changes without creating them (pool resources): the baseline seeds them."""
    created: set[str] = set()
    found: dict[str, Write] = {}
    for transaction in schedule:
        for write in transaction.writes:
            if write.table != "document":
                continue
            if write.op == "insert":
                created.add(write.key)
            elif write.key not in created:
                found.setdefault(write.key, write)
    return list(found.values())


# Stores


@contextmanager
def fresh_store(args: argparse.Namespace, folder: Path, name: str) -> Iterator[str]:
    """The URL of an empty store of its own: a new SQLite file, or a PostgreSQL database dropped after."""
    if args.database == "sqlite":
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    import psycopg

    database = f"tmfgate_bench_{name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq(args.postgres_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield args.postgres_url.rsplit("/", 1)[0] + f"/{database}"
    finally:
        with psycopg.connect(libpq(args.postgres_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def libpq(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq (psycopg) takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class BareStore:
    """The gateway's tables, written with the plain driver as the gateway writes them (no SQLAlchemy):
    sqlite3 in WAL mode with synchronous=FULL and BEGIN IMMEDIATE, or psycopg."""

    def __init__(self, url: str) -> None:
        self.postgres = url.startswith("postgresql")
        self.db: Any
        if self.postgres:
            import psycopg

            self.db = psycopg.connect(libpq(url), autocommit=True)  # BEGIN and COMMIT are ours
        else:
            self.db = sqlite3.connect(
                url.removeprefix("sqlite:///"), isolation_level=None, timeout=30, check_same_thread=False
            )
            for pragma in ("busy_timeout = 30000", "journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON"):
                self.db.execute(f"PRAGMA {pragma}")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN" if self.postgres else "BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.db.execute(sql.replace("?", "%s") if self.postgres else sql, params)

    def scalar(self, sql: str) -> int:
        return int(self.run(sql).fetchone()[0])

    def now(self) -> Any:
        """A timestamp as SQLAlchemy stores it: timestamptz, or fixed-width UTC text on SQLite."""
        moment = dt.datetime.now(dt.UTC)
        return moment if self.postgres else moment.replace(tzinfo=None).isoformat(" ", "microseconds")

    def uuid(self) -> Any:
        return uuid.uuid4() if self.postgres else uuid.uuid4().hex

    def insert_document(self, kind: str, id: str, text: str) -> None:
        now = self.now()
        if self.postgres:
            self.run(
                "INSERT INTO tmf_document (kind, id, doc, created_at, updated_at) VALUES (?, ?, ?::jsonb, ?, ?)"
                " ON CONFLICT (kind, id) DO NOTHING RETURNING seq",
                (kind, id, text, now, now),
            ).fetchone()
        else:  # the gateway's MAX + 1 under the write lock
            self.run(
                "INSERT INTO tmf_document (kind, id, seq, doc, created_at, updated_at) VALUES (?, ?, "
                "(SELECT coalesce(max(seq), 0) + 1 FROM tmf_document WHERE kind = ?), ?, ?, ?)"
                " ON CONFLICT (kind, id) DO NOTHING RETURNING seq",
                (kind, id, kind, text, now, now),
            ).fetchone()

    def update_document(self, kind: str, id: str, text: str) -> None:
        cast = "::jsonb" if self.postgres else ""
        self.run(
            f"UPDATE tmf_document SET doc = ?{cast}, updated_at = ? WHERE kind = ? AND id = ?",
            (text, self.now(), kind, id),
        )

    def delete_document(self, kind: str, id: str) -> None:
        self.run("DELETE FROM tmf_document WHERE kind = ? AND id = ?", (kind, id))

    def insert_event(self, write: Write, resource_id: str) -> int:
        return int(
            self.run(
                "INSERT INTO tmf_event (id, api, kind, resource_id, type, time, body, fanned_out)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                (str(uuid.uuid4()), write.api, write.kind, resource_id, write.type, self.now(), write.text, False),
            ).fetchone()[0]
        )

    def fan_out(self, seqs: list[int]) -> None:
        marks = ", ".join("?" for _ in seqs)
        self.run(f"UPDATE tmf_event SET fanned_out = ? WHERE seq IN ({marks})", (True, *seqs))

    def insert_deliveries(self, subscription: str, event: tuple[int, str, str], count: int) -> list[Any]:
        ids = [self.uuid() for _ in range(count)]
        now = self.now()
        rows = [(id, subscription, *event, "pending", 0, now, None, None, now, now) for id in ids]
        sql = (
            "INSERT INTO tmf_delivery (id, subscription_id, event_seq, kind, resource_id, state, attempts,"
            " next_attempt, lease_until, last_error, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        if self.postgres:
            self.db.cursor().executemany(sql.replace("?", "%s"), rows)
        else:
            self.db.executemany(sql, rows)
        return ids

    def lease(self, ids: list[Any]) -> None:
        marks = ", ".join("?" for _ in ids)
        self.run(
            f"UPDATE tmf_delivery SET lease_until = ?, updated_at = ? WHERE id IN ({marks})",
            (self.now(), self.now(), *ids),
        )

    def settle(self, id: Any) -> None:
        self.run(
            "UPDATE tmf_delivery SET attempts = attempts + 1, lease_until = NULL, last_error = NULL,"
            " updated_at = ?, state = 'delivered' WHERE id = ? AND state = 'pending'",
            (self.now(), id),
        )


class Replay:
    """One order's schedule committed on a bare store, the census's ids mapped to this order's own."""

    def __init__(self, store: BareStore, number: int, schedule: Schedule) -> None:
        self.store, self.number, self.schedule = store, number, schedule
        self.ids: dict[str, str] = {}
        self.events: list[tuple[int, str, str]] = []  # seq, kind, resource id
        self.unrouted: list[int] = []
        self.unclaimed: list[Any] = []
        self.claimed: list[Any] = []

    def run(self, lock: threading.Lock | None) -> float:
        """Commit every transaction; returns when (time.time()) the one completing the order committed."""
        completed = 0.0
        for transaction in self.schedule:
            if lock is not None:
                lock.acquire()
            try:
                with self.store.transaction():
                    for write in transaction.writes:
                        self.apply(write)
            finally:
                if lock is not None:
                    lock.release()
            if transaction.completes:
                completed = time.time()
        return completed

    def id(self, key: str) -> str:
        """This order's id for a census document id: seeded, unless this order created it."""
        return self.ids.get(key) or seeded_id(self.number, key)

    def apply(self, write: Write) -> None:
        store = self.store
        if write.table == "document":
            if write.op == "insert":
                self.ids[write.key] = f"{write.key[:24]}-{self.number}-{uuid.uuid4().hex[:8]}"
                store.insert_document(write.kind, self.ids[write.key], write.text)
            elif write.op == "update":
                store.update_document(write.kind, self.id(write.key), write.text)
            else:
                store.delete_document(write.kind, self.id(write.key))
        elif write.table == "event" and write.op == "insert":
            resource_id = self.ids.get(write.key, write.key)
            self.events.append((store.insert_event(write, resource_id), write.kind, resource_id))
            self.unrouted.append(self.events[-1][0])
        elif write.table == "event":  # fan-out: the order's oldest events not yet routed
            taken, self.unrouted = self.unrouted[: write.rows], self.unrouted[write.rows :]
            if taken:
                store.fan_out(taken)
        elif write.op == "insert":  # deliveries
            self.unclaimed += store.insert_deliveries(write.subscription, self.events[-1], write.rows)
        elif write.lease:
            taken, self.unclaimed = self.unclaimed[: write.rows], self.unclaimed[write.rows :]
            if taken:
                store.lease(taken)
                self.claimed += taken
        else:
            pending = self.claimed or self.unclaimed
            if pending:
                store.settle(pending.pop(0))


def seeded_id(number: int, key: str) -> str:
    return f"seed-{number}-{key}"


# The gateway


@dataclass
class Posted:
    number: int
    sent: float
    answered: float = 0.0
    id: str = ""


def post_orders(base: str, numbers: list[int], clients: int) -> tuple[list[Posted], int]:
    """POST the orders from ``clients`` threads; the answered ones, and how many failed."""
    posted: list[Posted] = []
    failures: list[int] = []

    def post(http: requests.Session, index: int) -> None:
        number = numbers[index]
        order = Posted(number, time.time())
        try:
            response = http.post(base + ORDERS, json=order_body(MIX[number % len(MIX)], number), timeout=30)
        except requests.RequestException:
            failures.append(number)  # list.append is atomic across threads
            return
        order.answered = time.time()
        if response.status_code != 201:
            failures.append(number)
            return
        order.id = response.json()["id"]
        posted.append(order)

    parallel(len(numbers), clients, post)
    return posted, len(failures)


def wait_ended(http: requests.Session, base: str, expected: int, timeout: float) -> int:
    """Until ``expected`` orders have ended, or ``timeout`` seconds pass with none ending; how many did."""
    last, progress = -1, time.monotonic()
    while True:
        response = http.get(base + ORDERS, params={"state": ENDED, "limit": "0"}, timeout=30)
        response.raise_for_status()
        ended = int(response.headers["X-Total-Count"])
        if ended >= expected:
            return ended
        if ended != last:
            last, progress = ended, time.monotonic()
        elif time.monotonic() - progress > timeout:
            return ended
        time.sleep(POLL)


def wait_order(http: requests.Session, url: str, timeout: float) -> dict[str, Any]:
    """The order once it has ended (or as it is after ``timeout`` seconds), looked at every 0.1 s (its
    own dates are the measure, so looking more often would only load the gateway)."""
    deadline = time.monotonic() + timeout
    while True:
        order: dict[str, Any] = http.get(url, params={"fields": "state,orderDate,completionDate"}, timeout=30).json()
        if order.get("state") in ENDED.split(",") or time.monotonic() > deadline:
            return order
        time.sleep(0.1)


def store_rows(store: BareStore) -> dict[str, int]:
    return {table: store.scalar(f"SELECT count(*) FROM tmf_{table}") for table in ("document", "event", "delivery")}


def quiesce(store: BareStore, timeout: float) -> bool:
    """Wait until every event is fanned out and every delivery settled (the orders' billing, too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (
            store.scalar("SELECT count(*) FROM tmf_event WHERE NOT fanned_out") == 0
            and store.scalar("SELECT count(*) FROM tmf_delivery WHERE state != 'delivered'") == 0
        ):
            return True
        time.sleep(0.2)
    return False


def gateway_round(
    args: argparse.Namespace,
    folder: Path,
    number: int,
    expected: dict[str, float],
) -> tuple[Phase, list[float]]:
    """Fulfil the orders on a fresh gateway; the phase and the orders' arrivals (201s) after the first POST."""
    phase = Phase("gateway", args.orders, number, os.getloadavg()[0])
    catalog = write_catalog(folder / f"catalog-{number}.yaml", args.alone + args.orders + 10)
    with fresh_store(args, folder, f"gateway{number}") as url:
        port = free_port()
        base = f"http://{HOST}:{port}"
        target = Target(
            "gateway",
            [
                sys.executable,
                "-m",
                "tmfgate",
                "serve",
                "--database-url",
                url,
                "--catalog",
                str(catalog),
                "--host",
                HOST,
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--rate-limit",  # one client sends every order
                "0",
            ],
            f"{base}{ORDERS}?limit=1",
            folder / f"gateway-{number}.log",
        )
        with running(target), session() as http:
            for n in range(1, args.alone + 1):  # one at a time: the warm-up, and the delay of an order alone
                posted, _ = post_orders(base, [n], 1)
                alone = wait_order(http, f"{base}{ORDERS}/{posted[0].id}", args.timeout) if posted else {}
                if alone.get("state") != "completed":
                    phase.problem = f"the order {n}, fulfilled alone, was {alone.get('state', 'refused')}"
                    return phase, []
                phase.alone_ms.append(1000 * (instant(alone["completionDate"]) - instant(alone["orderDate"])))
            store = BareStore(url)
            try:
                before = store_rows(store)
                numbers = list(range(args.alone + 1, args.alone + args.orders + 1))
                started = time.time()
                posted, phase.failed_requests = post_orders(base, numbers, args.clients)
                wait_ended(http, base, args.alone + len(posted), args.timeout)
                found = {
                    o["id"]: o
                    for o in http.get(
                        base + ORDERS, params={"fields": "id,state,orderDate,completionDate"}, timeout=60
                    ).json()
                }
                unfinished = [o for o in posted if found.get(o.id, {}).get("state") != "completed"]
                if unfinished:  # why, in the order's own words
                    order = http.get(f"{base}{ORDERS}/{unfinished[0].id}", timeout=30).json()
                    notes = " ".join(
                        n.get("text", "")
                        for n in order.get("note", [])
                        if not n.get("text", "").startswith("Fulfilled by")
                    )
                    phase.problem = (
                        f"{len(unfinished)} orders did not complete; order {unfinished[0].number} "
                        f"({MIX[unfinished[0].number % len(MIX)]}) is {order.get('state')}: {notes}"
                    )
                if not quiesce(store, args.timeout) and not phase.problem:
                    phase.problem = "events or deliveries were left pending"
                after = store_rows(store)
            finally:
                store.close()
    last = started
    for order in posted:
        stored = found.get(order.id, {})
        if stored.get("state") != "completed":
            continue
        phase.completed += 1
        done = instant(stored["completionDate"])
        last = max(last, done)
        phase.delays_ms.append(1000 * (done - instant(stored["orderDate"])))
        phase.answered_ms.append(1000 * (done - order.answered))
    phase.seconds = last - started
    phase.per_order = {table: (after[table] - before[table]) / args.orders for table in after}
    drift = [
        f"{t} {phase.per_order[t]:.1f} (census {expected[t]:.1f})"
        for t in after
        if abs(phase.per_order[t] - expected[t]) > 0.05 * expected[t]
    ]
    if drift:  # the baseline replays the census: say when the gateway wrote otherwise under load
        phase.note = f"per order, the gateway wrote {', '.join(drift)} rows"
    return phase, sorted(order.answered - started for order in posted)


def expected_rows(schedules: dict[str, Schedule], numbers: Sequence[int]) -> dict[str, float]:
    """Rows inserted per order by table, by the census, for these orders of the mix."""
    totals = {"document": 0.0, "event": 0.0, "delivery": 0.0}
    for n in numbers:
        counts = summary(schedules[KIND[MIX[n % len(MIX)]]])
        for table in totals:
            totals[table] += counts.get(f"{table} insert", 0) - counts.get(f"{table} delete", 0)
    return {table: total / len(numbers) for table, total in totals.items()}


# The baseline


def baseline_round(
    args: argparse.Namespace, folder: Path, number: int, schedules: dict[str, Schedule], arrivals: list[float]
) -> Phase:
    """Replay the orders' schedules on a fresh bare store: alone first, then as they arrived at the gateway."""
    phase = Phase("baseline", args.orders, number, os.getloadavg()[0])
    own = {kind: own_transactions(schedule) for kind, schedule in schedules.items()}
    kinds = {n: KIND[MIX[n % len(MIX)]] for n in range(1, args.alone + args.orders + 1)}
    with fresh_store(args, folder, f"baseline{number}") as url:
        from sqlalchemy import create_engine

        engine = create_engine(url)
        metadata.create_all(engine)
        engine.dispose()
        store = BareStore(url)
        try:
            with store.transaction():
                for n, kind in kinds.items():
                    for write in existing_documents(own[kind]):
                        store.insert_document(write.kind, seeded_id(n, write.key), write.text)
            for n in range(1, args.alone + 1):
                started = time.time()
                phase.alone_ms.append(1000 * (Replay(store, n, own[kinds[n]]).run(None) - started))
            before = store_rows(store)
        finally:
            store.close()
        # SQLite has one writer at a time: a lock hands the database over at once, where SQLite's
        # busy handler would poll (sleeping up to 100 ms); PostgreSQL takes concurrent writers.
        lock = None if args.database == "postgresql" else threading.Lock()
        queue = iter(range(args.orders))
        queue_lock = threading.Lock()
        start = time.time()
        done: list[tuple[float, float]] = []  # (arrival, completion)
        errors: list[BaseException] = []

        def worker() -> None:
            store = BareStore(url)
            try:
                while not errors:
                    with queue_lock:
                        index = next(queue, None)
                    if index is None:
                        return
                    arrival = start + (arrivals[index] if index < len(arrivals) else 0.0)
                    time.sleep(max(0.0, arrival - time.time()))
                    n = args.alone + 1 + index
                    done.append((arrival, Replay(store, n, own[kinds[n]]).run(lock)))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                store.close()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        store = BareStore(url)
        try:
            after = store_rows(store)
        finally:
            store.close()
    if errors:
        phase.problem = f"a replay failed: {errors[0]!r}"
    phase.completed = len(done)
    phase.seconds = max((completed for _, completed in done), default=start) - start
    phase.delays_ms = [1000 * (completed - arrival) for arrival, completed in done]
    phase.per_order = {table: (after[table] - before[table]) / args.orders for table in after}
    return phase


# Report


def describe(phase: Phase) -> str:
    def ms(values: list[float], q: float) -> str:
        value = percentile(values, q)
        return "-" if value is None else f"{value:,.0f}"

    delays = phase.delays_ms
    text = (
        f"{phase.completed:>5} of {phase.orders} in {phase.seconds:6.2f} s {phase.orders_per_second:7.1f} orders/s"
        f"  delay min {ms(delays, 0):>6} p50 {ms(delays, 50):>6} p99 {ms(delays, 99):>6} ms"
        f"  alone p50 {ms(phase.alone_ms, 50):>5} ms  (load {phase.load:.1f})"
    )
    if phase.answered_ms:
        text += f"  from the 201: p50 {ms(phase.answered_ms, 50)} ms  p99 {ms(phase.answered_ms, 99)} ms"
    if phase.note:
        text += f"  note: {phase.note}"
    if not phase.valid:
        text += f"  INVALID: {phase.orders - phase.completed} not completed, {phase.failed_requests} failed POSTs"
        text += f"; {phase.problem}" if phase.problem else ""
    return text


def median(phases: list[Phase], value: Callable[[Phase], float | None]) -> float | None:
    values = [v for p in phases if p.valid and (v := value(p)) is not None]
    return statistics.median(values) if values else None


def report(results: dict[str, list[Phase]]) -> dict[str, Any]:
    """The medians over rounds (valid runs only) and the ratios; returns them for ``--json``."""
    columns = {
        "orders_per_second": lambda p: p.orders_per_second,
        "delay_p50_ms": lambda p: percentile(p.delays_ms, 50),
        "delay_p99_ms": lambda p: percentile(p.delays_ms, 99),
        "alone_p50_ms": lambda p: percentile(p.alone_ms, 50),
        "alone_p99_ms": lambda p: percentile(p.alone_ms, 99),
        "answered_p50_ms": lambda p: percentile(p.answered_ms, 50),
        "answered_p99_ms": lambda p: percentile(p.answered_ms, 99),
    }
    table = {
        target: {name: median(phases, value) for name, value in columns.items()} for target, phases in results.items()
    }
    print(
        f"\n{'target':<10}{'orders/s':>10}{'delay p50':>11}{'p99 ms':>9}{'alone p50':>11}{'p99 ms':>9}"
        f"{'201->done p50':>15}{'p99 ms':>9}"
    )
    for target, row in table.items():
        print(
            f"{target:<10}"
            + "".join(
                f"{'-' if row[name] is None else format(row[name], fmt):>{width}}"
                for name, fmt, width in (
                    ("orders_per_second", ",.1f", 10),
                    ("delay_p50_ms", ",.0f", 11),
                    ("delay_p99_ms", ",.0f", 9),
                    ("alone_p50_ms", ",.0f", 11),
                    ("alone_p99_ms", ",.0f", 9),
                    ("answered_p50_ms", ",.0f", 15),
                    ("answered_p99_ms", ",.0f", 9),
                )
            )
            + ("" if all(p.valid for p in results[target]) else "  INVALID")
        )
    ratios: dict[str, float | None] = {}
    gateway, baseline = table["gateway"], table["baseline"]
    for name in ("orders_per_second", "delay_p50_ms", "delay_p99_ms", "alone_p50_ms"):
        g, b = gateway[name], baseline[name]
        ratios[name] = g / b if g is not None and b else None
    if ratios["orders_per_second"] is not None:
        each = ", ".join(
            f"{100 * g.orders_per_second / b.orders_per_second:.0f} %"
            for g, b in zip(results["gateway"], results["baseline"], strict=True)
            if g.valid and b.valid and b.orders_per_second
        )
        print(
            f"gateway / baseline: orders/s {100 * ratios['orders_per_second']:.1f} % (round by round {each});"
            + "".join(
                f" {label} x{ratios[name]:.1f}"
                for label, name in (
                    ("delay p50", "delay_p50_ms"),
                    ("p99", "delay_p99_ms"),
                    ("alone p50", "alone_p50_ms"),
                )
                if ratios[name] is not None
            )
        )
    return {"table": table, "ratios": ratios, "phases": [p.figures() for phases in results.values() for p in phases]}


def benchmark(args: argparse.Namespace, folder: Path) -> int:
    print("census: what the gateway writes per order (transactions by role, rows by table)", flush=True)
    schedules = take_census(folder)
    commits = {kind: len(own_transactions(s)) for kind, s in schedules.items()}
    print(
        f"the baseline commits per order: {', '.join(f'{k} {n}' for k, n in commits.items())}; "
        f"store {args.database}; {args.orders} orders from {args.clients} clients after {args.alone} alone; "
        f"{args.rounds} rounds",
        flush=True,
    )
    expected = expected_rows(schedules, range(args.alone + 1, args.alone + args.orders + 1))
    results: dict[str, list[Phase]] = {"baseline": [], "gateway": []}
    for number in range(1, args.rounds + 1):
        gateway, arrivals = gateway_round(args, folder, number, expected)
        results["gateway"].append(gateway)
        print(f"round {number} gateway  {describe(gateway)}", flush=True)
        baseline = baseline_round(args, folder, number, schedules, arrivals)
        results["baseline"].append(baseline)
        print(f"round {number} baseline {describe(baseline)}", flush=True)
    for log in sorted(folder.glob("gateway-*.log")):
        text = log.read_text(errors="replace")
        if "Traceback" in text or "ERROR" in text or "Parked" in text:
            print(f"\n{log.name} has errors:\n{tail(log)}", file=sys.stderr)
    figures = report(results)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("json", "postgres_url")}
        figures |= {
            "settings": settings,
            "commits_per_order": commits,
            "census": {kind: summary(s) for kind, s in schedules.items()},
        }
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return 0 if all(p.valid for phases in results.values() for p in phases) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a plain kill still stops the gateway
    try:
        with tempfile.TemporaryDirectory(prefix="tmfgate-fulfilment-") as folder:
            return benchmark(args, Path(folder))
    except KeyboardInterrupt:
        print("\nfulfilment: interrupted; the gateway was stopped.", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, subprocess.TimeoutExpired, requests.RequestException, sqlite3.Error) as exc:
        print(f"fulfilment: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
