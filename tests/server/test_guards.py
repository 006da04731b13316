"""The guarded HTTP protocol of ``tmfgate serve``: 431 past the head limit, 408 to slow clients, the
connection cap, no banner."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import requests

from tests.gateways import served
from tmfgate.server.guards import error_response

CUSTOMERS = "/tmf-api/customerManagement/v4/customer"


def test_an_error_response_is_a_whole_tmf_error_that_closes_the_connection() -> None:
    response = error_response(408, "Request Timeout", "Too slow.")
    head, body = response.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and b"connection: close" in head
    assert f"content-length: {len(body)}".encode() in head
    assert b'"status":"408"' in body and b'"message":"Too slow."' in body


def error_of(answer: requests.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    return str(answer.json()["message"])


def raw(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def answer_of(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_serve_limits_heads_slow_clients_and_connections(tmp_path: Path) -> None:
    options = ("--max-header-size", "2048", "--read-timeout", "1", "--max-connections", "4")
    with served("memory://", tmp_path, *options) as (_, url):
        plain = requests.get(f"{url}{CUSTOMERS}?limit=1", timeout=30)
        assert plain.status_code == 200 and "server" not in plain.headers  # no banner (F-21)
        huge = requests.get(f"{url}{CUSTOMERS}", headers={"X-Pad": "x" * 4096}, timeout=30)
        assert "2048 bytes" in error_of(huge, 431)
        with raw(url) as slow:
            slow.sendall(b"GET " + CUSTOMERS.encode() + b" HTTP/1.1\r\nHost: x\r\n")  # and no more
            started = time.monotonic()
            answer = answer_of(slow)
            assert answer.startswith(b"HTTP/1.1 408 ") and time.monotonic() - started < 10
        with raw(url) as slow:
            slow.sendall(b"POST " + CUSTOMERS.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json")
            slow.sendall(b"\r\nContent-Length: 100\r\n\r\n{")  # the rest of the body never comes
            assert answer_of(slow).startswith(b"HTTP/1.1 408 ")
        held = [raw(url) for _ in range(4)]
        try:
            for sock in held:
                sock.sendall(b"GET " + CUSTOMERS.encode())  # heads begun, not finished
            time.sleep(0.2)
            assert requests.get(f"{url}{CUSTOMERS}?limit=1", timeout=30).status_code == 503
        finally:
            for sock in held:
                sock.close()
        time.sleep(0.2)
        assert requests.get(f"{url}{CUSTOMERS}?limit=1", timeout=30).status_code == 200
