"""Two tmfgate instances on loopback: a "BSS" (orders, customers, bills local; inventories upstream;
service orders southbound) and an "OSS" process that fulfils them, killed mid-order and restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LOOPBACK_CALLBACKS, RunningGateway, free_port
from tests.listeners import ListenerProcess

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
SERVICE_ORDERS = "/tmf-api/serviceOrdering/v4/serviceOrder"
SERVICES = "/tmf-api/serviceInventory/v4/service"
RESOURCES = "/tmf-api/resourceInventoryManagement/v4/resource"
PRODUCTS = "/tmf-api/productInventory/v4/product"
BILLS = "/tmf-api/customerBillManagement/v4/customerBillOnDemand"
ORDER = {
    "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "po-fibre-500"}}],
    "billingAccount": {"id": "ba-7"},
    "relatedParty": [{"id": "cust-1", "role": "customer", "@referredType": "Individual"}],
}


class Oss:
    """``tmfgate serve`` on a fixed port and SQLite file, so it can be killed and started again."""

    def __init__(self, folder: Path, *options: str) -> None:
        self.folder, self.options = folder, options
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Oss:
        command = [sys.executable, "-m", "tmfgate", "serve", "--port", str(self.port), "--log-level", "warning"]
        command += ["--database-url", f"sqlite:///{self.folder / 'oss.db'}", *self.options]
        with (self.folder / "oss.out").open("ab") as out:
            env = {**os.environ, "TMFGATE_CALLBACK_HOSTS": LOOPBACK_CALLBACKS}  # the BSS listens on loopback
            self.process = subprocess.Popen(command, cwd=self.folder, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(self.url + SERVICE_ORDERS + "?limit=1", timeout=2)
                return self
            except requests.ConnectionError:
                assert self.process.poll() is None and time.monotonic() < deadline, (
                    self.folder / "oss.out"
                ).read_text()
                time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def bss(oss: Oss | LossyProxy, folder: Path, **settings: Any) -> RunningGateway:
    config = folder / "bss.yaml"
    config.write_text(
        "apis:\n"
        f"  tmf638: {{upstream: {{url: '{oss.url}/tmf-api/serviceInventory/v4'}}}}\n"
        f"  tmf639: {{upstream: {{url: '{oss.url}/tmf-api/resourceInventoryManagement/v4'}}}}\n"
        f"fulfilment:\n  southbound: {{url: '{oss.url}/tmf-api/serviceOrdering/v4'}}\n"
    )
    return RunningGateway(
        f"sqlite:///{folder / 'bss.db'}",
        config=str(config),
        retry_delay=0.2,
        retry_delay_max=1.0,
        upstream_breaker_reset=0.5,
        **settings,
    )


def order_when(gateway: RunningGateway, id: str, done: set[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        order: dict[str, Any] = requests.get(f"{gateway.url}{ORDERS}/{id}", timeout=10).json()
        if order.get("state") in done:
            return order
        assert time.monotonic() < deadline, f"the order is still {order.get('state')}: {order.get('note')}"
        time.sleep(0.2)


@pytest.fixture
def oss(tmp_path: Path) -> Iterator[Oss]:
    running = Oss(tmp_path, "--activation-delay", "0.5").start()
    yield running
    running.stop()


def test_an_order_at_the_bss_completes_through_the_oss(oss: Oss, tmp_path: Path) -> None:
    with bss(oss, tmp_path) as gateway, ListenerProcess(tmp_path / "listener.jsonl") as listener:
        hub = requests.post(f"{gateway.url}/tmf-api/serviceInventory/v4/hub", json={"callback": listener.callback})
        assert hub.status_code == 201, hub.text
        made = requests.post(gateway.url + ORDERS, json=ORDER, timeout=10)
        assert made.status_code == 201, made.text
        order = order_when(gateway, made.json()["id"], {"completed", "failed", "partial"})
        assert order["state"] == "completed", order.get("note")
        at_oss = requests.get(f"{oss.url}{SERVICE_ORDERS}?externalId={order['id']}", timeout=10).json()
        assert len(at_oss) == 1 and at_oss[0]["state"] == "completed"
        mine = requests.get(f"{gateway.url}{SERVICE_ORDERS}/{at_oss[0]['id']}", timeout=10).json()
        assert mine["href"].startswith(gateway.url)
        services = requests.get(f"{gateway.url}{SERVICES}?state=active", timeout=10).json()
        assert services and all(s["href"].startswith(gateway.url) for s in services)
        got = listener.wait_for(lambda d: any(e["body"]["eventType"] == "ServiceCreateEvent" for e in d))
        created = [e["body"] for e in got if e["body"]["eventType"] == "ServiceCreateEvent"]
        assert created[0]["event"]["service"]["href"].startswith(gateway.url)
        products = requests.get(f"{gateway.url}{PRODUCTS}?relatedParty.id=cust-1", timeout=10).json()
        assert [p["status"] for p in products] == ["active"]
        bill = requests.post(f"{gateway.url}{BILLS}", json={"billingAccount": {"id": "ba-7"}}, timeout=30).json()
        assert bill["state"] == "done" and bill["customerBill"]["href"].startswith(gateway.url), bill


def test_the_oss_killed_mid_order_delays_and_duplicates_nothing(oss: Oss, tmp_path: Path) -> None:
    with bss(oss, tmp_path) as gateway:
        made = requests.post(gateway.url + ORDERS, json=ORDER, timeout=10).json()
        time.sleep(0.3)  # decomposed and sent, the OSS activating its first item
        oss.kill()
        time.sleep(1.0)
        oss.start()
        order = order_when(gateway, made["id"], {"completed", "failed", "partial"}, timeout=90)
        assert order["state"] == "completed", order.get("note")
        at_oss = requests.get(f"{oss.url}{SERVICE_ORDERS}?externalId={made['id']}", timeout=10).json()
        assert len(at_oss) == 1


def test_an_oss_down_delays_the_order_with_a_note_and_loses_nothing(tmp_path: Path) -> None:
    oss = Oss(tmp_path)  # not started yet
    with bss(oss, tmp_path, delivery_attempts=1000) as gateway:
        made = requests.post(gateway.url + ORDERS, json=ORDER, timeout=10).json()
        waiting = order_when(gateway, made["id"], {"inProgress"})
        deadline = time.monotonic() + 30
        while not any("Waiting for the OSS" in n["text"] for n in waiting.get("note", [])):
            assert time.monotonic() < deadline, waiting.get("note")
            time.sleep(0.2)
            waiting = requests.get(f"{gateway.url}{ORDERS}/{made['id']}", timeout=10).json()
        oss.start()
        try:
            order = order_when(gateway, made["id"], {"completed", "failed", "partial"}, timeout=90)
            assert order["state"] == "completed", order.get("note")
            assert len(requests.get(f"{oss.url}{SERVICE_ORDERS}?externalId={made['id']}", timeout=10).json()) == 1
        finally:
            oss.stop()


def test_an_oss_refusing_the_service_order_fails_the_items_with_its_reason(tmp_path: Path) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.conftest import in_thread

    async def refuse(request: Request) -> JSONResponse:
        if request.method == "POST" and request.url.path.endswith("/serviceOrder"):
            return JSONResponse({"code": "42", "reason": "Refused", "message": "no fibre capacity in area 75"}, 422)
        return JSONResponse({"code": "60", "reason": "Not found", "message": "nothing here"}, 404)

    port = free_port()
    app = Starlette(routes=[Route("/{path:path}", refuse, methods=["GET", "POST", "PATCH", "DELETE"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    config = tmp_path / "bss.yaml"
    config.write_text(f"fulfilment:\n  southbound: {{url: 'http://127.0.0.1:{port}/tmf-api/serviceOrdering/v4'}}\n")
    with in_thread(server), RunningGateway("memory://", config=str(config)) as gateway:
        made = requests.post(gateway.url + ORDERS, json=ORDER, timeout=10).json()
        order = order_when(gateway, made["id"], {"completed", "failed", "partial"})
    assert order["state"] == "failed" and order["productOrderItem"][0]["state"] == "failed"
    assert any("no fibre capacity in area 75" in note["text"] for note in order["note"])


class LossyProxy:
    """A proxy on loopback in front of the OSS that forwards everything, but answers the first service
    order create only after the BSS gave up on it: the OSS stored it, the BSS never heard so."""

    def __init__(self, oss: Oss, delay: float) -> None:
        import httpx
        import uvicorn
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lost = 0

        async def forward(request: Request) -> Response:
            headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
            async with httpx.AsyncClient(timeout=30) as client:
                answer = await client.request(
                    request.method,
                    oss.url + request.url.path,
                    params=list(request.query_params.multi_items()),
                    content=await request.body(),
                    headers={**headers, "host": f"127.0.0.1:{self.port}"},  # hrefs of the proxy, as the BSS calls it
                )
            if request.method == "POST" and request.url.path.endswith(SERVICE_ORDERS) and not self.lost:
                self.lost += 1
                await asyncio.sleep(delay)  # stored at the OSS; the BSS timed out meanwhile
            kept = {k: v for k, v in answer.headers.items() if k not in ("content-length", "content-encoding")}
            return Response(answer.content, answer.status_code, headers=kept)

        methods = ["GET", "POST", "PATCH", "DELETE"]
        app = Starlette(routes=[Route("/{path:path}", forward, methods=methods)])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))


def test_a_service_order_whose_answer_was_lost_is_not_sent_twice(oss: Oss, tmp_path: Path) -> None:
    from tests.conftest import in_thread

    # The answer is held twice the timeout; the timeout leaves room for every other call of the BSS to
    # answer on a machine busy with other tests (1 s did not, once, and the order waited for the OSS).
    proxy = LossyProxy(oss, delay=6.0)
    with in_thread(proxy.server), bss(proxy, tmp_path, upstream_timeout=3.0) as gateway:
        made = requests.post(gateway.url + ORDERS, json=ORDER, timeout=10).json()
        order = order_when(gateway, made["id"], {"completed", "failed", "partial"}, timeout=120)
        assert proxy.lost == 1
        assert order["state"] == "completed", order.get("note")
        at_oss = requests.get(f"{oss.url}{SERVICE_ORDERS}?externalId={made['id']}", timeout=10).json()
        assert len(at_oss) == 1, [so["id"] for so in at_oss]


def test_an_oss_failing_an_item_during_activation_ends_the_order_partial_and_bills_only_what_completed(
    tmp_path: Path,
) -> None:
    import yaml

    demo = yaml.safe_load((Path(__file__).resolve().parents[2] / "catalogs" / "demo.yaml").read_text())
    for pool in demo["resourcePool"]:
        if pool["resourceSpecification"]["id"] == "rs-ipv4-address":
            pool["range"]["to"] = pool["range"]["from"] - 1  # the OSS has no address left to give
    (tmp_path / "oss-catalog.yaml").write_text(yaml.safe_dump(demo))
    oss = Oss(tmp_path, "--catalog", str(tmp_path / "oss-catalog.yaml"), "--activation-delay", "0.2").start()
    items = [
        {"id": "phone", "action": "add", "quantity": 1, "productOffering": {"id": "po-home-phone"}},
        {"id": "net", "action": "add", "quantity": 1, "productOffering": {"id": "po-fibre-500"}},
    ]
    try:
        with bss(oss, tmp_path) as gateway:
            made = requests.post(gateway.url + ORDERS, json={**ORDER, "productOrderItem": items}, timeout=10).json()
            order = order_when(gateway, made["id"], {"completed", "failed", "partial"})
            states = {item["id"]: item["state"] for item in order["productOrderItem"]}
            assert (order["state"], states) == ("partial", {"phone": "completed", "net": "failed"}), order.get("note")
            assert "Item net failed" in " ".join(note["text"] for note in order["note"])
            (at_oss,) = requests.get(f"{oss.url}{SERVICE_ORDERS}?externalId={made['id']}", timeout=10).json()
            assert at_oss["state"] == "partial"
            products = requests.get(f"{gateway.url}{PRODUCTS}?relatedParty.id=cust-1", timeout=10).json()
            assert [p["productOffering"]["id"] for p in products if p["status"] == "active"] == ["po-home-phone"]
            bill = requests.post(f"{gateway.url}{BILLS}", json={"billingAccount": {"id": "ba-7"}}, timeout=30).json()
            assert bill["state"] == "done", bill
            rates = requests.get(
                f"{gateway.url}/tmf-api/customerBillManagement/v4/appliedCustomerBillingRate?billingAccount.id=ba-7",
                timeout=10,
            ).json()
            billed = {rate["product"]["id"] for rate in rates}
            assert rates and billed == {p["id"] for p in products if p["status"] == "active"}  # nothing of the fibre
    finally:
        oss.stop()


def redelivered_until_ended(gateway: RunningGateway, delivery: str, order_id: str) -> dict[str, Any]:
    """The order once its parked fulfilment, sent again, has ended it. Until the gateway has subscribed at
    the OSS again (it tries every 0.5 s here), a redelivery can fail on "not yet subscribed" and park
    again, as the operator API then shows; the operator sends it again, as this does."""
    deadline = time.monotonic() + 90
    while True:
        again = requests.patch(
            gateway.url + delivery,
            json={"state": "pending"},
            headers={"content-type": "application/merge-patch+json"},
            timeout=10,
        )
        assert again.status_code == 200, again.text
        while (order := requests.get(f"{gateway.url}{ORDERS}/{order_id}", timeout=10).json())["state"] == "inProgress":
            assert time.monotonic() < deadline, f"the order is still inProgress: {order.get('note')}"
            if requests.get(gateway.url + delivery, timeout=10).json()["state"] == "parked":
                break
            time.sleep(0.2)
        else:
            return order


def test_an_oss_down_past_the_attempts_parks_the_order_s_fulfilment_with_its_reason(tmp_path: Path) -> None:
    """Parked, not lost: the order says it waits for the OSS and why, the operator API shows the parked
    reaction with the OSS's error, and redelivered once the OSS is back it completes, sent once."""
    admin = "/tmfgate/admin/v1/delivery"
    oss = Oss(tmp_path)  # not started
    with bss(oss, tmp_path, delivery_attempts=2) as gateway:
        made = requests.post(gateway.url + ORDERS, json=ORDER, timeout=10).json()
        deadline = time.monotonic() + 60
        while not (parked := requests.get(f"{gateway.url}{admin}?state=parked", timeout=10).json()):
            assert time.monotonic() < deadline, "the order's fulfilment was never parked"
            time.sleep(0.2)
        (delivery,) = [d for d in parked if d["event"]["resourceId"] == made["id"]]
        assert delivery["attempts"] == 2 and delivery["subscriptionId"] == "tmfgate.fulfilment"
        assert oss.url in delivery["lastError"], delivery
        order = requests.get(f"{gateway.url}{ORDERS}/{made['id']}", timeout=10).json()
        assert order["state"] == "inProgress"
        assert any("Waiting for the OSS" in n["text"] and oss.url in n["text"] for n in order["note"]), order["note"]
        # each item waiting on the OSS says it is parked, and why
        assert [item["state"] for item in order["productOrderItem"]] == ["held"]
        (parked_note,) = [n for n in order["note"] if n.get("@type") == "OrderItemParkedNote"]
        assert parked_note["orderItemId"] == order["productOrderItem"][0]["id"]
        assert parked_note["code"] == "SOUTHBOUND_PARKED" and oss.url in parked_note["text"], parked_note
        oss.start()
        try:
            order = redelivered_until_ended(gateway, f"{admin}/{delivery['id']}", made["id"])
            assert order["state"] == "completed", order.get("note")
            assert [item["state"] for item in order["productOrderItem"]] == ["completed"]
            assert any("is no longer parked" in n["text"] for n in order["note"]), order["note"]
            assert len(requests.get(f"{oss.url}{SERVICE_ORDERS}?externalId={made['id']}", timeout=10).json()) == 1
        finally:
            oss.stop()
