"""Benchmark: validated POST /productOrder on the memory backend against a bare Starlette echo,
(``--target auth``) the gateway with JWT authentication on against the same gateway without it,
(``--target v5``) the same order posted to TMF622 v5 against v4, and (``--target observability``) the
gateway with metrics and JSON request logs against the same gateway without them.

The servers run side by side and are measured alternately in one run, so the ratio compares them
under the same machine conditions; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tmfgate.server import workers as tmfgate_workers

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HOST = "127.0.0.1"  # loopback only: this tool never loads anything else
ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
GOAL_PERCENT = 50.0
AUTH_GOAL_PERCENT = 90.0  # JWT authentication may cost at most 10 % of the throughput
OBSERVED_GOAL_PERCENT = 95.0  # metrics and JSON logs may cost at most 5 % of the throughput
V5_GOAL_PERCENT = 80.0  # a v5 order (validated on @type, mapped to the stored shape) within 20 % of v4
V5_BODY = HERE / "bodies" / "product_order_v5.json"  # the default body's order in TMF622 v5 terms
ISSUER, AUDIENCE = "https://idp.bench.example", "tmfgate-bench"


@dataclass
class Target:
    """A server to measure: how to start it and where to POST."""

    name: str
    command: list[str]
    url: str
    log: Path
    authorization: str = ""  # the Authorization header wrk sends
    body: Path | None = None  # what it is sent, when not the run's body


@dataclass
class Run:
    """The figures of one wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    split: str = "?"  # connections per server process

    @property
    def valid(self) -> bool:
        return self.non2xx == 0 and self.socket_errors == 0


