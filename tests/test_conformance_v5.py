"""``--version 5`` against a small v5 server (TMF639 v5 resources and hub) whose defects can be switched on.

The fixture server lists its API at ``/``, serves its spec (which refers to ``tmf_common.yaml``) for
discovery, stores resources by ``@type`` subclass and notifies hubs with v5 events. Two of its defects
can be switched on to see the v5 checks fail: subclasses stored as the base class, events without @type.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from conformance.cli import main
from tests.conformance_support import ROOT

BASE = "/tmf-api/resourceInventory/v5"
SPECS = ROOT / "specs" / "v5"
SUBCLASSES = ("LogicalResource", "PhysicalResource", "SoftwareResource", "ResourceFunction")


class V5Server:
    """An in-memory TMF639 v5 server on a free port; ``defects`` names what it gets wrong."""

    def __init__(self, defects: frozenset[str] = frozenset()) -> None:
        self.defects = defects
        self.resources: dict[str, dict[str, Any]] = {}
        self.hubs: dict[str, dict[str, Any]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.get(self)

            def do_POST(self) -> None:
                server.post(self)

            def do_DELETE(self) -> None:
                server.delete(self)

            def do_PUT(self) -> None:
                server.error(self, 405, "Method not allowed")

            do_PATCH = do_PUT

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(timeout=5)

    def send(self, handler: BaseHTTPRequestHandler, status: int, body: Any = None, **headers: str) -> None:
        data = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def error(self, handler: BaseHTTPRequestHandler, status: int, reason: str) -> None:
        self.send(handler, status, {"code": str(status), "reason": reason, "status": str(status), "@type": "Error"})

    def get(self, handler: BaseHTTPRequestHandler) -> None:
        raw, _, query = handler.path.partition("?")
        path = raw.rstrip("/")
        if path == BASE and "redirect loop" in self.defects:
            target = BASE if raw.endswith("/") else BASE + "/"
            return self.send(handler, 301, None, Location=self.url + target)
        if path == "":
            self.send(handler, 200, [{"id": "tmf639", "name": "TMF639", "version": "5.0.0", "href": self.url + BASE}])
        elif path == BASE:
            self.send(handler, 200, {"resources": ["resource"], "openapi": f"{self.url}{BASE}/openapi.yaml"})
        elif path in (f"{BASE}/openapi.yaml", f"{BASE}/tmf_common.yaml"):
            name = "tmf639_resource_inventory.yaml" if path.endswith("openapi.yaml") else "tmf_common.yaml"
            self.send(handler, 200, (SPECS / name).read_bytes())
        elif path == f"{BASE}/resource":
            wanted = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
            found = [r for r in self.resources.values() if all(str(r.get(k)) == v for k, v in wanted.items())]
            self.send(handler, 200, found, **{"X-Total-Count": str(len(found)), "X-Result-Count": str(len(found))})
        elif path.startswith(f"{BASE}/resource/") and path.rsplit("/", 1)[1] in self.resources:
            resource = self.resources[path.rsplit("/", 1)[1]]
            etag = f'"{abs(hash(json.dumps(resource, sort_keys=True)))}"'
            if handler.headers.get("If-None-Match") == etag and "etag ignored" not in self.defects:
                return self.send(handler, 304, None, ETag=etag)
            self.send(handler, 200, resource, ETag=etag)
        else:
            self.error(handler, 404, "Resource not found")

    def post(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0].rstrip("/")
        try:
            body = json.loads(handler.rfile.read(int(handler.headers.get("Content-Length") or 0)))
        except ValueError:
            return self.error(handler, 400, "Invalid body")
        if path == f"{BASE}/hub":
            if not str(body.get("callback", "")).startswith("http"):
                return self.error(handler, 400, "callback must be an absolute URL")
            hub = {**body, "id": uuid.uuid4().hex, "@type": "Hub"}
            self.hubs[hub["id"]] = hub
            return self.send(handler, 201, hub, Location=f"{self.url}{BASE}/hub/{hub['id']}")
        if path != f"{BASE}/resource":
            return self.error(handler, 404, "Resource not found")
        if body.get("@type") not in SUBCLASSES:
            return self.error(handler, 400, f"@type must be one of {', '.join(SUBCLASSES)}")
        id = uuid.uuid4().hex
        stored = {**body, "id": id, "href": f"{self.url}{BASE}/resource/{id}"}
        if "subclass as base" in self.defects:
            stored["@type"] = "Resource"
        self.resources[id] = stored
        self.send(handler, 201, stored, Location=stored["href"])
        self.notify("ResourceCreateEvent", stored)

    def delete(self, handler: BaseHTTPRequestHandler) -> None:
        head, _, id = handler.path.split("?")[0].rstrip("/").rpartition("/")
        table: dict[str, dict[str, Any]] = {f"{BASE}/resource": self.resources, f"{BASE}/hub": self.hubs}.get(head, {})
        if id not in table:
            return self.error(handler, 404, "Resource not found")
        gone = table.pop(id)
        self.send(handler, 204)
        if head.endswith("/resource"):
            self.notify("ResourceDeleteEvent", {"id": id, "href": gone["href"], "@type": gone["@type"]})

    def notify(self, kind: str, resource: dict[str, Any]) -> None:
        event = {"eventId": uuid.uuid4().hex, "eventTime": "2031-01-01T00:00:00Z", "eventType": kind}
        event |= {"event": {"resource": resource}}
        if "events without @type" not in self.defects:
            event |= {"@type": kind, "@baseType": "Event"}
        for hub in list(self.hubs.values()):
            query = str(hub.get("query") or "")
            if not query or kind in query.removeprefix("eventType=").split(","):
                requests.post(hub["callback"], json=event, timeout=5).close()


@pytest.fixture
def v5() -> Iterator[V5Server]:
    server = V5Server()
    try:
        yield server
    finally:
        server.close()


FAMILIES = [
    "--family",
    "root,lifecycle,polymorphism,etag,hub",
    "--skip",
    "hub.notifications.change-event,etag.if-match",
]


def _results(path: Any) -> dict[str, dict[str, Any]]:
    (api,) = json.loads(path.read_text())["apis"]
    return {r["name"]: r for r in api["results"]}


def test_a_v5_server_passes_with_the_shipped_v5_spec(v5: V5Server, tmp_path: Any) -> None:
    report = tmp_path / "r.json"
    code = main([v5.url, "--api", "tmf639", "--version", "5", *FAMILIES, "--event-timeout", "3", "--json", str(report)])
    results = _results(report)
    assert code == 0, [r for r in results.values() if r["status"] == "FAIL"]
    passed = {name for name, r in results.items() if r["status"] == "PASS"}
    wanted = {"polymorphism.subtypes[resource]", "hub.notifications.envelope[resource]", "etag.if-none-match[resource]"}
    assert wanted | {"hub.subscribe", "root.api-root"} <= passed
    assert "LogicalResource, PhysicalResource, SoftwareResource" in results["polymorphism.subtypes[resource]"]["detail"]
    assert "v5 envelope" in results["hub.notifications.envelope[resource]"]["detail"]
    assert not v5.resources  # every resource the run created was deleted


def test_api_all_discovers_the_v5_api_and_fetches_its_spec_with_what_it_refers_to(v5: V5Server, tmp_path: Any) -> None:
    report = tmp_path / "r.json"
    assert main([v5.url, "--api", "all", "--version", "5", "--family", "root,lifecycle", "--json", str(report)]) == 0
    (api,) = json.loads(report.read_text())["apis"]
    assert api["name"] == "tmf639" and api["spec"] == f"{v5.url}{BASE}/openapi.yaml"
    assert api["summary"]["failed"] == 0 and api["summary"]["passed"] >= 4
    report4 = tmp_path / "r4.json"
    assert main([v5.url, "--api", "all", "--json", str(report4)]) == 0
    assert "serves no v4 API (it lists v5)" in json.loads(report4.read_text())["apis"][0]["results"][0]["detail"]


@pytest.mark.parametrize(
    ("defect", "check", "words"),
    [
        ("subclass as base", "polymorphism.subtypes[resource]", "@type came back 'Resource'"),
        ("events without @type", "hub.notifications.envelope[resource]", "@type must be 'ResourceCreateEvent'"),
        ("etag ignored", "etag.if-none-match[resource]", "expected 304 with no body, got 200"),
        ("redirect loop", "root.api-root", "redirect loop"),
    ],
)
def test_v5_defects_fail_their_checks(defect: str, check: str, words: str, tmp_path: Any) -> None:
    server = V5Server(frozenset({defect}))
    try:
        report = tmp_path / "r.json"
        code = main(
            [server.url, "--api", "tmf639", "--version", "5", *FAMILIES, "--event-timeout", "3", "--json", str(report)]
        )
    finally:
        server.close()
    result = _results(report)[check]
    assert code == 1 and result["status"] == "FAIL" and words in result["detail"], result
