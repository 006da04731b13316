"""A tiny local HTTP listener that receives the events a server sends to a hub callback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    """One POST the server made to the listener."""

    path: str
    body: Any
    at: float


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        # A v5 listener answers 204 "Notified"; a producer must accept any 2xx (TMF630 Part 1 §10).
        self.send_response(204)
        self.end_headers()
        self.server.record(Delivery(self.path, body, time.monotonic()))

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.deliveries: list[Delivery] = []
        self.arrived = threading.Condition()

    def record(self, delivery: Delivery) -> None:
        with self.arrived:
            self.deliveries.append(delivery)
            self.arrived.notify_all()


class Listener:
    """Runs the server in a thread on ``host`` and a free port; each subscription gets its own path."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._server = _Server((host, 0))
        self._thread = threading.Thread(target=self._server.serve_forever, name="conformance-listener", daemon=True)
        self._thread.start()
        self.host = host
        self.port = int(self._server.server_address[1])

    def callback(self, path: str) -> str:
        """The absolute callback URL for ``path``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def received(self, path: str) -> list[Delivery]:
        """Everything delivered to ``path`` so far."""
        with self._server.arrived:
            return [d for d in self._server.deliveries if d.path == path]

    def wait_for(self, path: str, match: Callable[[Any], bool], timeout: float) -> Delivery | None:
        """The first delivery to ``path`` whose body satisfies ``match``, within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._server.arrived:
            while True:
                for delivery in self._server.deliveries:
                    if delivery.path == path and match(delivery.body):
                        return delivery
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._server.arrived.wait(remaining)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
