"""Benchmark: CPU per validated POST /productOrder through TMF622 v4 and v5, in this process.

Unlike ``post_order.py --target v5`` (throughput over sockets, which a shared machine's load moves),
this counts the process's own CPU time (``time.process_time``) over N requests handed straight to the
gateway's ASGI app on the memory backend, so the v5/v4 ratio holds whatever else the machine runs.
``--profile`` prints where the v5 requests spend it (cProfile). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from tmfgate.app import create_app
from tmfgate.settings import Settings

HERE = Path(__file__).resolve().parent
V4 = ("/tmf-api/productOrderingManagement/v4/productOrder", HERE / "bodies" / "product_order.json")
V5 = ("/tmf-api/productOrderingManagement/v5/productOrder", HERE / "bodies" / "product_order_v5.json")
GOAL_PERCENT = 80.0  # v5 may cost at most 25 % more CPU than v4 (80 % of v4's throughput)


class Poster:
    """POSTs one body to one path of an ASGI app, as a server would hand it over, and checks the 201."""

    def __init__(self, app: Any, path: str, body: Path) -> None:
        self.app, self.path = app, path
        self.body = json.dumps(json.loads(body.read_text()), separators=(",", ":")).encode()

    async def post(self) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"bench"), (b"content-type", b"application/json")],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        if status != 201:
            raise SystemExit(f"POST {self.path} answered {status}, not 201")

    async def cpu(self, count: int) -> float:
        """CPU seconds per request over ``count`` requests."""
        start = time.process_time()
        for _ in range(count):
            await self.post()
        return (time.process_time() - start) / count


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="POSTs per version and round (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per version (default 3)")
    parser.add_argument("--profile", action="store_true", help="print the v5 requests' cProfile top 30")
    return parser.parse_args(argv)


async def measure(app: Any, args: argparse.Namespace) -> dict[str, float]:
    posters = {"v4": Poster(app, *V4), "v5": Poster(app, *V5)}
    for poster in posters.values():
        await poster.cpu(max(args.requests // 10, 20))  # warm-up: caches, first compilations
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, poster in posters.items():
            best[name] = min(best.get(name, float("inf")), await poster.cpu(args.requests))
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        await posters["v5"].cpu(args.requests)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    app = create_app(Settings(database_url="memory://", rate_limit=0.0, fulfilment=False))
    with TestClient(app) as client:  # the app's lifespan: store opened, workers started
        assert client.portal is not None
        best = client.portal.call(measure, app, args)
    v4, v5 = best["v4"], best["v5"]
    percent = 100 * v4 / v5
    print(f"CPU per POST (best of {args.rounds} rounds of {args.requests}): v4 {v4 * 1e6:.0f} µs, v5 {v5 * 1e6:.0f} µs")
    print(f"v5 throughput bound: {percent:.0f} % of v4 (goal {GOAL_PERCENT:.0f} %)")
    return 0 if percent >= GOAL_PERCENT else 1


if __name__ == "__main__":
    raise SystemExit(main())
