"""The routing fast path gives the same answers as connexion's router (and falls back to it)."""

from __future__ import annotations

import asyncio
from typing import Any

from tmfgate.app import create_app
from tmfgate.settings import Settings

BASE = "/tmf-api/productOrderingManagement/v4"


def call(app: Any, method: str, path: str) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [(b"host", b"127.0.0.1")], "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1)}
    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"])


def test_routes_fast_and_slow_paths_answer_alike() -> None:
    app = create_app(Settings(database_url="memory://", dispatcher=False))
    assert call(app, "GET", f"{BASE}/productOrder") == 200  # static route, fast path
    assert call(app, "GET", f"{BASE}/productOrder/nope") == 404  # templated route, unknown id
    assert call(app, "PUT", f"{BASE}/productOrder/x") == 405  # not in the table: connexion's router
    assert call(app, "GET", f"{BASE}/nowhere") == 404
    assert call(app, "DELETE", f"{BASE}/cancelProductOrder/x") == 405
