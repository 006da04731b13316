"""The benchmark's hub listener: a bare ASGI app that notes when each notification arrives.

    python -m uvicorn event_listener:app --app-dir benchmarks --loop uvloop --http httptools

``POST /s/<n>`` (subscriber n) answers 201 at once and records the arrival time (``time.time()``),
n, and the notification's ``eventId``, ``eventTime`` and resource id; the first body of each event
is kept, so the baseline can send the same bytes. ``GET /count`` returns how many arrived, ``GET
/records`` the records, ``GET /bodies`` the kept bodies, ``DELETE /records`` forgets both; ``GET /``
answers 200 once the listener is up.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

Record = tuple[float, int, str, str, str]  # arrival, subscriber, eventId, eventTime, resource id

records: list[Record] = []
bodies: dict[str, bytes] = {}

_CREATED = {"type": "http.response.start", "status": 201, "headers": [(b"content-length", b"0")]}
_EMPTY = {"type": "http.response.body", "body": b""}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    method, path = scope["method"], scope["path"]
    if method == "POST" and path.startswith("/s/"):
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        arrived = time.time()
        raw = b"".join(chunks)
        await send(_CREATED)
        await send(_EMPTY)
        note(arrived, int(path[3:]), raw)
    elif method == "GET" and path == "/count":
        await answer(send, 200, str(len(records)).encode())
    elif method == "GET" and path == "/records":
        await answer(send, 200, orjson.dumps(records))
    elif method == "GET" and path == "/bodies":
        await answer(send, 200, orjson.dumps([body.decode() for body in bodies.values()]))
    elif method == "DELETE" and path == "/records":
        records.clear()
        bodies.clear()
        await answer(send, 204, b"")
    else:
        await answer(send, 200 if method == "GET" and path == "/" else 404, b"")


def note(arrived: float, subscriber: int, raw: bytes) -> None:
    """Record one arrival, after the answer went out (the sender's time is not ours to spend)."""
    try:
        event = orjson.loads(raw)
        resource: dict[str, Any] = next(iter(event.get("event", {}).values()), {})
        event_id, event_time, resource_id = str(event["eventId"]), str(event["eventTime"]), str(resource["id"])
    except (ValueError, KeyError, TypeError, AttributeError, StopIteration):
        event_id, event_time, resource_id = "", "", ""
    records.append((arrived, subscriber, event_id, event_time, resource_id))
    if event_id and event_id not in bodies:
        bodies[event_id] = raw


async def answer(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
