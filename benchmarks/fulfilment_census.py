"""What the gateway writes to fulfil one product order: its transactions, documents, events and deliveries.

Runs a gateway in this process (SQLite in a temporary folder, no hub subscriber), counts every
INSERT, UPDATE and DELETE it sends to the store through SQLAlchemy's statement events, and
fulfils one order of each kind of the benchmark's mix, one after the other, waiting after each
until the store is quiet (every event fanned out, every delivery settled). The transactions that
wrote something are kept in order, with the documents and event bodies as written, so that
``fulfilment.py`` can replay the same writes on a bare store as its baseline; see
benchmarks/README.md. Run alone, it prints the count per order kind.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from post_order import free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HOST = "127.0.0.1"
ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
# The order kinds of the mix, by the offering that stands for each (speeds and allowances change
# characteristics, not what is written).
KINDS = {"fibre": "po-fibre-500", "mobile": "po-mobile-10gb", "phone": "po-home-phone"}
QUIET = 1.0  # seconds without a write (and nothing left to deliver) after which an order is done


@dataclass
class Write:
    """One INSERT, UPDATE or DELETE: of documents (``kind``), events or deliveries, ``rows`` rows."""

    op: str  # insert | update | delete
    table: str  # document | event | delivery
    rows: int = 1
    kind: str = ""  # the document's kind, or the event's resource kind
    key: str = ""  # the document's id, or the event's resource id
    text: str = ""  # the document or the event body, as written
    api: str = ""  # event
    type: str = ""  # event
    subscription: str = ""  # delivery insert
    lease: bool = False  # delivery update: a claim (sets a lease) rather than a settle


@dataclass
class Transaction:
    """The writes of one committed transaction, and its role in the fulfilment."""

    writes: list[Write] = field(default_factory=list)
    completes: bool = False  # it stored the product order as completed

    @property
    def role(self) -> str:
        """``work`` (documents or new events), or the dispatcher's ``fan-out``, ``claim``, ``settle``."""
        tables = {(w.op, w.table) for w in self.writes}
        if tables & {("insert", "document"), ("update", "document"), ("delete", "document"), ("insert", "event")}:
            return "work"
        if tables <= {("update", "delivery")}:
            return "claim" if any(w.lease for w in self.writes) else "settle"
        return "fan-out"


def order_body(offering: str, number: int) -> dict[str, Any]:
    """A TMF622 order of one item, from customer ``number`` with a billing account of its own."""
    return {
        "externalId": f"bench-{number}",
        "description": "Benchmark order",
        "priority": "4",
        "productOrderItem": [
            {
                "id": "1",
                "action": "add",
                "quantity": 1,
                "productOffering": {"id": offering, "@referredType": "ProductOffering"},
            }
        ],
        "relatedParty": [
            {"id": f"cust-{number}", "name": f"Customer {number}", "role": "customer", "@referredType": "Individual"}
        ],
        "billingAccount": {
            "id": f"ba-{number}",
            "name": f"Account of customer {number}",
            "@referredType": "BillingAccount",
        },
        "channel": [{"id": "web", "name": "Web shop", "role": "salesChannel", "@referredType": "SalesChannel"}],
    }


def write_catalog(path: Path, pool_size: int) -> Path:
    """The demo catalog with each resource pool holding ``pool_size`` resources."""
    catalog = yaml.safe_load((REPO / "catalogs" / "demo.yaml").read_text())
    for pool in catalog["resourcePool"]:
        span = pool["range"]
        span["to"] = int(span["from"]) + pool_size - 1
        span["width"] = max(int(span.get("width", 0)), len(str(span["to"])))
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return path


