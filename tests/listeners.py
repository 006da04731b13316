"""Start and stop ``tests/listener.py`` processes, and read what they received."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.conftest import free_port

SCRIPT = Path(__file__).with_name("listener.py")
Entry = dict[str, Any]


class ListenerProcess:
    """One listener process on a fixed port; stopped and started again, it keeps port and log."""

    def __init__(self, log: Path, *, status: int = 201, delay: float = 0.0, fail_first: int = 0) -> None:
        self.log = log
        self.port = free_port()
        self.status, self.delay, self.fail_first = status, delay, fail_first
        self.process: subprocess.Popen[bytes] | None = None
        self.callback = f"http://127.0.0.1:{self.port}/listener"

    def start(self, timeout: float = 15) -> ListenerProcess:
        command = [
            sys.executable,
            str(SCRIPT),
            "--port",
            str(self.port),
            "--log",
            str(self.log),
            "--status",
            str(self.status),
            "--delay",
            str(self.delay),
            "--fail-first",
            str(self.fail_first),
        ]
        with open(self.log.with_suffix(".out"), "ab") as output:
            self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(self.callback, timeout=1).close()
                return self
            except requests.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    output = self.log.with_suffix(".out").read_text()
                    raise RuntimeError(f"the listener did not start: {output}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> ListenerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def received(self) -> list[Entry]:
        """Every notification logged so far, answered or not, in arrival order."""
        if not self.log.exists():
            return []
        entries = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:  # a line still being written
                break
        return entries

    def delivered(self) -> list[Entry]:
        """The notifications answered with a 2xx."""
        return [entry for entry in self.received() if 200 <= entry["status"] < 300]

    def wait_for(
        self, done: Callable[[list[Entry]], bool], timeout: float = 20, what: str = "the expected notifications"
    ) -> list[Entry]:
        """The delivered notifications once ``done`` holds for them; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            delivered = self.delivered()
            if done(delivered):
                return delivered
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what} did not arrive within {timeout} s; got {len(delivered)}: "
                    f"{[event_summary(entry) for entry in delivered][-20:]}"
                )
            time.sleep(0.05)


def event_summary(entry: Entry) -> tuple[str, str, str]:
    """(eventType, resource id, state) of a logged notification, for messages and order checks."""
    body = entry["body"]
    resource = next(iter(body.get("event", {}).values()), {}) if isinstance(body, dict) else {}
    return (
        body.get("eventType", "?") if isinstance(body, dict) else "?",
        str(resource.get("id")),
        str(resource.get("state")),
    )
