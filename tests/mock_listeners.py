"""Hub listeners inside the test process, behind one ``httpx.MockTransport``, for delivery unit tests.

They answer and log as ``tests/listener.py`` does (the same entries, so ``tests.listeners.event_summary``
reads them); end-to-end tests keep the real listener processes of ``tests/listeners.py``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.listener import HEADERS

Entry = dict[str, Any]


class MockListener:
    """One listener at ``http://listener-N.test/listener``: answers ``status`` after ``delay`` seconds,
    the first ``fail_first`` POSTs 500."""

    def __init__(self, host: str, *, status: int = 201, delay: float = 0.0, fail_first: int = 0) -> None:
        self.callback = f"http://{host}/listener"
        self.status, self.delay, self.failures_left = status, delay, fail_first
        self._entries: list[Entry] = []

    async def answer(self, request: httpx.Request) -> httpx.Response:
        """Log the notification and answer it; a delay past the client's read timeout times out."""
        received = time.time()
        raw = request.content
        if self.delay:
            read_timeout = request.extensions.get("timeout", {}).get("read")
            if read_timeout is not None and self.delay > read_timeout:
                await asyncio.sleep(read_timeout)  # as long as a real client waits before giving up
                raise httpx.ReadTimeout("The listener did not answer in time.", request=request)
            await asyncio.sleep(self.delay)
        status = 500 if self.failures_left > 0 else self.status
        self.failures_left = max(0, self.failures_left - 1)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self._entries.append(
            {
                "path": request.url.path,
                "status": status,
                "received": received,
                "answered": time.time(),
                "headers": {name: request.headers[name] for name in HEADERS if name in request.headers},
                "body": body,
                "raw": raw.decode("utf-8", "replace"),
            }
        )
        return httpx.Response(status)

    def received(self) -> list[Entry]:
        """Every notification logged so far, answered or not, in arrival order."""
        return list(self._entries)

    def delivered(self) -> list[Entry]:
        """The notifications answered with a 2xx."""
        return [entry for entry in self._entries if 200 <= entry["status"] < 300]

    async def wait_for(self, done: Callable[[list[Entry]], bool], timeout: float = 20) -> list[Entry]:
        """The delivered notifications once ``done`` holds for them; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not done(delivered := self.delivered()):
            assert time.monotonic() < deadline, f"got {len(delivered)} notifications within {timeout} s"
            await asyncio.sleep(0.01)
        return delivered


class MockListeners:
    """The listeners of one test; ``transport`` reaches them, and any other host is unreachable."""

    def __init__(self) -> None:
        self._by_host: dict[str, MockListener] = {}
        self.transport = httpx.MockTransport(self._route)

    async def resolve(self, host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        """The delivery worker's resolver: listener N at 192.0.2.N, any other host at 192.0.2.250, where
        nothing answers (documentation addresses, which the tests' ``callback_hosts`` allow)."""
        known = list(self._by_host)
        return [ipaddress.ip_address(f"192.0.2.{known.index(host) + 1 if host in known else 250}")]

    def start(self, **options: Any) -> MockListener:
        """A new listener with the options of :class:`MockListener`."""
        host = f"listener-{len(self._by_host)}.test"
        listener = self._by_host[host] = MockListener(host, **options)
        return listener

    async def _route(self, request: httpx.Request) -> httpx.Response:
        host = request.headers.get("Host", request.url.host)  # the worker connects to the address it checked
        listener = self._by_host.get(host)
        if listener is None:
            raise httpx.ConnectError(f"No listener at {host}.", request=request)
        return await listener.answer(request)
