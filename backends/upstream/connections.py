"""HTTP/1.1 to upstream servers over kept-alive asyncio connections: an httpx transport lighter than httpx's own.

Every call through the gateway to an upstream pays its client twice over (the request, then the answer);
httpx's default transport (httpcore on anyio) spent more CPU on it than the gateway spent answering
(benchmarks/README.md, Gateway mode). This one writes each request in one write, parses the answer with
httptools (uvicorn's parser) as it arrives, and keeps idle connections per origin, dropping one as soon
as the event loop says its server closed it (no poll of every idle socket per call). Its failures are
httpx's own (``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``, ``RemoteProtocolError``), so a caller
handles them as it would httpx's.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import cast

import httptools
import httpx

# A request that found its kept-alive connection closed by the server before any answer is sent once more,
# on a new connection, when sending it twice does no harm (RFC 9110, 9.2.2).
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]


class Disconnected(Exception):
    """The server closed the connection before its answer was whole."""

    def __init__(self, answered: bool) -> None:
        super().__init__("The server closed the connection before it answered in full.")
        self.answered = answered  # some of an answer arrived: the server read the request


class Connection(asyncio.Protocol):
    """One connection to a server: one request at a time, its answer parsed as it arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reusable = True
        self._answer: asyncio.Future[tuple[int, list[tuple[bytes, bytes]], bytes]] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._received = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():  # nothing was asked: the connection is unusable
            self.close()
            return
        self._received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._answer.set_exception(httpx.RemoteProtocolError(f"The server's answer is not HTTP/1.1: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(Disconnected(self._received))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.reusable = self.parser.should_keep_alive()
        if self._answer is not None and not self._answer.done():
            self._answer.set_result((self.parser.get_status_code(), self._headers, b"".join(self._body)))

    async def exchange(self, data: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Send one request and wait for its whole answer: (status, headers, body)."""
        assert self.transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._headers, self._body, self._received = [], [], False
        self.transport.write(data)
        return await self._answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Http11Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with kept-alive connections, at most ``limit`` at once per origin, ``keepalive`` of them kept idle."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, *, limit: int = 100, keepalive: int = 50) -> None:
        self.ssl_context = ssl_context
        self.limit, self.keepalive = limit, keepalive
        self._idle: dict[Origin, list[Connection]] = {}
        self._slots: dict[Origin, asyncio.Semaphore] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = (url.scheme, url.host, url.port or PORTS.get(url.scheme, 80))
        timeouts = request.extensions.get("timeout", {})
        data = _head(request, await request.aread())
        slots = self._slots.setdefault(origin, asyncio.Semaphore(self.limit))
        async with slots:
            while True:
                connection, reused = self._take(origin), True
                if connection is None:
                    connection, reused = await self._connect(origin, timeouts.get("connect")), False
                try:
                    async with asyncio.timeout(timeouts.get("read")):
                        status, headers, body = await connection.exchange(data)
                except TimeoutError:
                    connection.close()
                    raise httpx.ReadTimeout("The server did not answer in time.", request=request) from None
                except Disconnected as exc:
                    connection.close()
                    if reused and not exc.answered and request.method in IDEMPOTENT:
                        continue  # closed while idle, before it read this request
                    raise httpx.RemoteProtocolError(str(exc), request=request) from None
                except BaseException:
                    connection.close()  # cancelled, or the answer was not HTTP: it is in an unknown state
                    raise
                self._give_back(origin, connection)
                return httpx.Response(status, headers=headers, content=body, request=request)

    def _take(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
        return None

    def _give_back(self, origin: Origin, connection: Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if connection.reusable and not connection.closed and len(idle) < self.keepalive:
            idle.append(connection)
        else:
            connection.close()

    async def _connect(self, origin: Origin, timeout: float | None) -> Connection:
        scheme, host, port = origin
        secure = self.ssl_context if scheme == "https" else None
        if scheme == "https" and secure is None:
            secure = ssl.create_default_context()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(Connection, host, port, ssl=secure)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"No connection to {host}:{port} within {timeout:g} s.") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"No connection to {host}:{port}: {exc}") from exc
        return connection

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


def _head(request: httpx.Request, body: bytes) -> bytes:
    """The request line, headers and body as one write."""
    lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode(), request.url.raw_path)]
    lines += [name + b": " + value + b"\r\n" for name, value in request.headers.raw]
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)


__all__ = ["Http11Transport"]
