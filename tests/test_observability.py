"""The core's own paths (/metrics, /health/live, /health/ready) and each request counted, timed and logged."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.clients import in_process
from tests.backends.contract.support import fan_out_all, to
from tests.conftest import RunningGateway, free_port
from tmfgate.observability import ObservabilityMiddleware
from tmfgate.settings import Settings

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
ORDER = {
    "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "po-fibre-500"}}],
    "relatedParty": [{"id": "cust-1", "role": "customer", "@referredType": "Individual"}],
}


def test_requests_are_counted_by_api_operation_and_status_and_metrics_answer_loopback(tmp_path: Path) -> None:
    with RunningGateway(f"sqlite:///{tmp_path}/store.db", fulfilment=False) as running:
        assert httpx.post(running.url + ORDERS, json=ORDER).status_code == 201
        assert httpx.get(running.url + ORDERS + "/none").status_code == 404
        assert httpx.get(running.url + "/nowhere").status_code == 404
        answer = httpx.get(running.url + "/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    lines = answer.text.splitlines()
    api = 'api="tmf622_product_ordering"'
    assert f'tmfgate_requests_total{{{api},operation="createProductOrder",status="201"}} 1.0' in lines
    assert f'tmfgate_requests_total{{{api},operation="retrieveProductOrder",status="404"}} 1.0' in lines
    assert 'tmfgate_requests_total{api="none",operation="none",status="404"} 1.0' in lines
    assert f'tmfgate_request_duration_seconds_count{{{api},operation="createProductOrder"}} 1.0' in lines
    assert 'tmfgate_deliveries{state="pending"} 0.0' in lines
    assert any(line.startswith('tmfgate_db_pool_connections{use="idle"} ') for line in lines)


def test_health_answers_anyone_and_metrics_only_the_operator_s_clients() -> None:
    with in_process("memory://", fulfilment=False) as client:  # the test client's address is no IP
        assert isinstance(client.app.app, ObservabilityMiddleware)
        live, ready = client.get("/health/live"), client.get("/health/ready")
        assert (live.status_code, live.json()) == (200, {"status": "live"})
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        refused = client.get("/metrics")
        assert refused.status_code == 403 and "TMFGATE_ADMIN_HOSTS" in json.dumps(refused.json())
        assert client.post("/health/live").status_code == 404  # only read: other methods reach the APIs' 404


def test_each_can_be_turned_off() -> None:
    with in_process("memory://", fulfilment=False, metrics=False, health=False) as client:
        assert not isinstance(client.app.app, ObservabilityMiddleware)
        assert client.get("/health/live").status_code == 404
        assert client.get("/metrics").status_code == 404
        assert client.get(ORDERS).status_code == 200


def test_json_logs_have_a_line_per_request_with_its_correlation_id(capfd: pytest.CaptureFixture[str]) -> None:
    settings = {"fulfilment": False, "metrics": False, "log_format": "json", "dispatcher": False}
    with in_process("memory://", **settings) as client:
        capfd.readouterr()
        client.post(ORDERS, json=ORDER, headers={"X-Correlation-ID": "corr-7"})
        created = client.post(ORDERS, json=ORDER)
        assert created.status_code == 201
        assert client.get(ORDERS + "/" + created.json()["id"]).status_code == 200
        written = capfd.readouterr().err.splitlines()
        backend = client.gateway.backend
        client.run(fan_out_all, backend, to("s1"))  # the events the orders wrote, as a subscriber gets them
        bodies = [json.loads(delivery.event.body) for delivery in client.run(lambda: backend.deliveries(limit=10))]
    lines = [line for line in map(json.loads, written) if line["logger"] == "tmfgate.requests"]
    assert len(lines) == 3
    first, second, third = lines
    assert (first["correlation_id"], first["api"], first["operation"], first["status"]) == (
        "corr-7",
        "tmf622_product_ordering",
        "createProductOrder",
        201,
    )
    assert first["duration_ms"] > 0
    assert second["correlation_id"] not in ("", "corr-7") and second["correlation_id"] != third["correlation_id"]
    assert third["operation"] == "retrieveProductOrder"
    assert [body["correlationId"] for body in bodies] == ["corr-7", second["correlation_id"]]


def test_text_logs_or_a_level_above_info_leave_no_request_line(capfd: pytest.CaptureFixture[str]) -> None:
    for settings in ({"log_format": "text"}, {"log_format": "json", "log_level": "warning"}):
        with in_process("memory://", fulfilment=False, **settings) as client:
            capfd.readouterr()
            assert client.get(ORDERS).status_code == 200
            assert "tmfgate.requests" not in capfd.readouterr().err


def test_a_dispatcher_serves_its_delivery_and_outbox_metrics_on_its_metrics_port(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/store.db"
    port = free_port()
    with in_process(database, dispatcher=False) as client:  # the order's fulfilment is left to the dispatcher
        item = {"id": "1", "action": "add", "productOffering": {"id": "po-fibre-500"}}
        made = client.post("/tmf-api/productOrderingManagement/v4/productOrder", json={"productOrderItem": [item]})
        assert made.status_code == 201, made.text
    command = [sys.executable, "-m", "tmfgate", "dispatch", "--database-url", database, "--metrics-port", str(port)]
    with (tmp_path / "dispatch.out").open("wb") as output:
        dispatcher = subprocess.Popen(command, cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:  # until the dispatcher answers and has run the gateway's reactions to the event
            assert dispatcher.poll() is None, (tmp_path / "dispatch.out").read_text()
            try:
                text = httpx.get(f"{url}/metrics", timeout=5).text
            except httpx.TransportError:
                text = ""
            if 'tmfgate_delivery_outcomes_total{kind="reaction",outcome="delivered"}' in text:
                break
            assert time.monotonic() < deadline, text or (tmp_path / "dispatch.out").read_text()
            time.sleep(0.2)
        assert 'tmfgate_deliveries{state="delivered"}' in text and "tmfgate_outbox_oldest_pending_seconds" in text
        assert "tmfgate_reactions_total" in text and "tmfgate_requests_total{" not in text  # it serves no API
        assert httpx.get(f"{url}/health/ready", timeout=5).status_code == 200
        other = httpx.get(f"{url}/tmf-api/customerManagement/v4/customer", timeout=5)
        assert other.status_code == 404 and "serves /metrics only" in other.text
        dispatcher.send_signal(signal.SIGTERM)
        assert dispatcher.wait(timeout=30) == 0
    finally:
        if dispatcher.poll() is None:
            dispatcher.kill()
    assert "Traceback" not in (tmp_path / "dispatch.out").read_text()


def test_a_metrics_port_taken_already_stops_the_dispatcher_saying_so(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "tmfgate", "dispatch", "--database-url", f"sqlite:///{tmp_path}/s.db"]
            + ["--metrics-port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0 and f"--metrics-port 127.0.0.1:{port} cannot be listened on" in done.stderr


@pytest.mark.parametrize(
    ("raw", "address"),
    [("9464", "127.0.0.1:9464"), ("0.0.0.0:9464", "0.0.0.0:9464"), ("[::1]:80", "::1:80"), ("none", "")],
)
def test_a_metrics_port_is_a_port_or_host_and_port(raw: str, address: str) -> None:
    assert Settings.metrics_port.parse(raw) == address


@pytest.mark.parametrize("raw", ["0", "70000", "host:", "a b:80", "http://x:80"])
def test_a_metrics_port_that_is_none_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="must be a port"):
        Settings.metrics_port.parse(raw)
