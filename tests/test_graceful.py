"""Stopping a real ``tmfgate serve`` process with SIGTERM: it listens no more, finishes the request in
flight, stops its delivery worker and ends without an error, with what it acknowledged stored."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from backends import open_backend
from backends.base import DeliveryState
from tests.conftest import LOOPBACK_CALLBACKS
from tests.gateways import ANSWERS, log_of, served
from tmfgate.notifications.delivery import STOP_GRACE

# After its graceful shutdown uvicorn raises the signal it caught again, so the process ends as the signal
# asked (-15: 143 to a shell, what orchestrators expect of a SIGTERM); 0 with older uvicorn releases.
STOPPED = {number: (0, -number) for number in (signal.SIGTERM, signal.SIGINT)}
ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
ORDER = {
    "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "po-fibre-500"}}],
    "relatedParty": [{"id": "cust-1", "role": "customer", "@referredType": "Individual"}],
}


def test_sigterm_finishes_the_request_in_flight_and_takes_no_new_one(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/store.db"
    body = json.dumps(ORDER).encode()
    with served(database, tmp_path, "--fulfilment", "off") as (process, url):
        port = int(url.rsplit(":", 1)[1])
        client = socket.create_connection(("127.0.0.1", port), timeout=30)
        head = (
            f"POST {ORDERS} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        client.sendall(head.encode() + body[:20])  # the request has begun: its body is still coming
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while True:  # the listening socket closes at once
            try:
                requests.get(url + ANSWERS, timeout=1).close()
            except requests.ConnectionError:
                break
            assert time.monotonic() < deadline, "the gateway still takes new connections after SIGTERM"
            time.sleep(0.1)
        assert process.poll() is None  # still serving the request in flight
        client.sendall(body[20:])
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = client.recv(65536)
            if not chunk:
                break
            answer += chunk
        client.close()
        assert answer.startswith(b"HTTP/1.1 201 "), answer[:200]
        assert process.wait(timeout=30) in STOPPED[signal.SIGTERM]
    log = log_of(tmp_path, url).read_text()
    assert "Traceback" not in log, log
    engine = sa.create_engine(database)
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT count(*) FROM tmf_document WHERE kind = 'productOrder'"))
        assert stored.scalar_one() == 1
    engine.dispose()


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_an_idle_gateway_stops_at_once(tmp_path: Path, signal_number: int) -> None:
    with served(f"sqlite:///{tmp_path}/store.db", tmp_path) as (process, _url):
        started = time.monotonic()
        process.send_signal(signal_number)
        assert process.wait(timeout=30) in STOPPED[signal_number]
        assert time.monotonic() - started < 10


class SlowListener(BaseHTTPRequestHandler):
    """Takes a notification, says it has one, and answers 201 after a second."""

    arrived = threading.Event()
    answered: list[float] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        SlowListener.arrived.set()
        time.sleep(1.0)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()
        SlowListener.answered.append(time.monotonic())

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_sigterm_lets_a_dispatcher_finish_the_delivery_in_flight_and_end(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/store.db"
    listener = ThreadingHTTPServer(("127.0.0.1", 0), SlowListener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    SlowListener.arrived.clear()
    SlowListener.answered.clear()
    callback = f"http://127.0.0.1:{listener.server_address[1]}/listener"
    try:
        with served(database, tmp_path, "--dispatcher", "off", "--fulfilment", "off") as (_, url):
            hub = requests.post(f"{url}/tmf-api/productOrderingManagement/v4/hub", json={"callback": callback})
            assert hub.status_code == 201, hub.text
            assert requests.post(url + ORDERS, json=ORDER, timeout=10).status_code == 201
        env = {**os.environ, "TMFGATE_CALLBACK_HOSTS": LOOPBACK_CALLBACKS}
        command = [sys.executable, "-m", "tmfgate", "dispatch", "--database-url", database]
        with (tmp_path / "dispatch.out").open("wb") as output:
            dispatcher = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            assert SlowListener.arrived.wait(timeout=60), (tmp_path / "dispatch.out").read_text()
            dispatcher.send_signal(signal.SIGTERM)  # the notification is in flight: the listener answers in 1 s
            signalled = time.monotonic()
            assert dispatcher.wait(timeout=30) == 0
        finally:
            if dispatcher.poll() is None:
                dispatcher.kill()
        # It waited for the answer, within the grace it gives deliveries in flight, and then ended.
        assert SlowListener.answered and SlowListener.answered[0] - signalled < STOP_GRACE
        out = (tmp_path / "dispatch.out").read_text()
        assert "Traceback" not in out and "dispatching" in out
        first, *later = asyncio.run(_deliveries(database))
        assert first is DeliveryState.DELIVERED  # settled before the end: not sent again by another
        # The resource's next event was held back behind it, and no pass claimed it after SIGTERM.
        assert all(state is DeliveryState.PENDING for state in later)
    finally:
        listener.shutdown()
        listener.server_close()


async def _deliveries(database: str) -> list[DeliveryState]:
    """The states of the deliveries to hub listeners (not the gateway's own reactions)."""
    backend = open_backend(database)
    await backend.open()
    try:
        found = await backend.deliveries()
        return [delivery.state for delivery in found if not delivery.subscription_id.startswith("tmfgate.")]
    finally:
        await backend.close()