@dataclass
class Summary:
    """The measured runs of one target and their medians (over valid runs only)."""

    runs: list[Run] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return bool(self.runs) and all(run.valid for run in self.runs)

    def median(self, name: str) -> float:
        values = [getattr(run, name) for run in self.runs if run.valid]
        return statistics.median(values) if values else 0.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds before each run (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="measured runs per target (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="processes per server (default 2)")
    parser.add_argument(
        "--target",
        choices=["both", "baseline", "gateway", "auth", "v5", "observability"],
        default="both",
        help="which servers to measure (default both: baseline and gateway; auth: the gateway without "
        "authentication and with JWT authentication; v5: the gateway's TMF622 v4 and v5; observability: the "
        "gateway without metrics, health and JSON logs, and with them)",
    )
    parser.add_argument(
        "--body",
        type=Path,
        default=HERE / "bodies" / "product_order.json",
        help="JSON file to POST (default bodies/product_order.json)",
    )
    parser.add_argument(
        "--fulfilment",
        choices=["on", "off"],
        default="off",
        help="the gateway's order fulfilment (default off: it is measured by fulfilment.py)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def targets(args: argparse.Namespace, folder: Path) -> list[Target]:
    """The baseline echo and the gateway, each on its own free port, as ``--target`` selects."""
    workers = str(args.workers)
    echo_port, gateway_port = free_port(), free_port()
    # The echo's workers share out connections as the gateway's do: on Linux each listens on a
    # socket of its own (tmfgate.server.workers), elsewhere uvicorn's workers share one.
    if tmfgate_workers.supported():
        echo = [sys.executable, str(HERE / "echo_workers.py"), HOST, str(echo_port), workers]
    else:
        echo = [
            sys.executable,
            "-m",
            "uvicorn",
            "echo_app:app",
            "--app-dir",
            str(HERE),
            "--host",
            HOST,
            "--port",
            str(echo_port),
            "--workers",
            workers,
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    baseline = Target("baseline", echo, f"http://{HOST}:{echo_port}/echo", folder / "baseline.log")
    # Fulfilment decomposes each new order after its 201, in the same process (a reaction to its
    # create event): that is work of its own, with its own benchmark (fulfilment.py), not part of
    # answering the POST; and the offering of the body is not in the demo catalog, so it would
    # only fail each order. The event is still stored with the order in the same transaction.
    gateway = Target(
        "gateway",
        [
            sys.executable,
            "-m",
            "tmfgate",
            "serve",
            "--database-url",
            "memory://",
            "--host",
            HOST,
            "--port",
            str(gateway_port),
            "--workers",
            workers,
            "--log-level",
            "warning",
            "--fulfilment",
            args.fulfilment,
            "--rate-limit",  # one client sends every order
            "0",
        ],
        f"http://{HOST}:{gateway_port}{ORDERS}",
        folder / "gateway.log",
    )
    if args.target == "auth":
        return [gateway, jwt_gateway(gateway, folder)]
    if args.target == "observability":
        return observed_gateways(gateway, folder)
    if args.target == "v5":
        v5 = compact_body(V5_BODY, folder, "body-v5.json")
        url = gateway.url.replace("/v4/", "/v5/")
        return [gateway, Target("gateway-v5", gateway.command, url, folder / "gateway-v5.log", body=v5)]
    return [t for t in (baseline, gateway) if args.target in ("both", t.name)]


def jwt_gateway(plain: Target, folder: Path) -> Target:
    """The same gateway with ``--auth jwt``: a key set of its own, one token for every request (the
    key kept in memory by the gateway, as in production between two rotations)."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = folder / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**public, "kid": "bench", "alg": "RS256", "use": "sig"}]}))
    claims = {"iss": ISSUER, "aud": AUDIENCE, "azp": "bench", "exp": int(time.time()) + 86400, "scope": "tmf622:write"}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "bench"})
    port = free_port()
    command = [*plain.command, "--auth", "jwt", "--jwks", str(jwks), "--issuer", ISSUER, "--audience", AUDIENCE]
    command[command.index("--port") + 1] = str(port)
    url = plain.url.replace(f":{urlsplit(plain.url).port}/", f":{port}/")
    return Target("gateway+jwt", command, url, folder / "gateway-jwt.log", authorization=f"Bearer {token}")


def observed_gateways(plain: Target, folder: Path) -> list[Target]:
    """The gateway without metrics, health paths and JSON logs, and with them: a JSON line per request
    written to its log (the metrics are kept whether scraped or not)."""
    bare = [*plain.command, "--metrics", "off", "--health", "off", "--log-format", "text"]
    port = free_port()
    observed = [*plain.command, "--metrics", "on", "--health", "on", "--log-format", "json", "--log-level", "info"]
    observed[observed.index("--port") + 1] = str(port)
    url = plain.url.replace(f":{urlsplit(plain.url).port}/", f":{port}/")
    return [
        Target("gateway", bare, plain.url, plain.log),
        Target("gateway+observed", observed, url, folder / "gateway-observed.log"),
    ]


@contextmanager
def running(target: Target, timeout: float = 120.0) -> Iterator[None]:
    """Start a server in its own session (Ctrl-C reaches only us), wait for it, always stop it."""
    with target.log.open("ab") as log:  # appended: one server per round, one log per target
        proc = subprocess.Popen(
            target.command,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(proc, target, timeout)
        yield
    finally:
        if proc.poll() is not None:  # it died under load: say why, whatever else failed
            print(f"The {target.name} exited with status {proc.returncode}:\n{tail(target.log)}", file=sys.stderr)
        stop(proc)


def wait_ready(proc: subprocess.Popen[bytes], target: Target, timeout: float) -> None:
    """Poll until the server answers HTTP at all (any status); fail if it exits or stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"The {target.name} exited with status {proc.returncode}:\n{tail(target.log)}")
        try:
            urllib.request.urlopen(target.url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # e.g. 405 for GET /echo: it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"The {target.name} did not answer within {timeout:.0f} s:\n{tail(target.log)}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM lets uvicorn stop its workers; then kill whatever is left of the server's process group."""
    if proc.poll() is None:
        proc.terminate()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    with suppress(ProcessLookupError):  # nothing left of the group is the usual case
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout)


def tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wrk(url: str, seconds: int, connections: int, body: Path, workers: int, authorization: str = "") -> Run:
    """One bounded wrk run; post.lua prints its figures as a JSON line after ``WRK_RESULT``."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(HERE / "post.lua"), url]
    env = {**os.environ, "BODY_FILE": str(body), "AUTHORIZATION": authorization}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        try:
            time.sleep(seconds / 2)
            split = connection_split(urlsplit(url).port or 80, workers)
            output, _ = proc.communicate(timeout=seconds + 30)
        except BaseException:
            proc.kill()
            raise
    line = next((x for x in output.splitlines() if x.startswith("WRK_RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{output}")
    raw = json.loads(line.removeprefix("WRK_RESULT "))
    return Run(
        rps=raw["requests"] / (raw["duration_us"] / 1e6),
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        non2xx=raw["non2xx"],
        socket_errors=raw["socket_errors"],
        split=split,
    )


def connection_split(port: int, workers: int) -> str:
    """wrk's connections per server process, e.g. "11/5": uvicorn's workers share one listening
    socket and sometimes one of them accepts them all, which halves that run (performance-facts.md)."""
    if shutil.which("ss") is None:
        return "?"
    listing = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout
    counts = sorted(Counter(re.findall(r"pid=(\d+)", listing)).values(), reverse=True)
    counts += [0] * (workers - len(counts))
    return "/".join(str(n) for n in counts) if any(counts) else "?"


def measure(chosen: list[Target], args: argparse.Namespace, body: Path) -> tuple[dict[str, Summary], int | None]:
    """Per round, per target in turn: a fresh server, a warm-up run, a measured run, the server stopped.

    A fresh server each round keeps the rounds alike: the gateway's memory store grows by every
    order it answers (some 2.5 KB each), so a server kept across rounds would measure ever larger
    processes, and on a virtual machine memory touched for the first time can cost several times
    as much per page as memory reused. Returns the runs and the fewest orders the gateway had
    stored after a round (None when the gateway is not measured)."""
    results = {target.name: Summary() for target in chosen}
    stored: int | None = None
    for number in range(1, args.rounds + 1):
        for target in chosen:
            with running(target):
                sent = target.body or body
                warmup = wrk(target.url, args.warmup, args.connections, sent, args.workers, target.authorization)
                run = wrk(target.url, args.duration, args.connections, sent, args.workers, target.authorization)
                if target.name == "gateway":
                    count = stored_orders(target.url)
                    stored = count if stored is None else min(stored, count)
            results[target.name].runs.append(run)
            print(
                f"round {number} {target.name:<8} {describe(run)}"
                + ("" if warmup.valid else f" (warm-up: {describe(warmup)})"),
                flush=True,
            )
    return results, stored


def describe(run: Run) -> str:
    text = (
        f"{run.rps:>9,.0f} req/s  p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms"
        f"  connections per worker {run.split}"
    )
    if not run.valid:
        text += f"  INVALID: {run.non2xx} non-2xx, {run.socket_errors} socket errors"
    return text


def stored_orders(url: str, attempts: int = 8) -> int:
    """X-Total-Count of the gateway's list: proof that the POSTs were stored, not only answered.

    memory:// keeps one store per worker and each GET may reach either, so ask a few times."""
    count = 0
    for _ in range(attempts):
        with urllib.request.urlopen(f"{url}?limit=1", timeout=30) as response:
            count = int(response.headers.get("X-Total-Count", "0"))
        if count > 0:
            break
    return count


def report(results: dict[str, Summary], stored: int | None) -> dict[str, Any]:
    """Print the table and the ratio; return the same figures for ``--json``."""
    print(f"\n{'target':<10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}  runs")
    for name, summary in results.items():
        runs = ", ".join(f"{run.rps:,.0f}" + ("" if run.valid else "!") for run in summary.runs)
        print(
            f"{name:<10}{summary.median('rps'):>10,.0f}{summary.median('p50_ms'):>9.2f}"
            f"{summary.median('p99_ms'):>9.2f}  {runs}" + ("" if summary.valid else "  INVALID")
        )
    figures: dict[str, Any] = {
        name: {
            "median_rps": s.median("rps"),
            "median_p50_ms": s.median("p50_ms"),
            "median_p99_ms": s.median("p99_ms"),
            "valid": s.valid,
            "runs": [asdict(r) for r in s.runs],
        }
        for name, s in results.items()
    }
    if stored is not None:
        print(f"fewest orders stored after a round by the gateway worker that answered the check: {stored:,}")
    ratio = None
    if {"baseline", "gateway"} <= results.keys() and results["baseline"].median("rps"):
        ratio = 100 * results["gateway"].median("rps") / results["baseline"].median("rps")
        verdict = "met" if ratio >= GOAL_PERCENT else "not met"
        rounds = zip(results["baseline"].runs, results["gateway"].runs, strict=True)
        each = ", ".join(f"{100 * g.rps / b.rps:.0f} %" for b, g in rounds)
        print(
            f"gateway / baseline: {ratio:.1f} % of the medians (goal >= {GOAL_PERCENT:.0f} %: {verdict});"
            f" round by round {each}"
        )
    auth_ratio = None
    if {"gateway", "gateway+jwt"} <= results.keys() and results["gateway"].median("rps"):
        auth_ratio = 100 * results["gateway+jwt"].median("rps") / results["gateway"].median("rps")
        verdict = "met" if auth_ratio >= AUTH_GOAL_PERCENT else "not met"
        rounds = zip(results["gateway"].runs, results["gateway+jwt"].runs, strict=True)
        each = ", ".join(f"{100 * j.rps / g.rps:.0f} %" for g, j in rounds)
        print(
            f"gateway+jwt / gateway: {auth_ratio:.1f} % of the medians (goal >= {AUTH_GOAL_PERCENT:.0f} %: "
            f"{verdict}); round by round {each}"
        )
    v5_ratio = ratio_of(results, "gateway-v5", "gateway", V5_GOAL_PERCENT)
    observed_ratio = ratio_of(results, "gateway+observed", "gateway", OBSERVED_GOAL_PERCENT)
    return {
        "v5_ratio_percent": v5_ratio,
        "observed_ratio_percent": observed_ratio,
        "targets": figures,
        "ratio_percent": ratio,
        "goal_percent": GOAL_PERCENT,
        "auth_ratio_percent": auth_ratio,
        "stored_orders": stored,
    }


def ratio_of(results: dict[str, Summary], measured: str, reference: str, goal: float) -> float | None:
    """Print and return ``measured`` as a percentage of ``reference`` (medians), when both ran."""
    if not ({measured, reference} <= results.keys() and results[reference].median("rps")):
        return None
    ratio = 100 * results[measured].median("rps") / results[reference].median("rps")
    rounds = zip(results[reference].runs, results[measured].runs, strict=True)
    each = ", ".join(f"{100 * m.rps / r.rps:.0f} %" for r, m in rounds)
    verdict = "met" if ratio >= goal else "not met"
    print(f"{measured} / {reference}: {ratio:.1f} % of the medians (goal >= {goal:.0f} %: {verdict});", end="")
    print(f" round by round {each}")
    return ratio


def compact_body(source: Path, folder: Path, name: str = "body.json") -> Path:
    """The body as clients send it: compact JSON, the same bytes for both targets."""
    body = folder / name
    body.write_text(json.dumps(json.loads(source.read_text()), separators=(",", ":")))
    return body


def benchmark(args: argparse.Namespace, folder: Path) -> int:
    """Start the servers, measure, check the gateway stored the orders, report; 1 if anything was invalid."""
    body = compact_body(args.body, folder)
    chosen = targets(args, folder)
    print(
        f"body {body.stat().st_size} bytes, {args.workers} workers per server, wrk -t1 "
        f"-c{args.connections}, {args.rounds} rounds of {args.warmup} s warm-up + {args.duration} s, "
        f"gateway fulfilment {args.fulfilment}"
    )
    results, stored = measure(chosen, args, body)
    for target in chosen:
        if "Traceback" in (log := target.log.read_text(errors="replace")) or "ERROR" in log:
            print(f"\nThe {target.name} logged errors:\n{tail(target.log)}", file=sys.stderr)
    figures = report(results, stored)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("json", "body")}
        figures |= {"settings": settings, "body_bytes": body.stat().st_size}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    valid = all(s.valid for s in results.values()) and (stored is None or stored > 0)
    return 0 if valid else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print(
            "post_order: wrk is not installed; install it with `apt-get install wrk` "
            "(Debian/Ubuntu) or build it from https://github.com/wg/wrk.",
            file=sys.stderr,
        )
        return 2
    # A plain `kill` should stop the servers too: turn SIGTERM into an exit that runs the cleanup.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with tempfile.TemporaryDirectory(prefix="tmfgate-bench-") as folder:
            return benchmark(args, Path(folder))
    except KeyboardInterrupt:
        print("\npost_order: interrupted; the servers were stopped.", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"post_order: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
