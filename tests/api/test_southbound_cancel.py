"""A product order cancelled while its service order waits for the southbound OSS (issue 12 item 4).

The gateway sends a service order until the OSS answers, so the OSS may hold one whose answer was
lost. Before such an order is cancelled here, the OSS is asked for it by ``externalId``: one it holds
is cancelled there (``cancelServiceOrder``), never left to be carried out; with none there the order
is cancelled here and never sent; while the OSS cannot say, the cancellation is a 503 with
``Retry-After`` and nothing is stored. A "BSS" gateway in this process, a real "OSS" process behind a
scripted proxy that loses answers or fails as each test says. The BSS keeps its orders on SQLite, then
on PostgreSQL (skipped with the reason when none answers): the cancellation and the reaction sending
the service order take turns on the fulfilment record's lock, which each store implements its own way.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.api.end_to_end import database_fixture, wait
from tests.api.test_gateway_end_to_end import ORDER, ORDERS, SERVICE_ORDERS, Oss, order_when
from tests.conftest import RunningGateway, free_port, in_thread

CANCELS = "/tmf-api/productOrderingManagement/v4/cancelProductOrder"

database = database_fixture("tmfgate_southbound")


class ScriptedProxy:
    """The OSS as the BSS reaches it: ``mode`` ``forward`` passes every call on; ``lose`` passes a service
    order create on but answers it only after ``hold`` seconds (stored at the OSS, the BSS gave up);
    ``late`` holds a create up on its way until ``release`` is set (the BSS gave up, the OSS has not
    stored it yet); ``refuse-creates`` answers such creates 503; ``down`` answers every service order call 503."""

    def __init__(self, oss: Oss, hold: float = 8.0) -> None:
        import httpx
        import uvicorn
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        self.mode = "forward"
        self.release = threading.Event()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

        async def forward(request: Request) -> Response:
            path = request.url.path
            orders = path.endswith(("/serviceOrder", "/cancelServiceOrder")) or "/serviceOrder/" in path
            create = request.method == "POST" and path.endswith(SERVICE_ORDERS)
            if orders and (self.mode == "down" or (self.mode == "refuse-creates" and create)):
                return JSONResponse({"code": "1", "reason": "Unavailable", "message": "OSS maintenance"}, 503)
            body = await request.body()  # read now: the BSS may have hung up by the time it is sent on
            if create and self.mode == "late":
                self.mode = "forward"
                while not self.release.is_set():
                    await asyncio.sleep(0.05)
            headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
            async with httpx.AsyncClient(timeout=30) as client:
                answer = await client.request(
                    request.method,
                    oss.url + path,
                    params=list(request.query_params.multi_items()),
                    content=body,
                    headers={**headers, "host": f"127.0.0.1:{self.port}"},
                )
            if create and self.mode == "lose":
                self.mode = "forward"
                await asyncio.sleep(hold)  # stored at the OSS; the BSS timed out meanwhile
            kept = {k: v for k, v in answer.headers.items() if k not in ("content-length", "content-encoding")}
            return Response(answer.content, answer.status_code, headers=kept)

        app = Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST", "PATCH", "DELETE"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))


@pytest.fixture
def oss(tmp_path: Path) -> Iterator[Oss]:
    running = Oss(tmp_path, "--activation-delay", "5").start()  # slow: a cancellation lands before it ends
    yield running
    running.stop()


def bss(proxy: ScriptedProxy, database: str, folder: Path, **settings: Any) -> RunningGateway:
    config = folder / "bss.yaml"
    config.write_text(f"fulfilment:\n  southbound: {{url: '{proxy.url}/tmf-api/serviceOrdering/v4'}}\n")
    settings = {"upstream_timeout": 2.0, "retry_delay_max": 1.0, **settings}
    return RunningGateway(database, config=str(config), **settings)


def waiting_for_the_oss(gateway: RunningGateway, id: str) -> dict[str, Any]:
    return wait(  # type: ignore[no-any-return]
        lambda: requests.get(f"{gateway.url}{ORDERS}/{id}", timeout=10).json(),
        lambda order: any("Waiting for the OSS" in n["text"] for n in order.get("note", [])),
        30,
        "the order to wait for the OSS",
    )


def at_oss(oss: Oss, order_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = requests.get(f"{oss.url}{SERVICE_ORDERS}?externalId={order_id}", timeout=10).json()
    return found


def cancel(gateway: RunningGateway, order_id: str) -> requests.Response:
    return requests.post(gateway.url + CANCELS, json={"productOrder": {"id": order_id}}, timeout=30)


def test_a_service_order_the_oss_stored_though_the_answer_was_lost_is_cancelled_there(
    oss: Oss, database: str, tmp_path: Path
) -> None:
    proxy = ScriptedProxy(oss)
    proxy.mode = "lose"
    # The send is retried only after 15 s or more: the cancellation lands while the order waits.
    with in_thread(proxy.server), bss(proxy, database, tmp_path, retry_delay=30.0, retry_delay_max=60.0) as gateway:
        made = requests.post(gateway.url + ORDERS, json=ORDER, timeout=10).json()
        waiting_for_the_oss(gateway, made["id"])
        (stored,) = wait(lambda: at_oss(oss, made["id"]), bool, 10, "the service order stored at the OSS")
        asked = cancel(gateway, made["id"])
        assert asked.status_code == 201, asked.text
        order = order_when(gateway, made["id"], {"cancelled", "completed", "failed", "partial"})
        assert order["state"] == "cancelled", order.get("note")
        assert {item["state"] for item in order["productOrderItem"]} == {"cancelled"}, order
        assert any(stored["id"] in n["text"] for n in order["note"]), order["note"]  # taken up, then cancelled
        task = requests.get(f"{gateway.url}{CANCELS}/{asked.json()['id']}", timeout=10).json()
        assert task["state"] == "done", task
        (there,) = at_oss(oss, made["id"])  # cancelled at the OSS, not carried out, and never sent twice
        assert there["id"] == stored["id"] and there["state"] == "cancelled", there


def test_a_service_order_the_oss_stores_after_the_cancellation_looked_is_cancelled_there_when_it_shows_up(
    database: str, tmp_path: Path
) -> None:
    oss = Oss(tmp_path, "--activation-delay", "30").start()  # it stays cancellable well after it shows up
    proxy = ScriptedProxy(oss)
    proxy.mode = "late"
    try:
        with in_thread(proxy.server), bss(proxy, database, tmp_path, retry_delay=30.0, retry_delay_max=60.0) as gateway:
            made = requests.post(gateway.url + ORDERS, json=ORDER, timeout=10).json()
            waiting_for_the_oss(gateway, made["id"])
            assert at_oss(oss, made["id"]) == []  # held up on its way: the cancellation's look finds nothing
            asked = cancel(gateway, made["id"])
            assert asked.status_code == 201 and asked.json()["state"] == "done", asked.text
            proxy.release.set()  # the OSS stores it now, after the order was cancelled here
            (stray,) = wait(
                lambda: at_oss(oss, made["id"]),
                lambda found: bool(found) and found[0]["state"] == "cancelled",
                60,
                "the service order stored late to be cancelled at the OSS",
            )
            order = wait(
                lambda: requests.get(f"{gateway.url}{ORDERS}/{made['id']}", timeout=10).json(),
                lambda order: any(stray["id"] in n["text"] for n in order.get("note", [])),
                30,
                "the order to note the stray service order",
            )
            assert order["state"] == "cancelled", order
            assert any(
                f"{stray['id']}, stored at the OSS for this order too late, is cancelled" in n["text"]
                for n in order["note"]
            )
            assert len(at_oss(oss, made["id"])) == 1  # the cancelled order's service order is never sent again
    finally:
        oss.stop()


def test_a_cancellation_while_the_oss_cannot_say_is_a_503_and_with_nothing_there_it_is_cancelled_here(
    oss: Oss, database: str, tmp_path: Path
) -> None:
    proxy = ScriptedProxy(oss)
    proxy.mode = "down"
    with in_thread(proxy.server), bss(proxy, database, tmp_path, retry_delay=0.2, upstream_breaker=1000) as gateway:
        made = requests.post(gateway.url + ORDERS, json=ORDER, timeout=10).json()
        waiting_for_the_oss(gateway, made["id"])
        refused = cancel(gateway, made["id"])
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        message = refused.json()["message"]
        assert f"Product order {made['id']} cannot be cancelled while the OSS is unreachable" in message, message
        assert requests.get(gateway.url + CANCELS, timeout=10).json() == []  # nothing stored
        assert requests.get(f"{gateway.url}{ORDERS}/{made['id']}", timeout=10).json()["state"] == "inProgress"
        proxy.mode = "refuse-creates"  # the OSS answers again, but has not taken the service order
        asked = cancel(gateway, made["id"])
        assert asked.status_code == 201 and asked.json()["state"] == "done", asked.text
        order = order_when(gateway, made["id"], {"cancelled", "completed", "failed", "partial"})
        assert order["state"] == "cancelled" and {i["state"] for i in order["productOrderItem"]} == {"cancelled"}
        proxy.mode = "forward"
        time.sleep(4)  # several retries of the send: none sends a cancelled order's service order
        assert at_oss(oss, made["id"]) == []


def test_a_service_order_that_ended_at_the_oss_refuses_the_cancellation_and_the_order_follows_it(
    database: str, tmp_path: Path
) -> None:
    oss = Oss(tmp_path).start()  # no activation delay: the service order ends before the cancellation
    proxy = ScriptedProxy(oss)
    proxy.mode = "lose"
    try:
        # The send is retried after 5 to 15 s: the cancellation lands before, while the order waits.
        with in_thread(proxy.server), bss(proxy, database, tmp_path, retry_delay=10.0, retry_delay_max=10.0) as gateway:
            made = requests.post(gateway.url + ORDERS, json=ORDER, timeout=10).json()
            waiting_for_the_oss(gateway, made["id"])
            (stored,) = wait(
                lambda: at_oss(oss, made["id"]),
                lambda found: bool(found) and found[0]["state"] == "completed",
                10,
                "the service order completed at the OSS",
            )
            asked = cancel(gateway, made["id"])
            assert asked.status_code == 201, asked.text
            task = asked.json()
            assert task["state"] == "terminatedWithError", task
            assert f"its service order {stored['id']} is completed" in task["errorMessage"], task
            order = order_when(gateway, made["id"], {"cancelled", "completed", "failed", "partial"})
            assert order["state"] == "completed" and "cancellationDate" not in order, order.get("note")
            assert len(at_oss(oss, made["id"])) == 1
    finally:
        oss.stop()
