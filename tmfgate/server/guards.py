"""The HTTP protocol with limits on what a client sends: a request head larger than
``max_header_size`` answers 431, and a head, or the next part of a body, slower than
``read_timeout`` answers 408 (security review F-11, F-12: httptools sets neither)."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import orjson

from tmfgate.errors import ApiError
from tmfgate.server.protocol import OneWriteHttpToolsProtocol
from tmfgate.settings import CORE_SETTINGS, Settings


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head past its limit."""


def error_response(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP response carrying a TMF ``Error``, closing the connection."""
    error = ApiError(message, code=str(status), reason=reason)
    body = orjson.dumps({**error.body(), "status": str(status)})
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedHttpToolsProtocol(OneWriteHttpToolsProtocol):
    """:class:`OneWriteHttpToolsProtocol` with a head size limit and client read timeouts."""

    # Every worker reads its settings from the environment, as the app does (tmfgate.server.workers).
    settings: ClassVar[Settings | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cls = type(self)
        if cls.settings is None:
            cls.settings = Settings.from_env(CORE_SETTINGS)
        self.max_head = cls.settings.max_header_size
        self.read_timeout = cls.settings.read_timeout
        self._head = 0
        self._too_large = False
        self._in_head = True
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._wait()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head, self._in_head = 0, True
        self._wait()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._wait()  # for the body, if one follows
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._wait()
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._stop_waiting()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._too_large:
            super().send_400_response(msg)
            return
        message = f"The request line and headers are larger than this gateway takes ({self.max_head} bytes)."
        self._refuse(error_response(431, "Request Header Fields Too Large", message))

    def _count(self, size: int) -> None:
        self._head += size
        if self._head > self.max_head:
            self._too_large = True
            raise HeadTooLarge  # httptools stops parsing; uvicorn answers through send_400_response

    def _wait(self) -> None:
        self._stop_waiting()
        self._timer = self.loop.call_later(self.read_timeout, self._timed_out)

    def _stop_waiting(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if self._in_head or cycle is None or not cycle.response_started:
            what = "its request line and headers" if self._in_head else "the next part of its body"
            message = f"The client took longer than {self.read_timeout:g} s to send {what}."
            self._refuse(error_response(408, "Request Timeout", message))
        else:
            self.transport.close()

    def _refuse(self, response: bytes) -> None:
        self._stop_waiting()
        self.transport.write(response)
        self.transport.close()
