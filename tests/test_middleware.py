"""The gateway's own middlewares: the routing fast path answers as connexion's router does (and
falls back to it); the error layer turns failures into TMF Error bodies over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import requests
import uvicorn

from tests.conftest import free_port, in_thread
from tmfgate.app import create_app
from tmfgate.middleware import ErrorMiddleware
from tmfgate.settings import Settings

BASE = "/tmf-api/productOrderingManagement/v4"


def call(app: Any, method: str, path: str) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
    }
    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"])


def test_routes_fast_and_slow_paths_answer_alike() -> None:
    app = create_app(Settings(database_url="memory://", dispatcher=False))
    assert call(app, "GET", f"{BASE}/productOrder") == 200  # static route, fast path
    assert call(app, "GET", f"{BASE}/productOrder/nope") == 404  # templated route, unknown id
    assert call(app, "PUT", f"{BASE}/productOrder/x") == 405  # not in the table: connexion's router
    assert call(app, "GET", f"{BASE}/nowhere") == 404
    assert call(app, "DELETE", f"{BASE}/cancelProductOrder/x") == 405


class _Served:
    """An ASGI app behind ErrorMiddleware, served by uvicorn in a thread: the real HTTP stack."""

    def __init__(self, inner: Any) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        config = uvicorn.Config(
            ErrorMiddleware(inner),
            host="127.0.0.1",
            port=int(self.url.rsplit(":", 1)[1]),
            log_level="critical",
            lifespan="off",
        )
        self._serving = in_thread(uvicorn.Server(config))

    def __enter__(self) -> str:
        self._serving.__enter__()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self._serving.__exit__(None, None, None)


async def _fails_before_answering(scope: Any, receive: Any, send: Any) -> None:
    raise ValueError("boom")


async def _fails_after_answering(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})
    raise ValueError("boom")


def test_an_unexpected_error_becomes_a_tmf_error_body() -> None:
    with _Served(_fails_before_answering) as url:
        response = requests.get(f"{url}/x", timeout=10)
    assert response.status_code == 500
    body = response.json()
    assert body["code"] and body["reason"] and body["status"] == "500"
    assert "boom" not in response.text  # no internals leak to the client


def test_an_error_after_the_response_began_leaves_the_response_as_sent() -> None:
    with _Served(_fails_after_answering) as url:
        response = requests.get(f"{url}/x", timeout=10)
    assert (response.status_code, response.content) == (200, b"ok")
