"""The upstream transport against scripted servers on loopback: one write per request, kept-alive
connections reused and dropped when their server closes them, chunked answers, and httpx's errors."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest

from backends.upstream.connections import Http11Transport

pytestmark = pytest.mark.anyio

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n[]"


class Server:
    """A loopback server that runs ``script`` on each connection and counts connections and requests."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.url = ""
        self.tasks: set[asyncio.Task[None]] = set()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
        if not head:
            return None
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
            0,
        )
        request = head + (await reader.readexactly(length) if length else b"")
        self.requests.append(request)
        return request

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                await self.script(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def serving(
    script: Callable[[Server, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[Server]:
    server = Server(lambda reader, writer: script(server, reader, writer))
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        listening.close()
        for task in server.tasks:
            task.cancel()
        await asyncio.gather(*server.tasks, return_exceptions=True)
        await listening.wait_closed()


async def answer_each(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await server.read_request(reader) is not None:
        writer.write(OK)
        await writer.drain()


async def call(transport: Http11Transport, method: str, url: str, content: bytes | None = None) -> httpx.Response:
    request = httpx.Request(method, url, content=content, extensions={"timeout": {"connect": 2, "read": 0.5}})
    return await transport.handle_async_request(request)


async def test_requests_go_on_one_kept_alive_connection_each_as_sent() -> None:
    async with serving(answer_each) as server:
        transport = Http11Transport()
        first = await call(transport, "GET", server.url + "/api/resource?limit=1")
        second = await call(transport, "POST", server.url + "/api/resource", b'{"name":"olt"}')
        await transport.aclose()
    assert first.status_code == second.status_code == 200
    assert first.json() == [] and first.headers["content-type"] == "application/json"
    assert server.connections == 1
    get, post = server.requests
    assert get.startswith(b"GET /api/resource?limit=1 HTTP/1.1\r\n") and b"\r\nhost: 127.0.0.1:" in get.lower()
    assert post.startswith(b"POST /api/resource HTTP/1.1\r\n") and post.endswith(b'\r\n\r\n{"name":"olt"}')
    assert b"content-length: 14\r\n" in post.lower()


async def test_a_chunked_answer_is_read_whole() -> None:
    async def chunked(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n")
        await writer.drain()

    async with serving(chunked) as server:
        transport = Http11Transport()
        response = await call(transport, "POST", server.url + "/x", b"{}")
        await transport.aclose()
    assert response.status_code == 201 and response.json() == [1, 2]


async def test_a_connection_its_server_closed_while_idle_is_not_reused() -> None:
    async def once(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(OK)
        await writer.drain()  # then closes, as a server whose keep-alive timeout passed

    async with serving(once) as server:
        transport = Http11Transport()
        await call(transport, "POST", server.url + "/x", b"{}")
        await asyncio.sleep(0.1)  # the close reaches the client
        response = await call(transport, "POST", server.url + "/x", b"{}")  # not retried: never sent on the old one
        await transport.aclose()
    assert response.status_code == 200 and server.connections == 2


async def test_a_get_that_finds_its_kept_alive_connection_closed_is_sent_again_on_a_new_one() -> None:
    async def close_on_second(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(OK)
        await writer.drain()
        if server.connections == 1:
            await server.read_request(reader)  # read, then closed without an answer: the idle-timeout race
            return
        await answer_each(server, reader, writer)

    async with serving(close_on_second) as server:
        transport = Http11Transport()
        await call(transport, "GET", server.url + "/x")
        response = await call(transport, "GET", server.url + "/x")
        await transport.aclose()
    assert response.status_code == 200 and server.connections == 2


async def test_a_create_whose_connection_closed_unanswered_is_not_sent_again() -> None:
    async def close_on_second(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(OK)
        await writer.drain()
        await server.read_request(reader)

    async with serving(close_on_second) as server:
        transport = Http11Transport()
        await call(transport, "GET", server.url + "/x")
        with pytest.raises(httpx.RemoteProtocolError, match="closed the connection"):
            await call(transport, "POST", server.url + "/x", b"{}")
        await transport.aclose()
    assert server.connections == 1 and len(server.requests) == 2


async def test_faults_are_httpx_errors() -> None:
    async def silent(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        await asyncio.sleep(2)

    async def garbage(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    transport = Http11Transport()
    async with serving(silent) as server:
        with pytest.raises(httpx.ReadTimeout):
            await call(transport, "GET", server.url + "/x")
    async with serving(garbage) as server:
        with pytest.raises(httpx.RemoteProtocolError, match="not HTTP/1.1"):
            await call(transport, "GET", server.url + "/x")
    with socket_closed() as port, pytest.raises(httpx.ConnectError, match=f"127.0.0.1:{port}"):
        await call(transport, "GET", f"http://127.0.0.1:{port}/x")
    await transport.aclose()


@contextlib.contextmanager
def socket_closed() -> Iterator[int]:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield port
