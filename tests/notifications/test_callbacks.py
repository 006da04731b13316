"""Hub callbacks never reach the gateway's own network by default (issue 13 item 4, security review
F-02, F-03, F-14): checked on the resolved address, at registration and at every delivery, with
httpx's own URL parser, and reached at the address checked."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import requests

from backends import open_backend
from tests.conftest import RunningGateway, free_port
from tests.listeners import ListenerProcess
from tests.notifications.test_delivery import API, SETTINGS, create, subscribe
from tmfgate.notifications.callbacks import CallbackRefused, policy
from tmfgate.notifications.delivery import DeliveryWorker
from tmfgate.settings import Settings

pytestmark = pytest.mark.anyio
PORT = 8080  # the gateway's own, in these policies

REFUSED = [
    "http://127.0.0.1:6379/",
    "http://localhost:9200/",
    "http://[::1]:9200/",
    "http://10.0.0.1:2375/containers/create",
    "http://192.168.1.1/",
    "http://172.16.0.1/",
    "http://100.64.0.1/",  # shared address space (carrier-grade NAT)
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",  # cloud metadata, IPv4
    "http://[fd00:ec2::254]/latest/",  # cloud metadata, IPv6
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://0.0.0.0:8080/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
    "http://2130706433:6379/",  # 127.0.0.1 as one decimal number
    "http://0x7f.1/",  # 127.0.0.1 in hexadecimal, shortened
    "http://127.1/",
    "http://partner.example\\@127.0.0.1/",  # a parser differential: urllib sees partner.example
    "http://partner.example@127.0.0.1/",  # userinfo: the host is 127.0.0.1
    "http://partner.example:x@169.254.169.254/",
]


@pytest.mark.parametrize("callback", REFUSED)
async def test_callbacks_to_non_public_addresses_are_refused_by_default(callback: str) -> None:
    with pytest.raises(CallbackRefused):
        await policy(Settings(port=PORT)).target(callback)


@pytest.mark.parametrize("callback", ["http://partner.example\\@127.0.0.1/", "http://partner.example@10.0.0.1/"])
async def test_a_name_allowed_in_the_userinfo_is_not_the_host(callback: str) -> None:
    with pytest.raises(CallbackRefused, match="not allowed"):
        await policy(Settings(port=PORT, callback_hosts="partner.example,*.partner.example")).target(callback)


async def test_a_public_address_is_reached_as_checked_with_the_callbacks_host() -> None:
    target = await policy(Settings(port=PORT)).target("https://93.184.215.14:8443/hook?x=1")
    assert str(target.url) == "https://93.184.215.14:8443/hook?x=1" and target.host == "93.184.215.14:8443"


async def test_listed_networks_are_exceptions_and_listed_names_the_only_names() -> None:
    loopback = policy(Settings(port=PORT, callback_hosts="*,127.0.0.0/8"))
    assert (await loopback.target("http://127.0.0.1:9000/x")).host == "127.0.0.1:9000"
    with pytest.raises(CallbackRefused):
        await loopback.target("http://10.0.0.1/")
    with pytest.raises(CallbackRefused, match="this gateway itself"):  # its operator API, whatever is listed
        await loopback.target(f"http://127.0.0.1:{PORT}/tmfgate/admin/v1/replay")
    named = policy(Settings(port=PORT, callback_hosts="*.partner.example"))
    with pytest.raises(CallbackRefused, match="not allowed"):
        await named.target("http://93.184.215.14/")
    for scheme in ("file:///etc/passwd", "gopher://93.184.215.14/", "/relative", "http://"):
        with pytest.raises(CallbackRefused):
            await named.target(scheme)


async def test_a_delivery_connects_to_the_address_checked_with_the_callbacks_host() -> None:
    """Against DNS rebinding: the name is resolved once, checked, and the connection made to that address."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201)

    backend = open_backend("memory://")
    await backend.open()
    worker = DeliveryWorker(SETTINGS, backend, [API], transport=httpx.MockTransport(answer))
    try:
        await subscribe(backend, "http://localhost:8123/hook")
        await create(backend)
        for _ in range(50):
            if seen:
                break
            await worker.step()
            await asyncio.sleep(0.02)
    finally:
        await worker.close()
        await backend.close()
    assert seen and seen[0].url.host in ("127.0.0.1", "::1") and seen[0].url.port == 8123
    assert seen[0].headers["Host"] == "localhost:8123" and seen[0].url.path == "/hook"


async def test_the_policy_applies_at_delivery_to_subscriptions_made_before(tmp_path: Path) -> None:
    """A subscription stored under a looser policy (or before an upgrade) is refused when delivered."""
    with ListenerProcess(tmp_path / "listener.jsonl") as listener:
        backend = open_backend("memory://")
        await backend.open()
        worker = DeliveryWorker(SETTINGS.with_overrides(callback_hosts="*"), backend, [API])
        try:
            await subscribe(backend, listener.callback)
            await create(backend)
            for _ in range(5):
                await worker.step()
            deliveries = await backend.deliveries()
        finally:
            await worker.close()
            await backend.close()
        assert listener.received() == []
        assert deliveries and "not a public address" in str(deliveries[0].last_error)


def test_registering_a_callback_to_the_gateways_network_is_a_400() -> None:
    with RunningGateway("memory://", fulfilment=False, callback_hosts="*") as gateway:
        hub = f"{gateway.url}/tmf-api/productOrderingManagement/v4/hub"
        for callback in (f"http://127.0.0.1:{free_port()}/x", "http://169.254.169.254/", "http://a\\@127.0.0.1/"):
            refused = requests.post(hub, json={"callback": callback}, timeout=30)
            assert refused.status_code == 400, refused.text
            assert refused.json()["@type"] == "Error"
