"""An upstream that fails: timeouts, refusals, nonsense, 5xx; retries of idempotent calls only; the breaker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import RunningGateway, free_port, in_thread

BASE = "/tmf-api/resourceInventoryManagement/v4"


class FaultyUpstream:
    """A TMF639 upstream on loopback that answers as ``mode`` says, counting the calls it gets."""

    def __init__(self, port: int | None = None) -> None:
        import uvicorn

        self.mode = "ok"
        self.calls: Counter[str] = Counter()
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}{BASE}"
        app = Starlette(routes=[Route(BASE + "/{path:path}", self.answer, methods=["GET", "POST", "PATCH", "DELETE"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))

    async def answer(self, request: Request) -> Response:
        if request.url.path.endswith("/hub"):  # an upstream without a hub: the gateway's subscription fails
            return JSONResponse({"code": "60", "reason": "Not found", "message": "no hub"}, 404)
        self.calls[request.method] += 1
        href = f"{self.url}/resource/r1"
        if self.mode == "slow":
            await asyncio.sleep(2)
        if self.mode == "fail" or (self.mode == "fail-writes" and request.method != "GET"):
            return JSONResponse({"code": "1", "reason": "Internal", "message": "db down"}, status_code=500)
        if self.mode == "refuse":
            return JSONResponse({"code": "42", "reason": "Unprocessable", "message": "the OSS says no"}, 422)
        if self.mode == "unsupported":
            return JSONResponse({"code": "1", "reason": "Not implemented", "message": "no sort here"}, 501)
        if self.mode == "no-sort" and ("sort" in request.query_params or request.query_params.get("name") == "?"):
            return JSONResponse({"code": "21", "reason": "Bad query", "message": "sort is not a filter"}, 400)
        if self.mode == "no-sort" and request.method == "DELETE":
            return JSONResponse({"code": "1", "reason": "Not allowed", "message": "no deletes"}, 405)
        if self.mode == "malformed":
            return Response(b"<html>oops</html>", media_type="text/html")
        resource: dict[str, Any] = {"id": "r1", "href": href, "name": "olt", "@type": "LogicalResource"}
        if self.mode == "nonconforming":
            resource["name"] = 42
        if self.mode == "no-id":
            resource.pop("id")
        if request.url.path.endswith("/resource"):
            if request.method == "POST":
                return JSONResponse(resource, 201, headers={"location": href})
            return JSONResponse([resource], headers={"x-total-count": "1", "x-result-count": "1"})
        return JSONResponse(resource)


@pytest.fixture
def upstream() -> Iterator[FaultyUpstream]:
    faulty = FaultyUpstream()
    with in_thread(faulty.server):
        yield faulty


def gateway_for(url: str, folder: Path, **settings: Any) -> RunningGateway:
    config = folder / "tmfgate.yaml"
    config.write_text(f"apis:\n  tmf639: {{upstream: {{url: '{url}'}}}}\n")
    options = {"upstream_timeout": 0.5, "upstream_breaker_reset": 0.5, **settings}
    return RunningGateway("memory://", config=str(config), fulfilment=False, **options)


def get(gateway: RunningGateway, path: str = "/resource/r1") -> requests.Response:
    return requests.get(gateway.url + BASE + path, timeout=10)


def post(gateway: RunningGateway) -> requests.Response:
    return requests.post(gateway.url + BASE + "/resource", json={"name": "olt"}, timeout=10)


def test_answers_are_rewritten_to_the_gateway(upstream: FaultyUpstream, tmp_path: Path) -> None:
    with gateway_for(upstream.url, tmp_path) as gateway:
        assert get(gateway).json()["href"] == f"{gateway.url}{BASE}/resource/r1"
        assert post(gateway).headers["location"] == f"{gateway.url}{BASE}/resource/r1"


@pytest.mark.parametrize(
    ("mode", "status", "words"),
    [
        ("slow", 504, "did not answer GET /resource/r1 within 0.5 s"),
        ("malformed", 502, "with what is not JSON"),
        ("no-id", 502, "a resource that has no id"),
        ("fail", 502, "failed GET /resource/r1 with 500: db down"),
        ("refuse", 422, "the OSS says no"),
        ("unsupported", 501, "no sort here"),
    ],
)
def test_a_failing_upstream_is_a_tmf_error_with_the_reason(
    upstream: FaultyUpstream, tmp_path: Path, mode: str, status: int, words: str
) -> None:
    upstream.mode = mode
    with gateway_for(upstream.url, tmp_path, upstream_retries=0) as gateway:
        response = get(gateway)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["@type"] == "Error" and body["status"] == str(status) and words in body["message"]


def test_a_sort_or_an_operation_the_upstream_cannot_do_is_a_501(upstream: FaultyUpstream, tmp_path: Path) -> None:
    upstream.mode = "no-sort"
    with gateway_for(upstream.url, tmp_path, upstream_retries=0) as gateway:
        sorted_list = get(gateway, "/resource?sort=-name")
        unsorted = get(gateway, "/resource?name=olt")
        deleted = requests.delete(gateway.url + BASE + "/resource/r1", timeout=10)
        refused = get(gateway, "/resource?sort=name&name=%3F")  # refused without its sort too
    assert sorted_list.status_code == 501, sorted_list.text
    body = sorted_list.json()
    assert body["@type"] == "Error" and "cannot sort resource by -name: sort is not a filter" in body["message"]
    assert unsorted.status_code == 200 and [r["name"] for r in unsorted.json()] == ["olt"]
    assert deleted.status_code == 501 and "no deletes" in deleted.json()["message"]
    assert refused.status_code == 400 and refused.json()["message"] == "sort is not a filter"


def test_a_refused_connection_is_a_502(tmp_path: Path) -> None:
    with gateway_for(f"http://127.0.0.1:{free_port()}{BASE}", tmp_path, upstream_breaker_reset=0.01) as gateway:
        time.sleep(0.05)  # past the breaker tripped at start, so this call is its trial
        response = get(gateway)
    assert response.status_code == 502 and "cannot be reached" in response.json()["message"]


def test_only_idempotent_calls_are_retried(upstream: FaultyUpstream, tmp_path: Path) -> None:
    with gateway_for(upstream.url, tmp_path, upstream_retries=2, upstream_breaker=100) as gateway:
        upstream.mode, started = "fail", upstream.calls["GET"]
        assert get(gateway).status_code == 502
        assert upstream.calls["GET"] - started == 3
        upstream.mode = "fail-writes"
        assert post(gateway).status_code == 502
        assert requests.delete(gateway.url + BASE + "/resource/r1", timeout=10).status_code == 502
    assert (upstream.calls["POST"], upstream.calls["DELETE"]) == (1, 3)


def test_the_breaker_answers_503_with_retry_after_and_closes_by_itself(
    upstream: FaultyUpstream, tmp_path: Path
) -> None:
    upstream.mode = "fail"
    with gateway_for(upstream.url, tmp_path, upstream_retries=0, upstream_breaker=2, upstream_breaker_reset=1) as gw:
        assert [get(gw).status_code for _ in range(2)] == [502, 502]
        calls = upstream.calls["GET"]
        down = get(gw)
        assert down.status_code == 503 and down.headers["retry-after"] == "1"
        assert upstream.calls["GET"] == calls  # refused without calling the upstream
        upstream.mode = "ok"
        time.sleep(1.1)
        assert get(gw).status_code == 200
        assert get(gw).status_code == 200


def test_an_upstream_unreachable_at_start_is_one_log_line_then_503_until_it_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    with caplog.at_level(logging.WARNING, logger="tmfgate.upstream"):
        gateway = gateway_for(f"http://127.0.0.1:{port}{BASE}", tmp_path, upstream_breaker_reset=1)
        with gateway:
            lines = [r.getMessage() for r in caplog.records if r.name == "tmfgate.upstream"]
            assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "unreachable" in lines[0]
            response = get(gateway)
            assert response.status_code == 503 and "retry-after" in response.headers
            back = FaultyUpstream(port)
            with in_thread(back.server):
                time.sleep(1.1)
                assert get(gateway).status_code == 200


@pytest.mark.parametrize(("policy", "status"), [("log", 200), ("refuse", 502)])
def test_a_nonconforming_answer_is_logged_or_refused(
    upstream: FaultyUpstream, tmp_path: Path, caplog: pytest.LogCaptureFixture, policy: str, status: int
) -> None:
    upstream.mode = "nonconforming"
    with (
        caplog.at_level(logging.WARNING, logger="tmfgate.upstream"),
        gateway_for(upstream.url, tmp_path, upstream_answers=policy) as gateway,
    ):
        response = get(gateway)
    assert response.status_code == status
    assert any("/resource/r1" in r.getMessage() and "name" in r.getMessage() for r in caplog.records)


def test_an_upstream_without_a_hub_leaves_the_events_to_the_gateway(upstream: FaultyUpstream, tmp_path: Path) -> None:
    from tests.listeners import ListenerProcess

    with gateway_for(upstream.url, tmp_path) as gateway, ListenerProcess(tmp_path / "listener.jsonl") as listener:
        hub = requests.post(gateway.url + BASE + "/hub", json={"callback": listener.callback}, timeout=10)
        assert hub.status_code == 201, hub.text
        assert post(gateway).status_code == 201
        got = listener.wait_for(lambda d: len(d) >= 1)
        assert got[0]["body"]["eventType"] == "ResourceCreateEvent"
        assert got[0]["body"]["event"]["resource"]["href"] == f"{gateway.url}{BASE}/resource/r1"
