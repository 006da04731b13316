"""A hub listener in a process of its own, as a subscriber runs one: logs every notification it gets.

    python tests/listener.py --port P --log FILE [--status 201] [--delay 0] [--fail-first 0]

Each POST is appended to FILE as one JSON line (``path``, ``status`` answered, ``received`` and
``answered`` Unix times, the headers a subscriber checks, the parsed ``body`` and its ``raw`` text
for checking signatures), after waiting ``--delay`` seconds, just before the answer goes out. A POST
whose body ends before its Content-Length (the sender died while sending it) delivered nothing and
is not logged. The first ``--fail-first`` POSTs are answered 500, the rest ``--status``. Any GET
answers 200, so a starter can tell the listener is up.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HEADERS = ("Content-Type", "X-Event-Id", "X-Hub-Signature-256", "User-Agent")


class Handler(BaseHTTPRequestHandler):
    server: ListenerServer
    protocol_version = "HTTP/1.1"  # keep-alive, as a real listener would

    def do_POST(self) -> None:
        received = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:  # the sender went away mid-request (a killed gateway): nothing was delivered
            self.close_connection = True
            return
        if self.server.delay:
            time.sleep(self.server.delay)
        status = self.server.next_status()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.server.log(
            {
                "path": self.path,
                "status": status,
                "received": received,
                "answered": time.time(),
                "headers": {name: self.headers[name] for name in HEADERS if name in self.headers},
                "body": body,
                "raw": raw.decode("utf-8", "replace"),
            }
        )
        self._answer(status)

    def do_GET(self) -> None:
        self._answer(200)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


class ListenerServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # a restarted listener takes its port back at once

    def __init__(self, port: int, log_path: str, status: int, delay: float, fail_first: int) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.status, self.delay, self.failures_left = status, delay, fail_first
        self._lock = threading.Lock()
        self._log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life

    def next_status(self) -> int:
        with self._lock:
            if self.failures_left > 0:
                self.failures_left -= 1
                return 500
            return self.status

    def log(self, entry: dict[str, Any]) -> None:
        with self._lock:  # one whole line per notification, whatever the threads
            self._log.write(json.dumps(entry) + "\n")
            self._log.flush()

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a sender that went away (a killed gateway) is part of the tests, not a fault

    def server_close(self) -> None:
        super().server_close()
        self._log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True, help="file to append one JSON line per notification to")
    parser.add_argument("--status", type=int, default=201, help="status of the answers (default 201)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    parser.add_argument("--fail-first", type=int, default=0, help="answer the first N notifications 500")
    args = parser.parse_args()
    server = ListenerServer(args.port, args.log, args.status, args.delay, args.fail_first)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
