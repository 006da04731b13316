"""``tmfgate serve --workers N`` on Linux: a listening socket per worker, supervised.

Real processes over real HTTP: the connections a client opens together are shared out among the
workers; a worker that dies is replaced; SIGTERM stops them all; a port in use is refused at once.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.commands import run_tmfgate
from tests.gateways import log_of, served
from tmfgate.server import workers

pytestmark = pytest.mark.skipif(not workers.supported(), reason="SO_REUSEPORT balancing is Linux's")

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
ORDER = json.dumps({"productOrderItem": [{"id": "1", "action": "add"}]})


@contextmanager
def serving(folder: Path, count: int = 2) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """``tmfgate serve --workers count`` on memory://, every worker listening; always stopped."""
    with served("memory://", folder, "--workers", str(count), "--fulfilment", "off") as (process, url):
        log = log_of(folder, url)
        port = int(url.rsplit(":", 1)[1])
        try:
            assert len(started_workers(log, count, process)) == count
            wait_listening(port, count, process, log)
            yield process, port, log
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=60)
            for pid in started_workers(log, 0, process):
                if is_worker(pid):  # a worker that outlived its server; its pid may be another's by now
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)


def is_worker(pid: int) -> bool:
    """Whether ``pid`` is still a spawned worker process (pids are reused: this machine's wrap at 32768)."""
    try:
        return b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def started_workers(log: Path, at_least: int, process: subprocess.Popen[bytes], timeout: float = 60) -> list[int]:
    """The pids of the workers the server said it started, once there are ``at_least``."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [int(pid) for pid in re.findall(rb"worker (\d+) started", log.read_bytes())]
        if len(pids) >= at_least:
            return pids
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def wait_listening(port: int, count: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Until ``count`` sockets listen on the port (/proc/net/tcp: state 0A), one per worker: a
    connection made earlier could only reach the workers already listening."""
    deadline = time.monotonic() + timeout
    suffix = f":{port:04X}"
    while True:
        rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
        if sum(1 for row in rows if row[1].endswith(suffix) and row[3] == "0A") >= count:
            return
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"{count} workers did not all listen: {log.read_text()}"
        time.sleep(0.05)


def wait_answering(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", f"{ORDERS}?limit=0")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            assert time.monotonic() < deadline, "the server did not answer"
            time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_connections_opened_together_are_shared_among_the_workers(tmp_path: Path) -> None:
    with serving(tmp_path) as (_, port, _):
        connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(16)]
        for connection in connections:  # all connected before any is used, as a client's pool does:
            connection.connect()  # with one shared socket the first worker to wake often took them all
        for connection in connections:  # one order through each connection, kept alive
            connection.request("POST", ORDERS, ORDER, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            assert response.status == 201
        # memory:// keeps a store per worker: each connection sees the orders of its own worker.
        seen = []
        for connection in connections:
            connection.request("GET", f"{ORDERS}?limit=0")
            response = connection.getresponse()
            response.read()
            seen.append(int(response.headers["X-Total-Count"]))
            connection.close()
        # The k connections a worker took each see its k orders: 16/0 gives sixteen 16s (one
        # worker), 10/6 ten 10s and six 6s, 8/8 sixteen 8s (two workers).
        workers_used = sum(times // count for count, times in Counter(seen).items())
        assert workers_used == 2, f"connections per worker, as seen: {seen}"


def test_a_dead_worker_is_replaced_and_sigterm_stops_them_all(tmp_path: Path) -> None:
    with serving(tmp_path) as (process, port, log):
        first, second = started_workers(log, 2, process)
        os.kill(first, signal.SIGKILL)
        third = started_workers(log, 3, process)[2]
        assert third not in (first, second)
        for _ in range(20):  # the port keeps answering, whichever worker a connection reaches
            wait_answering(port, timeout=10)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in (second, third)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(pid) for pid in (second, third))
    assert "exited" in log.read_text() and "starting another" in log.read_text()


def test_a_port_in_use_is_refused_at_once(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tmfgate",
                "serve",
                "--database-url",
                "memory://",
                "--port",
                str(port),
                "--workers",
                "2",
                "--fulfilment",
                "off",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "started" not in result.stderr  # no worker was started


def test_a_second_gateway_on_the_same_port_is_refused(tmp_path: Path) -> None:
    with serving(tmp_path) as (_, port, _):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tmfgate",
                "serve",
                "--database-url",
                "memory://",
                "--port",
                str(port),
                "--workers",
                "2",
                "--fulfilment",
                "off",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 1 and "cannot listen" in result.stderr


@pytest.mark.parametrize("port", ["0", "99999", "-1"])
def test_a_port_outside_1_to_65535_is_refused_at_once(port: str) -> None:
    # argparse refuses it before anything is served, so in process (tests.commands) like in a process of its own
    result = run_tmfgate("serve", "--database-url", "memory://", "--port", port, "--workers", "2")
    assert result.returncode == 2 and "argument --port: must be from 1 to 65535" in result.stderr


def test_workers_need_a_port_to_share() -> None:
    assert workers.serve(2, {"host": "127.0.0.1", "port": 0}) == 2
