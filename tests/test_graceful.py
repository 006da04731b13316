"""Stopping a real ``tmfgate serve`` process with SIGTERM: it listens no more, finishes the request in
flight, stops its delivery worker and ends without an error, with what it acknowledged stored."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.gateways import ANSWERS, log_of, served

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
