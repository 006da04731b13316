"""Calls and jobs in, replies out: hrefs as the client reached the gateway, correlation ids, reply shapes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from backends.base import Event
from tmfgate import codec, model, specs
from tmfgate.calls import BODY, MEDIA_TYPE, Call, Job, Reply
from tmfgate.errors import Conflict
from tmfgate.gateway import Gateway
from tmfgate.settings import Settings

API = model.build(specs.load(specs.specs_dir() / "tmf622_product_ordering.yaml"))
GATEWAY = Gateway(Settings(database_url="memory://"), [API])
BASE = "/tmf-api/productOrderingManagement/v4"


def call(headers: list[tuple[bytes, bytes]], **scope: Any) -> Call:
    whole = {"headers": headers, "path_params": {"id": "42"}, **scope}
    return Call(GATEWAY, API, API.operations["retrieveProductOrder"], whole)


def test_a_call_builds_hrefs_from_the_host_and_scheme_the_client_used() -> None:
    reached = call([(b"host", b"gw.example:8443")], scheme="https", root_path="/edge")
    assert reached.base_url() == f"https://gw.example:8443/edge{BASE}"
    assert reached.href("productOrder", "7") == f"https://gw.example:8443/edge{BASE}/productOrder/7"
    assert call([], server=("10.0.0.1", 8080)).href("x", "1") == f"http://10.0.0.1:8080{BASE}/x/1"
    assert reached.id == "42" and reached.resource.kind == "productOrder"


def test_the_correlation_id_is_the_client_s_or_one_of_its_own() -> None:
    assert call([(b"x-correlation-id", b"abc")]).correlation_id == "abc"
    assert call([(b"x-request-id", b"r" * 300)]).correlation_id == "r" * 200
    mine = call([])
    assert mine.correlation_id == mine.correlation_id and len(mine.correlation_id) >= 16


def test_body_media_type_and_query_come_from_the_scope() -> None:
    reached = call([], **{BODY: {"a": 1}, MEDIA_TYPE: "application/json", "query_string": b"state=x"})
    assert (reached.body, reached.media_type, reached.query_string) == ({"a": 1}, "application/json", "state=x")


def test_replies() -> None:
    assert Reply.json(200, {"a": 1}) == Reply(200, b'{"a":1}', [])
    created = Reply.created(b"{}", "http://h/x/1")
    assert created.status == 201 and created.headers == [(b"location", b"http://h/x/1")]
    error = Reply.error(Conflict("No."))
    assert error.status == 409 and codec.loads(error.body or b"")["message"] == "No."


def test_a_job_carries_the_event_s_resource_and_correlation_id() -> None:
    body = {"correlationId": "c-1", "event": {"productOrder": {"id": "o1", "state": "completed"}}}
    event = Event(
        id="e1",
        api=API.name,
        kind="productOrder",
        resource_id="o1",
        type="ProductOrderStateChangeEvent",
        time=dt.datetime.now(dt.UTC),
        head=codec.dumps(body),
    )
    job = Job.of(GATEWAY, event)
    assert job.correlation_id == "c-1" and job.document == {"id": "o1", "state": "completed"}
    assert Job(GATEWAY, event, {}).correlation_id == "e1"
