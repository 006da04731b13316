"""The core's own paths (/metrics, /health/live, /health/ready) and each request counted, timed and logged."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.api.clients import in_process
from tests.backends.contract.support import fan_out_all, to
from tests.conftest import RunningGateway
from tmfgate.observability import ObservabilityMiddleware

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
