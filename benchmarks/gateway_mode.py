"""Benchmark: TMF639 calls through a gateway to an upstream tmfgate, against the same calls made
straight to the upstream, side by side in one run; see benchmarks/README.md (Gateway mode)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

BASE = "/tmf-api/resourceInventoryManagement/v4"
HOST = "127.0.0.1"  # loopback only
GOALS = {"get by id": 70.0, "list of 100": 70.0, "create": 60.0}  # % of the direct throughput
LATENCY_GOAL_MS = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process and its children have used so far, from /proc (Linux)."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (OSError, ValueError, IndexError):
        pass  # not Linux, or the process has gone: the CPU columns show 0
    return total


@dataclass
class Server:
    url: str
    pid: int


@contextmanager
def serving(folder: Path, name: str, *options: str) -> Iterator[Server]:
    """``tmfgate serve`` on a free port, memory store, no fulfilment, no rate limit; its URL once it answers."""
    port = free_port()
    log = (folder / f"{name}.log").open("wb")
    command = [sys.executable, "-m", "tmfgate", "serve", "--port", str(port), "--database-url", "memory://"]
    # No rate limit: both servers see one client address, and the limit is not what is measured.
    command += ["--fulfilment", "off", "--log-level", "warning", "--rate-limit", "0", *options]
    process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + BASE + "/resource?limit=1", timeout=2)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start; see {folder / (name + '.log')}") from None
            time.sleep(0.1)
    try:
        yield Server(url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


Call = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]


def calls(ids: Sequence[str]) -> dict[str, Call]:
    def get_by_id(client: httpx.AsyncClient, url: str) -> Awaitable[httpx.Response]:
        return client.get(f"{url}{BASE}/resource/{ids[time.perf_counter_ns() % len(ids)]}")

    def list_100(client: httpx.AsyncClient, url: str) -> Awaitable[httpx.Response]:
        return client.get(f"{url}{BASE}/resource?limit=100")

    def create(client: httpx.AsyncClient, url: str) -> Awaitable[httpx.Response]:
        return client.post(f"{url}{BASE}/resource", json={"name": "olt", "category": "bench"})

    return {"get by id": get_by_id, "list of 100": list_100, "create": create}


async def throughput(call: Call, url: str, seconds: float, connections: int) -> float:
    """Calls a second with ``connections`` callers in a closed loop; every answer must be a 2xx."""
    end = time.perf_counter() + seconds
    done = 0

    async def caller(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.perf_counter() < end:
            response = await call(client, url)
            if response.status_code >= 300:
                raise SystemExit(f"{url} answered {response.status_code}: {response.text[:200]}")
            done += 1

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=connections)) as client:
        await asyncio.gather(*(caller(client) for _ in range(connections)))
    return done / seconds


async def latency(call: Call, url: str, rate: float, seconds: float) -> float:
    """The median milliseconds of calls started at ``rate`` a second (open loop)."""
    times: list[float] = []

    async def one(client: httpx.AsyncClient) -> None:
        start = time.perf_counter()
        await call(client, url)
        times.append((time.perf_counter() - start) * 1000)

    async with httpx.AsyncClient() as client:
        tasks = []
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(client)))
        await asyncio.gather(*tasks)
    return statistics.median(times)


async def measure(upstream: Server, front: Server, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Throughput and half-load latency of each call, direct and through the gateway, and the CPU
    milliseconds each server spends per call: on a machine shared with the load generator (and other
    work), the throughput ratio is bounded by the shared cores, while the CPU per call tells what each
    server would do on a host of its own."""
    direct, gateway = upstream.url, front.url
    async with httpx.AsyncClient() as client:
        ids = []
        for _ in range(120):
            response = await client.post(f"{direct}{BASE}/resource", json={"name": "seed", "category": "seed"})
            ids.append(response.json()["id"])
    figures: dict[str, dict[str, float]] = {}
    for name, call in calls(ids).items():
        rates: dict[str, list[float]] = {"direct": [], "gateway": []}
        cpu = {"direct": [0.0, 0], "gateway": [0.0, 0], "upstream via gateway": [0.0, 0]}  # seconds, calls
        for _ in range(args.rounds):  # alternate, so both see the same machine
            for target, url in (("direct", direct), ("gateway", gateway)):
                await throughput(call, url, 1, args.connections)  # warm-up
                before = cpu_seconds(upstream.pid), cpu_seconds(front.pid)
                rates[target].append(await throughput(call, url, args.duration, args.connections))
                made = round(rates[target][-1] * args.duration)
                spent = cpu_seconds(upstream.pid) - before[0], cpu_seconds(front.pid) - before[1]
                if target == "direct":
                    cpu["direct"] = [cpu["direct"][0] + spent[0], int(cpu["direct"][1]) + made]
                else:
                    cpu["gateway"] = [cpu["gateway"][0] + spent[1], int(cpu["gateway"][1]) + made]
                    via = cpu["upstream via gateway"]
                    cpu["upstream via gateway"] = [via[0] + spent[0], int(via[1]) + made]
        direct_rate = statistics.median(rates["direct"])
        half = direct_rate / 2
        figures[name] = {
            **{f"{who} cpu ms/call": 1000 * s / max(1, int(n)) for who, (s, n) in cpu.items()},
            "direct req/s": direct_rate,
            "gateway req/s": statistics.median(rates["gateway"]),
            "direct p50 ms at half load": await latency(call, direct, half, args.duration),
            "gateway p50 ms at half load": await latency(call, gateway, half, args.duration),
        }
    return figures


def own_hosts(f: dict[str, float]) -> float:
    """The % of the direct throughput kept with each server on a host of its own: the upstream's CPU
    per direct call over the busier of the two servers' CPU per call through the gateway."""
    busiest = max(f["gateway cpu ms/call"], f["upstream via gateway cpu ms/call"])
    return 100 * f["direct cpu ms/call"] / busiest if busiest else 0.0


def report(figures: dict[str, dict[str, float]]) -> bool:
    print("| call | direct req/s | gateway req/s | ratio | goal | direct p50 | gateway p50 | added |")
    print("|---|---|---|---|---|---|---|---|")
    met = True
    for name, f in figures.items():
        ratio = 100 * f["gateway req/s"] / f["direct req/s"]
        added = f["gateway p50 ms at half load"] - f["direct p50 ms at half load"]
        met = met and ratio >= GOALS[name] and added <= LATENCY_GOAL_MS
        print(
            f"| {name} | {f['direct req/s']:.0f} | {f['gateway req/s']:.0f} | {ratio:.0f} % | {GOALS[name]:.0f} % "
            f"| {f['direct p50 ms at half load']:.2f} ms | {f['gateway p50 ms at half load']:.2f} ms "
            f"| {added:+.2f} ms |"
        )
    print()
    print("| call | upstream CPU/call direct | upstream CPU/call via gateway | gateway CPU/call | own hosts |")
    print("|---|---|---|---|---|")
    for name, f in figures.items():
        print(
            f"| {name} | {f['direct cpu ms/call']:.2f} ms | {f['upstream via gateway cpu ms/call']:.2f} ms "
            f"| {f['gateway cpu ms/call']:.2f} ms | {own_hosts(f):.0f} % |"
        )
    return met


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        with serving(folder, "upstream") as direct:
            config = folder / "gateway.yaml"
            config.write_text(f"apis:\n  tmf639: {{upstream: {{url: '{direct.url}{BASE}'}}}}\n")
            with serving(folder, "gateway", "--config", str(config)) as gateway:
                figures = asyncio.run(measure(direct, gateway, args))
    met = report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
