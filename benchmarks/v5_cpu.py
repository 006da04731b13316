"""Benchmark: CPU per validated POST /productOrder through TMF622 v4 and v5, in this process.

Unlike ``post_order.py --target v5`` (throughput over sockets, which a shared machine's load moves),
this counts the process's own CPU time (``time.process_time``) over N requests handed straight to the
gateway's ASGI app on the memory backend, so the v5/v4 ratio holds whatever else the machine runs.
``--profile`` prints where the v5 requests spend it (cProfile); ``--parts`` times the parts a v5 POST
adds alone (each version's request validator on its body, the face's mapping in and out). See
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from tmfgate import codec
from tmfgate.app import create_app
from tmfgate.model import ApiModel
from tmfgate.runtime import load_apis
from tmfgate.schemas import compile_schema
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
    parser.add_argument("--parts", action="store_true", help="time the validators and the mapping alone, then stop")
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


def cpu_of(work: Callable[[], object], count: int = 5000) -> float:
    """CPU seconds per call of ``work``, best of three runs."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(count):
            work()
        best = min(best, (time.process_time() - start) / count)
    return best


def parts() -> dict[str, float]:
    """CPU per call of what a v5 POST adds, each alone: the validators compiled as the gateway compiles
    them (once, at start-up), and the face's mapping of the order in and out."""
    apis = {api.name: api for api in load_apis()}
    v4 = apis["tmf622_product_ordering"]
    v5 = v4.faces["5"]
    bodies = {"v4": V4[1].read_bytes(), "v5": V5[1].read_bytes()}

    def validator(api: ApiModel) -> Any:
        create = next(o for o in api.operations.values() if o.resource.kind == "productOrder" and o.verb == "create")
        return compile_schema(create.bodies["application/json"], api.spec.document)

    checks = {"v4": validator(v4), "v5": validator(v5)}
    docs = {name: codec.loads(body) for name, body in bodies.items()}
    if not all(checks[name].is_valid(docs[name]) for name in checks):
        raise SystemExit("A benchmark body does not pass its validator.")
    stored = codec.dumps(v5.face.inward("productOrder", codec.loads(bodies["v5"]), "application/json"))
    return {
        "validator v4": cpu_of(lambda: checks["v4"].is_valid(docs["v4"])),
        "validator v5": cpu_of(lambda: checks["v5"].is_valid(docs["v5"])),
        "decode v5 body": cpu_of(lambda: codec.loads(bodies["v5"])),
        "face in (decode + map)": cpu_of(lambda: v5.face.inward("productOrder", codec.loads(bodies["v5"]), None)),
        "face out (decode + map + encode)": cpu_of(
            lambda: v5.face.links.shown(codec.dumps(v5.face.outward("productOrder", codec.loads(stored))))
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.parts:
        for name, seconds in parts().items():
            print(f"{name:34s} {seconds * 1e6:6.1f} µs")
        return 0
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
