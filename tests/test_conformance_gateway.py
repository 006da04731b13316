"""The conformance tool run against the real gateway: every API passes, discovery, --spec URL, --read-only, cleanup."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from conformance.cli import main
from conformance.sources import shipped_names
from tests.conformance_support import PAYLOADS, V5_PAYLOADS, Proxy, Request, payload_arguments, running_gateway

# --- end to end against tmfgate ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_gateway(tmp_path_factory.mktemp("gateway")) as url:
        yield url


# Every TMF API tmfgate serves, with the least number of checks each must pass.
SERVED_SPECS = {
    "tmf622_product_ordering": 80,
    "tmf641_service_ordering": 80,
    "tmf638_service_inventory": 45,
    "tmf640_service_activation": 45,
    "tmf639_resource_inventory": 45,
    "tmf629_customer": 40,
    "tmf642_alarm": 240,
    "tmf678_bill": 30,
    "tmf620_product_catalog": 2,
    "tmf633_service_catalog": 2,
    "tmf637_product_inventory": 45,
    "tmf632_party": 45,
    "tmf621_trouble_ticket": 40,
    "tmf635_usage": 95,
    "tmf676_payment": 70,
    "tmf666_account_management": 310,
}


# Every TMF API tmfgate also serves in v5 (specs/v5), with the least number of checks each must pass.
SERVED_V5 = {
    "tmf620_product_catalog": 290,
    "tmf621_trouble_ticket": 85,
    "tmf622_product_ordering": 80,
    "tmf629_customer": 40,
    "tmf632_party": 80,
    "tmf637_product_inventory": 45,
    "tmf638_service_inventory": 45,
    "tmf639_resource_inventory": 45,
    "tmf640_service_activation": 45,
    "tmf641_service_ordering": 80,
    "tmf642_alarm": 230,
    "tmf666_account_management": 300,
    "tmf678_bill": 30,
}


NEEDS_PAYLOADS = {
    "tmf642_alarm": {"alarm", "ackAlarms", "unAckAlarms", "clearAlarms", "commentAlarms"},
    "tmf678_bill": {"customerBillOnDemand"},
    "tmf635_usage": {"usage"},
    "tmf676_payment": {"payment", "refund"},
}


def test_every_served_api_is_checked() -> None:
    assert set(shipped_names(4)) == set(SERVED_SPECS)
    assert set(shipped_names(5)) == set(SERVED_V5)


@pytest.mark.parametrize("name", sorted(SERVED_V5))
def test_tmfgate_passes_every_check_in_v5(name: str, gateway_url: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    arguments = [gateway_url, "--api", name.split("_")[0], "--version", "5", "--workers", "4", "--event-timeout", "5"]
    bodies = payload_arguments(tmp_path, payloads=V5_PAYLOADS) if name == "tmf642_alarm" else []
    code = main([*arguments, "--json", str(report), *bodies])
    (api,) = json.loads(report.read_text())["apis"]
    failures = [f"{r['name']}: {r.get('detail')}" for r in api["results"] if r["status"] == "FAIL"]
    assert code == 0, "\n".join(failures)
    assert api["summary"]["failed"] == 0 and api["summary"]["passed"] >= SERVED_V5[name]
    assert api["seconds"] < 60


@pytest.mark.parametrize("name", sorted(SERVED_SPECS))
def test_tmfgate_passes_every_check(
    name: str, gateway_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    arguments = [gateway_url, "--api", name.split("_")[0], "--workers", "4", "--event-timeout", "5"]
    bodies = payload_arguments(tmp_path, NEEDS_PAYLOADS.get(name, set()))
    if name == "tmf676_payment":
        # The checks run in parallel: a refund may come before any payment has left the account credit.
        paid = requests.post(
            f"{gateway_url}/tmf-api/paymentManagement/v4/payment", json=PAYLOADS["payment"], timeout=10
        )
        assert paid.status_code == 201, paid.text
    code = main([*arguments, "--json", str(report), *bodies])
    out = capsys.readouterr().out
    failures = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert code == 0, "\n".join(failures)
    (api,) = json.loads(report.read_text())["apis"]
    assert api["summary"]["failed"] == 0 and api["summary"]["passed"] >= SERVED_SPECS[name]
    assert api["seconds"] < 60  # the bound for one API against a local tmfgate
    if name == "tmf622_product_ordering":
        passed = {r["name"] for r in api["results"] if r["status"] == "PASS"}
        assert {"hub.notifications.envelope[productOrder]", "methods.allow-header[productOrder]"} <= passed


def test_api_all_discovers_every_api_the_gateway_lists(gateway_url: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code = main([gateway_url, "--api", "all", "--family", "root", "--json", str(report)])
    apis = json.loads(report.read_text())["apis"]
    listed = requests.get(gateway_url + "/", timeout=5).json()
    assert code == 0
    assert {a["name"] for a in apis} == {e["id"] for e in listed if e["version"].startswith("4")}
    assert all(a["spec"].endswith("/openapi.json") and a["summary"]["passed"] == 1 for a in apis)


def test_version_5_discovers_every_v5_api_the_gateway_lists(gateway_url: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code = main([gateway_url, "--api", "all", "--version", "5", "--family", "root", "--json", str(report)])
    apis = json.loads(report.read_text())["apis"]
    listed = requests.get(gateway_url + "/", timeout=5).json()
    assert code == 0
    assert {a["name"] for a in apis} == {e["id"] for e in listed if e["version"].startswith("5")}
    assert len(apis) == len(SERVED_V5)


def test_spec_by_url(gateway_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = f"{gateway_url}/tmf-api/resourceInventoryManagement/v4/openapi.json"
    assert main([gateway_url, "--spec", spec, "--family", "lifecycle"]) == 0
    assert "PASS lifecycle.create[resource]" in capsys.readouterr().out


def _recording(gateway: str) -> tuple[Proxy, list[str]]:
    methods: list[str] = []

    def record(request: Request) -> Request:
        methods.append(request[0])
        return request

    return Proxy(gateway, [], record), methods


def test_read_only_sends_nothing_but_gets(gateway_url: str, tmp_path: Path) -> None:
    main([gateway_url, "--api", "tmf639", "--family", "lifecycle", "--workers", "1"])  # data to read
    proxy, methods = _recording(gateway_url)
    try:
        report = tmp_path / "report.json"
        code = main([proxy.url, "--api", "tmf639", "--read-only", "--json", str(report)])
    finally:
        proxy.close()
    results = json.loads(report.read_text())["apis"][0]["results"]
    assert code == 0 and methods and set(methods) == {"GET"}
    ran = {r["name"] for r in results if r["status"] == "PASS"}
    assert {"queries.list[resource]", "paging.consistent[resource]", "links.hrefs[resource]"} <= ran
    assert all("read-only" in r["detail"] for r in results if r["name"].startswith("lifecycle."))


def _count(gateway: str) -> int:
    answer = requests.get(f"{gateway}/tmf-api/resourceInventoryManagement/v4/resource?limit=1", timeout=5)
    return int(answer.headers["X-Total-Count"])


def test_what_a_run_creates_is_deleted_unless_kept(gateway_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = _count(gateway_url)
    assert main([gateway_url, "--api", "tmf639", "--family", "lifecycle,queries,patch"]) == 0
    assert _count(gateway_url) == before
    assert "cleanup: deleted" in capsys.readouterr().out
    assert main([gateway_url, "--api", "tmf639", "--family", "lifecycle", "--keep"]) == 0
    kept = _count(gateway_url) - before
    # lifecycle.delete deletes what it created itself; the rest stays, listed as kept.
    assert kept > 0 and f"left {kept + 1} (kept by --keep)" in capsys.readouterr().out
