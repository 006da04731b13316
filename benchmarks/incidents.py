"""Benchmark: alarms to trouble tickets. Many alarms on many resources (several per resource, correlated
on it) must open exactly one incident per affected customer and root resource, each relating all its
alarms; it reports the alarm-to-ticket latency (p50/p99) and tickets/s.

Each round starts two gateways on fresh SQLite files with the same
inventory (per resource: a service on it realizing one product per customer), raises the same
alarms by the same clients, and waits until every alarm is in the store (the baseline, with
``--incident-tickets off``) or in its customer's incident (the gateway). The alarm-to-ticket
latency of an alarm is the server's own times: from its ``alarmReportingTime`` to the ``date`` of
the ticket note that took it in (opened from it, or joined). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests
from events import parallel, percentile, session
from post_order import HOST, REPO, Target, free_port, running

HERE = Path(__file__).resolve().parent
TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
ALARMS = "/tmf-api/alarmManagement/v4/alarm"
RESOURCES = "/tmf-api/resourceInventoryManagement/v4/resource"
SERVICES = "/tmf-api/serviceInventory/v4/service"
PRODUCTS = "/tmf-api/productInventory/v4/product"
PAGE = 1000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alarms", type=int, default=10_000, help="alarms raised in all (default 10000)")
    parser.add_argument("--resources", type=int, default=1_000, help="resources they are spread over (default 1000)")
    parser.add_argument("--customers", type=int, default=1, help="customers per resource (default 1)")
    parser.add_argument("--clients", type=int, default=8, help="threads raising alarms (default 8)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the tickets")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    return parser.parse_args(argv)


def gateway(name: str, folder: Path, tickets: bool) -> Target:
    """A gateway on a fresh SQLite file, with or without incident tickets."""
    port = free_port()
    url = f"sqlite:///{folder / f'{name}-{uuid.uuid4().hex[:6]}.db'}"
    command = [sys.executable, "-m", "tmfgate", "serve", "--host", HOST, "--port", str(port), "--database-url", url]
    command += ["--fulfilment", "off", "--rate-limit", "0", "--incident-tickets", "on" if tickets else "off"]
    return Target(name, command, f"http://{HOST}:{port}", folder / f"{name}.log")


def post(http: requests.Session, url: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(url, json=body, timeout=60)
    if answer.status_code != 201:
        raise RuntimeError(f"POST {url} answered {answer.status_code}: {answer.text[:300]}")
    return answer.json()  # type: ignore[no-any-return]


def seed(base: str, args: argparse.Namespace) -> list[str]:
    """Per resource a service on it and ``customers`` products it realizes; the resource ids, in order."""
    ids: list[str] = [""] * args.resources
    spec = {"serviceSpecification": {"id": "ss-bench", "@referredType": "ServiceSpecification"}}

    def one(http: requests.Session, n: int) -> None:
        resource = post(http, base + RESOURCES, {"name": f"port-{n}", "@type": "LogicalResource"})
        on = [{"id": resource["id"], "@referredType": "LogicalResource"}]
        service = post(
            http, base + SERVICES, {"name": f"line-{n}", "state": "active", "supportingResource": on, **spec}
        )
        for c in range(args.customers):
            party = [{"id": f"cust-{n}-{c}", "role": "customer", "@referredType": "Individual"}]
            realizing = [{"id": service["id"], "@referredType": "Service"}]
            post(
                http,
                base + PRODUCTS,
                {"name": "Line", "status": "active", "realizingService": realizing, "relatedParty": party},
            )
        ids[n] = resource["id"]

    parallel(args.resources, args.clients, one)
    return ids


def raise_alarms(base: str, resources: list[str], args: argparse.Namespace) -> tuple[float, dict[str, str]]:
    """Raise the alarms, resource after resource in turn (so correlated alarms interleave); their
    seconds and, by alarm id, the resource."""
    raised: dict[str, str] = {}

    def one(http: requests.Session, n: int) -> None:
        resource = resources[n % len(resources)]
        body = {
            "alarmType": "equipmentAlarm",
            "perceivedSeverity": "critical" if n % 2 else "major",
            "probableCause": f"cause-{n}",
            "alarmedObject": {"id": resource, "@referredType": "LogicalResource"},
            "sourceSystemId": "bench",
            "state": "raised",
            "alarmRaisedTime": "2026-01-01T00:00:00Z",
        }
        raised[post(http, base + ALARMS, body)["id"]] = resource

    start = time.monotonic()
    parallel(args.alarms, args.clients, one)
    return time.monotonic() - start, raised


def every(http: requests.Session, url: str, **params: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = http.get(url, params={**params, "offset": str(len(found)), "limit": str(PAGE)}, timeout=120)
        page.raise_for_status()
        found += page.json()
        if len(found) >= int(page.headers["X-Total-Count"]):
            return found


def joined(ticket: dict[str, Any]) -> int:
    return sum(1 for e in ticket.get("relatedEntity", []) if e.get("@referredType") == "Alarm")


def wait_tickets(http: requests.Session, base: str, expected_alarms: int, timeout: float) -> tuple[float, list[Any]]:
    """Until the tickets take in every alarm (counted per customer: each alarm joins each of its
    customers' tickets), or ``timeout``; the seconds waited and the tickets."""
    start = time.monotonic()
    while True:
        tickets = every(http, base + TICKETS, ticketType="incident", fields="relatedEntity")
        if sum(joined(t) for t in tickets) >= expected_alarms or time.monotonic() - start > timeout:
            return time.monotonic() - start, tickets
        time.sleep(1.0)


def stamp(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def measure(target: Target, args: argparse.Namespace, tickets: bool) -> dict[str, Any]:
    with running(target), session() as http:
        resources = seed(target.url, args)
        seconds, raised = raise_alarms(target.url, resources, args)
        figures: dict[str, Any] = {"alarms_per_second": round(args.alarms / seconds, 1), "raise_seconds": seconds}
        if not tickets:
            return figures
        waited, found = wait_tickets(http, target.url, args.alarms * args.customers, args.timeout)
        full = every(http, target.url + TICKETS, ticketType="incident", fields="relatedEntity,note,creationDate")
        alarms = {a["id"]: a for a in every(http, target.url + ALARMS, fields="alarmReportingTime,alarmedObject")}
        latencies = []
        for ticket in full:
            for note in ticket.get("note", []):
                words = note.get("text", "").replace(":", " ").split()
                alarm_id = next((w for w in words if w in alarms), None)
                if alarm_id:
                    latencies.append(stamp(note["date"]) - stamp(alarms[alarm_id]["alarmReportingTime"]))
        roots = {e["id"] for t in full for e in t["relatedEntity"] if e.get("role") == "rootCause"}
        right = (
            len(full) == args.resources * args.customers
            and roots == set(resources)
            and all(joined(t) == args.alarms // args.resources for t in full)
        )
        created = sorted(stamp(t["creationDate"]) for t in full)
        span = (created[-1] - created[0]) if len(created) > 1 else 0.0
        figures.update(
            tickets=len(full),
            right=right,
            ticket_seconds=seconds + waited,
            tickets_per_second=round(len(full) / (seconds + waited), 1),
            tickets_opened_per_second=round(len(full) / span, 1) if span else None,
            alarms_taken_in_per_second=round(len(latencies) / (seconds + waited), 1),
            latency_p50_ms=round(1000 * (percentile(latencies, 50) or 0), 1),
            latency_p99_ms=round(1000 * (percentile(latencies, 99) or 0), 1),
        )
        return figures


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.alarms % args.resources:
        raise SystemExit("--alarms must be a multiple of --resources, so each resource gets as many alarms.")
    rounds = []
    with tempfile.TemporaryDirectory(prefix="tmfgate-incidents-") as name:
        folder = Path(name)
        for _ in range(args.rounds):
            baseline = measure(gateway("baseline", folder, tickets=False), args, tickets=False)
            tickets = measure(gateway("gateway", folder, tickets=True), args, tickets=True)
            tickets["alarm_rate_ratio"] = round(tickets["alarms_per_second"] / baseline["alarms_per_second"], 3)
            rounds.append({"baseline": baseline, "gateway": tickets})
            print(json.dumps(rounds[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"rounds": rounds}, indent=2))
    return 0 if all(r["gateway"]["right"] for r in rounds) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
