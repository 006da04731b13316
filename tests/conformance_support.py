"""What the conformance tool's tests share: the real gateway, the create bodies it needs, a rule-breaking proxy."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LOOPBACK_CALLBACKS, free_port

ROOT = Path(__file__).resolve().parents[1]
KITS = ROOT.parent / "shared" / "ctk"

# Create bodies for resources whose domain rules ask more than their schema (a bill is for a billing
# account, a new alarm is raised, an alarm task names the alarms it acts on).
NO_ALARM = [{"id": "no-such-alarm"}]
PAYLOADS: dict[str, dict[str, Any]] = {
    "customerBillOnDemand": {"billingAccount": {"id": "ba-conformance"}},
    # A usage record rating needs (its product is unknown here, so it is parked), and money that moves.
    "usage": {
        "usageDate": "2026-01-01T00:00:00Z",
        "ratedProductUsage": [{"productRef": {"id": "product-conformance"}}],
        "usageCharacteristic": [{"name": "quantity", "value": 1}],
    },
    "payment": {
        "account": {"id": "ba-conformance"},
        "paymentMethod": {"id": "pm-conformance"},
        "totalAmount": {"unit": "EUR", "value": 100},
    },
    "refund": {
        "account": {"id": "ba-conformance"},
        "paymentMethod": {"id": "pm-conformance"},
        "totalAmount": {"unit": "EUR", "value": 0.01},
    },
    "alarm": {
        "alarmType": "communicationsAlarm",
        "perceivedSeverity": "major",
        "probableCause": "lossOfSignal",
        "alarmedObject": {"id": "ne-conformance"},
        "sourceSystemId": "nms-conformance",
        "state": "raised",
        "alarmRaisedTime": "2026-01-01T00:00:00Z",
    },
    "ackAlarms": {"alarmPattern": NO_ALARM, "ackSystemId": "nms", "ackUserId": "operator"},
    "unAckAlarms": {"alarmPattern": NO_ALARM, "ackSystemId": "nms", "ackUserId": "operator"},
    "clearAlarms": {
        "alarmPattern": NO_ALARM,
        "alarmClearedTime": "2026-01-01T01:00:00Z",
        "clearSystemId": "nms",
        "clearUserId": "operator",
    },
    "commentAlarms": {
        "alarmPattern": NO_ALARM,
        "comment": {"comment": "Looked at it", "systemId": "nms", "userId": "operator"},
    },
}


# The same tasks under their v5 names (TMF642 v5 names each task in the singular), in v5 shape.
V5_ALARM = [{"id": "no-such-alarm", "@type": "AlarmRef"}]
V5_GROUP = {"sourceSystemId": "nms", "alarmChangedTime": "2026-01-01T01:00:00Z", "correlatedAlarm": V5_ALARM}
V5_PAYLOADS: dict[str, dict[str, Any]] = {
    "ackAlarm": {**PAYLOADS["ackAlarms"], "alarmPattern": V5_ALARM, "@type": "AckAlarm"},
    "unAckAlarm": {**PAYLOADS["unAckAlarms"], "alarmPattern": V5_ALARM, "@type": "UnAckAlarm"},
    "clearAlarm": {**PAYLOADS["clearAlarms"], "alarmPattern": V5_ALARM, "@type": "ClearAlarm"},
    "commentAlarm": {
        **PAYLOADS["commentAlarms"],
        "alarmPattern": V5_ALARM,
        "comment": {**PAYLOADS["commentAlarms"]["comment"], "@type": "Comment"},
        "@type": "CommentAlarm",
    },
    "groupAlarm": {**V5_GROUP, "parentAlarm": V5_ALARM[0], "@type": "GroupAlarm"},
    "unGroupAlarm": {**V5_GROUP, "parentAlarm": V5_ALARM[0], "@type": "UnGroupAlarm"},
}


def payload_arguments(
    folder: Path, resources: set[str] | None = None, payloads: dict[str, dict[str, Any]] = PAYLOADS
) -> list[str]:
    """``--payload RESOURCE=FILE`` arguments for the bodies above (only ``resources`` when given)."""
    arguments = []
    for resource, body in payloads.items():
        if resources is None or resource in resources:
            path = folder / f"{resource}.json"
            path.write_text(json.dumps(body))
            arguments += ["--payload", f"{resource}={path}"]
    return arguments


def wait_until_answering(url: str, process: subprocess.Popen[bytes] | None, log: Path | None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text() if log else ''}")
        try:
            requests.get(url, timeout=2).close()
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer within 60 s:\n{log.read_text(errors='replace') if log else ''}")


def start_gateway(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The real gateway on a free port with an in-memory store, as ``tmfgate serve`` runs it."""
    port = free_port()
    log = folder / "gateway.log"
    command = [sys.executable, "-m", "tmfgate", "serve", "--port", str(port), "--database-url", "memory://"]
    command += ["--callback-hosts", LOOPBACK_CALLBACKS, "--rate-limit", "0"]  # the tool's listener is on loopback
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=folder, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_until_answering(url + "/", process, log)
    return process, url


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@contextlib.contextmanager
def running_gateway(folder: Path) -> Iterator[str]:
    """The real gateway for the tests of one module (each module wraps it in its own fixture)."""
    process, url = start_gateway(folder)
    try:
        yield url
    finally:
        stop(process)


# A request as the proxy saw it: method, path with query, headers, body. A rule turns the gateway's
# answer (status, headers, body) into a broken one, or answers itself when it returns a status first.
Request = tuple[str, str, dict[str, str], bytes]
Answer = tuple[int, dict[str, str], bytes]
Rule = Callable[[Request, Answer], Answer]
PASSED_HEADERS = ("Content-Type", "Location", "X-Total-Count", "X-Result-Count", "Allow")


class Proxy:
    """An HTTP server in front of ``target`` that passes each answer through ``rules``, in order."""

    def __init__(self, target: str, rules: list[Rule], forward: Callable[[Request], Request] | None = None) -> None:
        self.target, self.rules, self.forward = target, rules, forward
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k in ("Content-Type", "Accept")}
                request: Request = (self.command, self.path, headers, body)
                sent = proxy.forward(request) if proxy.forward else request
                answer = requests.request(
                    sent[0],
                    proxy.target + sent[1],
                    data=sent[3] or None,
                    headers=sent[2],
                    timeout=10,
                    allow_redirects=False,
                )
                out = {k: answer.headers[k] for k in PASSED_HEADERS if k in answer.headers}
                result: Answer = (answer.status_code, out, answer.content)
                for rule in proxy.rules:
                    result = rule(request, result)
                status, out, content = result
                self.send_response(status)
                for key, value in out.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_one

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
