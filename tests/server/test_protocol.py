"""The HTTP protocol of ``tmfgate serve`` sends a response's head and body in one write, and still
sends a head on its own when no body follows it at once."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
import uvicorn

from tests.conftest import free_port, in_thread
from tmfgate.server.protocol import HeldHeadTransport, OneWriteHttpToolsProtocol

HEAD = b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n"


class Recorder:
    """A transport that records its writes."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def held(recorder: Recorder) -> HeldHeadTransport:
    return HeldHeadTransport(recorder, asyncio.get_running_loop())  # type: ignore[arg-type]


def test_head_and_body_written_in_one_step_leave_in_one_write() -> None:
    async def scenario() -> list[bytes]:
        recorder = Recorder()
        transport = held(recorder)
        transport.write(HEAD)
        transport.write(b"{}")
        await asyncio.sleep(0)  # the turn that would send a head left alone
        return recorder.writes

    assert asyncio.run(scenario()) == [HEAD + b"{}"]


def test_a_head_alone_leaves_on_the_next_loop_turn() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        recorder = Recorder()
        transport = held(recorder)
        transport.write(HEAD)
        before = list(recorder.writes)
        await asyncio.sleep(0)
        return before, recorder.writes

    before, after = asyncio.run(scenario())
    assert before == []
    assert after == [HEAD]


def test_other_writes_pass_through_and_close_sends_what_is_held() -> None:
    async def scenario() -> Recorder:
        recorder = Recorder()
        transport = held(recorder)
        transport.write(b"a chunk of a streamed body\r\n\r\n")  # not a head: never held
        transport.write(HEAD)
        transport.close()
        await asyncio.sleep(0)
        return recorder

    recorder = asyncio.run(scenario())
    assert recorder.writes == [b"a chunk of a streamed body\r\n\r\n", HEAD]
    assert recorder.closed


def test_an_aborted_connection_drops_a_held_head_and_the_rest_is_the_transports() -> None:
    async def scenario() -> Recorder:
        recorder = Recorder()
        transport = held(recorder)
        assert transport.get_extra_info("peername") == "info:peername"
        transport.write(HEAD)
        transport.abort()
        await asyncio.sleep(0)
        return recorder

    recorder = asyncio.run(scenario())
    assert recorder.writes == []
    assert recorder.closed


# Over real HTTP: uvicorn with the protocol, counting what reaches the socket's transport.

WRITES: list[bytes] = []


class Counted(OneWriteHttpToolsProtocol):
    def connection_made(self, transport: Any) -> None:
        real_write = transport.write

        class Counting:
            def write(self, data: bytes) -> None:
                WRITES.append(bytes(data))
                real_write(data)

            def __getattr__(self, name: str) -> Any:
                return getattr(transport, name)

        super().connection_made(Counting())


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")],
        }
    )
    if scope["path"] == "/slow":  # the body comes later: the head must not wait for it
        await asyncio.sleep(0.3)
    await send({"type": "http.response.body", "body": b"hello"})


@contextmanager
def serving() -> Iterator[str]:
    port = free_port()
    with in_thread(
        uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, http=Counted, lifespan="off", log_level="warning")
        )
    ):
        yield f"http://127.0.0.1:{port}"


def test_over_http_a_response_is_one_write_and_a_late_body_does_not_hold_the_head() -> None:
    WRITES.clear()
    with serving() as url:
        with requests.Session() as session:  # keep-alive: several responses on one connection
            for _ in range(3):
                response = session.get(f"{url}/fast", timeout=5)
                assert (response.status_code, response.text) == (200, "hello")
        fast = list(WRITES)
        WRITES.clear()
        with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=5) as client:
            client.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            head = client.recv(4096)  # arrives before the body is sent
            assert head.startswith(b"HTTP/1.1 200 OK") and head.endswith(b"\r\n\r\n")
            assert client.recv(4096) == b"hello"
    assert len(fast) == 3
    assert all(write.startswith(b"HTTP/1.1 200 OK") and write.endswith(b"\r\n\r\nhello") for write in fast)
    assert len(WRITES) == 2