class Recorder:
    """Collects the writes of each transaction on a (sync) SQLAlchemy engine, in commit order."""

    def __init__(self) -> None:
        self.committed: list[Transaction] = []
        self.last_write = time.monotonic()
        self._lock = threading.Lock()

    def attach(self, engine: Any) -> None:
        from sqlalchemy import event

        event.listen(engine, "begin", self._begin)
        event.listen(engine, "after_cursor_execute", self._executed)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    def take(self) -> list[Transaction]:
        with self._lock:
            taken, self.committed = self.committed, []
        return taken

    def _begin(self, connection: Any) -> None:
        connection.info["census"] = Transaction()

    def _executed(
        self, connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        write = _write(context, cursor)
        if write is not None:
            transaction = connection.info.setdefault("census", Transaction())
            transaction.writes.append(write)
            if write.op == "update" and write.kind == "productOrder":
                transaction.completes |= json.loads(write.text).get("state") == "completed"

    def _commit(self, connection: Any) -> None:
        transaction = connection.info.pop("census", None)
        if transaction is not None and transaction.writes:
            with self._lock:
                self.committed.append(transaction)
                self.last_write = time.monotonic()

    def _rollback(self, connection: Any) -> None:
        connection.info.pop("census", None)


def _write(context: Any, cursor: Any) -> Write | None:
    """The Write a statement made, from its compiled parameters; None for reads and other tables."""
    op = "insert" if context.isinsert else "update" if context.isupdate else "delete" if context.isdelete else ""
    table = getattr(getattr(context.compiled, "statement", None), "table", None)
    name = {"tmf_document": "document", "tmf_event": "event", "tmf_delivery": "delivery"}.get(
        getattr(table, "name", "")
    )
    if not op or name is None:
        return None
    params: list[dict[str, Any]] = context.compiled_parameters or [{}]
    first = params[0]
    rows = len(params) if op == "insert" else max(0, cursor.rowcount)
    write = Write(op, name, rows)
    if name == "document":
        # The store names its parameters of_kind and of_id (backends/sql/statements.py).
        write.kind = str(next((v for k, v in first.items() if k.startswith(("kind", "of_kind"))), ""))
        write.key = str(next((v for k, v in first.items() if k in ("id", "of_id") or k.startswith("id_")), ""))
        write.text = max((v for v in first.values() if isinstance(v, str) and v.startswith("{")), key=len, default="")
    elif name == "event" and op == "insert":
        write.kind, write.key, write.text = first["kind"], first["resource_id"], first["body"]
        write.api, write.type = first["api"], first["type"]
    elif name == "delivery" and op == "insert":
        write.subscription = str(first["subscription_id"])
    elif name == "delivery" and op == "update":
        write.lease = (first.get("lease_until") or first.get("until")) is not None  # backends.sql.outbox._LEASED
    return write


@contextmanager
def gateway(folder: Path, catalog: Path, recorder: Recorder) -> Iterator[str]:
    """A gateway on SQLite served by uvicorn in a thread, its engine watched by ``recorder``."""
    sys.path.insert(0, str(REPO))
    import uvicorn

    from tmfgate.app import create_app
    from tmfgate.settings import Settings

    port = free_port()
    settings = Settings(
        host=HOST,
        port=port,
        database_url=f"sqlite:///{folder / 'census.db'}",
        catalog=str(catalog),
        log_level="warning",
    )
    app = create_app(settings)
    backend = app.gateway.backend  # type: ignore[attr-defined]
    # On SQLite the statements run on the loop engine's connections (backends.sql.sqlite).
    recorder.attach(backend.loop_engine or backend.engine.sync_engine)
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the census gateway did not start")
        time.sleep(0.05)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def unsettled(database: Path) -> int:
    """Events not yet fanned out plus deliveries not yet delivered."""
    with sqlite3.connect(database, timeout=30) as db:
        events = db.execute("SELECT count(*) FROM tmf_event WHERE NOT fanned_out").fetchone()[0]
        deliveries = db.execute("SELECT count(*) FROM tmf_delivery WHERE state != 'delivered'").fetchone()[0]
    return int(events) + int(deliveries)


def census(folder: Path, catalog: Path, timeout: float = 60.0) -> dict[str, list[Transaction]]:
    """The transactions that fulfil one order of each kind, one order at a time."""
    recorder = Recorder()
    found: dict[str, list[Transaction]] = {}
    with gateway(folder, catalog, recorder) as url, requests.Session() as http:
        time.sleep(QUIET)  # the start-up's own writes (catalog, pools) are not an order's
        recorder.take()
        for number, (name, offering) in enumerate(KINDS.items(), start=1):
            response = http.post(url + ORDERS, json=order_body(offering, number), timeout=30)
            if response.status_code != 201:
                raise RuntimeError(f"the census order was refused: {response.status_code} {response.text}")
            order_id = response.json()["id"]
            deadline = time.monotonic() + timeout
            while True:
                state = http.get(f"{url}{ORDERS}/{order_id}", timeout=30).json()["state"]
                quiet = time.monotonic() - recorder.last_write > QUIET
                if state == "completed" and quiet and unsettled(folder / "census.db") == 0:
                    break
                if state in ("failed", "partial", "cancelled") or time.monotonic() > deadline:
                    raise RuntimeError(f"the census order {order_id} ({name}) ended {state}, not completed")
                time.sleep(0.1)
            found[name] = recorder.take()
    return found


def summary(transactions: list[Transaction]) -> dict[str, int]:
    """Counts of one order's transactions by role and of its rows by table and operation."""
    counts: Counter[str] = Counter(t.role for t in transactions)
    for t in transactions:
        for w in t.writes:
            counts[f"{w.table} {w.op}"] += w.rows
    return dict(counts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, help="catalog file (default: the demo catalog, pools of 50)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the transactions, writes and texts to FILE")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tmfgate-census-") as name:
        folder = Path(name)
        catalog = args.catalog or write_catalog(folder / "catalog.yaml", 50)
        try:
            found = census(folder, catalog)
        except (RuntimeError, OSError, requests.RequestException) as exc:
            print(f"fulfilment_census: {exc}", file=sys.stderr)
            return 1
    if args.json:
        args.json.write_text(json.dumps({name: [asdict(t) for t in ts] for name, ts in found.items()}))
    columns = (
        "work",
        "settle",
        "fan-out",
        "claim",
        "document insert",
        "document update",
        "event insert",
        "delivery insert",
        "delivery update",
        "event update",
    )
    print(f"{'order':<8}" + "".join(f"{c:>17}" for c in columns))
    for name, transactions in found.items():
        counts = summary(transactions)
        print(f"{name:<8}" + "".join(f"{counts.get(c, 0):>17}" for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
