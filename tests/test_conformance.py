"""The conformance tool: its spec reader and payload builder, and a full run against the real gateway."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from conformance.checks import FAMILIES, ApiCheck
from conformance.cli import main
from conformance.listener import Listener
from conformance.openapi import Documents, flatten
from conformance.payloads import build_payload, referred_type_value, type_value
from conformance.report import Report, Result, Status
from conformance.runner import excluded, run_one, selected
from conformance.spec import Api, load_api

ROOT = Path(__file__).resolve().parents[1]
TMF622 = ROOT / "specs" / "tmf622_product_ordering.yaml"


@pytest.fixture(scope="module")
def api() -> Api:
    return load_api(TMF622)


# --- spec reader -------------------------------------------------------------------------------------


def test_reader_finds_the_tmf622_resources_and_hub(api: Api) -> None:
    assert {r.name for r in api.resources} == {"productOrder", "cancelProductOrder"}
    assert api.hub_path == "/hub"
    assert api.server_url == "/tmf-api/productOrderingManagement/v4"
    assert api.type_required is False  # a v4 spec: @type is optional


def test_reader_knows_which_operations_exist(api: Api) -> None:
    order, cancel = api.resource("productOrder"), api.resource("cancelProductOrder")
    assert order.item_path == "/productOrder/{id}"
    assert {"get", "patch", "delete"} <= order.item_methods and "put" not in order.item_methods
    assert not order.is_task
    assert cancel.item_methods == {"get"} and cancel.is_task
    assert "application/merge-patch+json" in order.patch_media_types


def test_reader_names_classes_and_taggable_attributes(api: Api) -> None:
    order = api.resource("productOrder")
    assert order.class_name == "ProductOrder" and order.lower_camel() == "productOrder"
    assert order.string_attrs[0] == "description"
    assert "externalId" in order.string_attrs and "state" not in order.string_attrs
    assert order.date_attrs[0].startswith("requested")
    assert api.resource("cancelProductOrder").class_name == "CancelProductOrder"


def test_reader_follows_refs_into_tmf_common(api: Api) -> None:
    error = flatten(api.docs, {"$ref": f"{TMF622.parent.resolve() / 'tmf_common.yaml'}#/components/schemas/Error"})
    assert error["required"] == ["code", "reason"]
    create = flatten(api.docs, api.resource("productOrder").create_schema)
    assert "productOrderItem" in create["required"]
    item = flatten(api.docs, create["properties"]["productOrderItem"]["items"])
    assert {"id", "action"} <= set(item["required"])


def test_api_root_appends_the_server_path_only_to_a_bare_host(api: Api) -> None:
    assert api.api_root("http://h:1") == "http://h:1/tmf-api/productOrderingManagement/v4"
    assert api.api_root("http://h:1/") == "http://h:1/tmf-api/productOrderingManagement/v4"
    assert api.api_root("http://h:1/custom/v4/") == "http://h:1/custom/v4"


# --- payload builder ---------------------------------------------------------------------------------


def test_tmf622_order_payload_holds_the_required_attributes(api: Api) -> None:
    order = api.resource("productOrder")
    payload = build_payload(api.docs, order.create_schema, order.class_name)
    assert payload["@type"] == "ProductOrder"
    items = payload["productOrderItem"]
    assert len(items) == 1 and isinstance(items[0]["id"], str)
    action_enum = flatten(api.docs, flatten(api.docs, order.create_schema)["properties"]["productOrderItem"]["items"])
    assert items[0]["action"] in flatten(api.docs, action_enum["properties"]["action"])["enum"]
    assert set(payload) == {"productOrderItem", "@type"}  # nothing a server sets (state, orderDate...)


def test_tmf622_cancel_payload_refers_to_an_order(api: Api) -> None:
    cancel = api.resource("cancelProductOrder")
    payload = build_payload(api.docs, cancel.create_schema, cancel.class_name)
    assert isinstance(payload["productOrder"]["id"], str)
    assert payload["@type"] == "CancelProductOrder"


SYNTHETIC = """
openapi: 3.0.3
info: {title: Synthetic, version: "1"}
servers: [{url: /api/v1}]
paths:
  /thing:
    get: {responses: {"200": {description: ok}}}
    post:
      requestBody:
        content:
          application/json: {schema: {$ref: "#/components/schemas/Thing_FVO"}}
      responses: {"201": {description: created}}
components:
  schemas:
    Thing_FVO:
      allOf:
        - $ref: "other.yaml#/components/schemas/Extensible"
        - type: object
          required: [kind, when, day, link, count, flag, party, parts, choice, owner]
          properties:
            kind: {type: string, enum: [big, small]}
            when: {type: string, format: date-time}
            day: {type: string, format: date}
            link: {type: string, format: uri}
            count: {type: integer, minimum: 3}
            flag: {type: boolean}
            party: {$ref: "#/components/schemas/PartyRef"}
            parts: {type: array, minItems: 2, items: {$ref: "#/components/schemas/Part_FVO"}}
            choice:
              oneOf:
                - {$ref: "#/components/schemas/Part_FVO"}
                - {$ref: "#/components/schemas/PartyRef"}
            owner: {$ref: "#/components/schemas/OwnerRef"}
            optional: {type: string}
      discriminator:
        propertyName: "@type"
        mapping: {Thing: "#/components/schemas/Thing_FVO"}
    OwnerRef:
      type: object
      properties:
        id: {type: string}
        name: {type: string}
    PartyRef:
      type: object
      required: [id, "@referredType"]
      properties:
        id: {type: string}
        "@referredType": {type: string}
    Part_FVO:
      allOf:
        - $ref: "other.yaml#/components/schemas/Extensible"
        - type: object
          required: [id, name, sub]
          properties:
            id: {type: string}
            name: {type: string, minLength: 20}
            sub: {$ref: "#/components/schemas/Part_FVO"}
      discriminator:
        propertyName: "@type"
        mapping: {Part: "#/components/schemas/Part_FVO"}
"""

OTHER = """
openapi: 3.0.3
info: {title: Common, version: "1"}
paths: {}
components:
  schemas:
    Extensible:
      type: object
      required: ["@type"]
      properties:
        "@type": {type: string}
"""


@pytest.fixture
def synthetic(tmp_path: Path) -> Api:
    (tmp_path / "other.yaml").write_text(OTHER)
    (tmp_path / "thing.yaml").write_text(SYNTHETIC)
    return load_api(tmp_path / "thing.yaml")


def test_builder_follows_schema_rules(synthetic: Api) -> None:
    thing = synthetic.resource("thing")
    payload = build_payload(synthetic.docs, thing.create_schema)
    assert payload["@type"] == "Thing"  # the discriminator name, not the schema name Thing_FVO
    assert payload["kind"] == "big"
    assert payload["when"].endswith("Z") and "T" in payload["when"]
    assert len(payload["day"]) == 10
    assert payload["link"].startswith("https://")
    assert payload["count"] == 3 and payload["flag"] is True
    assert payload["party"]["@referredType"] == "Individual" and isinstance(payload["party"]["id"], str)
    assert len(payload["parts"]) == 2
    assert payload["parts"][0]["@type"] == "Part" and len(payload["parts"][0]["name"]) >= 20
    assert "optional" not in payload
    assert set(payload["owner"]) == {"id"}  # a reference gets an id even when the schema requires none


def test_builder_stops_on_recursive_required_attributes(synthetic: Api) -> None:
    payload = build_payload(synthetic.docs, synthetic.resource("thing").create_schema)
    depth, node = 0, payload["parts"][0]
    while isinstance(node, dict) and "sub" in node:
        depth, node = depth + 1, node["sub"]
    assert 3 < depth < 12


def test_builder_picks_the_simplest_one_of_branch(synthetic: Api) -> None:
    payload = build_payload(synthetic.docs, synthetic.resource("thing").create_schema)
    assert set(payload["choice"]) == {"id", "@referredType"}  # PartyRef needs 2 attributes, Part_FVO 4


def test_type_and_referred_type_names(synthetic: Api) -> None:
    docs: Documents = synthetic.docs
    schemas = synthetic.resource("thing").create_schema["$ref"].rsplit("/", 1)[0]
    assert type_value(docs, {"$ref": f"{schemas}/PartyRef"}) == "PartyRef"
    assert referred_type_value(docs, {"$ref": f"{schemas}/PartyRef"}) == "Individual"
    assert synthetic.type_required is False and synthetic.hub_path is None
    assert synthetic.resource("thing").class_name == "Thing"  # Thing_FVO names the input, not the class


def test_swagger2_body_parameters_are_read(tmp_path: Path) -> None:
    spec = {
        "swagger": "2.0",
        "info": {"title": "Old", "version": "1"},
        "basePath": "/old/v4",
        "paths": {
            "/widget": {
                "get": {"responses": {"200": {"description": "ok"}}},
                "post": {
                    "parameters": [{"in": "body", "name": "w", "schema": {"$ref": "#/definitions/Widget_Create"}}],
                    "responses": {"201": {"description": "ok", "schema": {"$ref": "#/definitions/Widget"}}},
                },
            }
        },
        "definitions": {
            "Widget_Create": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}},
            },
            "Widget": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "id": {"type": "string"}},
            },
        },
    }
    (tmp_path / "old.json").write_text(json.dumps(spec))
    old = load_api(tmp_path / "old.json")
    widget = old.resource("widget")
    assert widget.class_name == "Widget" and widget.item_path is None
    assert build_payload(old.docs, widget.create_schema) == {"name": "conformance"}
    assert old.api_root("http://h") == "http://h/old/v4"


# --- runner, report, listener, command line ----------------------------------------------------------


def test_skip_selectors_match_checks_groups_and_families() -> None:
    name = "hub.notifications.create-event[productOrder]"
    assert excluded(name, ["hub.notifications"]) and excluded(name, ["hub"])
    assert excluded(name, ["hub.notifications.create-event"])
    assert not excluded(name, ["hub.notif"]) and not excluded("queries.fields-dotted[x]", ["queries.fields"])


def test_families_are_registered_once_with_unique_names() -> None:
    names = [c.name for checks in FAMILIES.values() for c in checks]
    assert len(names) == len(set(names))
    assert all(n.split(".")[0] == family for family, checks in FAMILIES.items() for n in (c.name for c in checks))
    assert selected(["errors"]) == FAMILIES["errors"]
    assert any(isinstance(c, ApiCheck) for c in FAMILIES["hub"])
    with pytest.raises(ValueError, match="Unknown check family"):
        selected(["nope"])


def test_run_one_turns_unexpected_errors_into_failures() -> None:
    result = run_one("x.y", lambda: {}["missing"])  # type: ignore[no-any-return]
    assert result.status is Status.FAIL and "KeyError" in result.detail


def test_report_summary_and_json(tmp_path: Path) -> None:
    report = Report()
    report.add(Result("a.b", Status.PASS, "fine"))
    report.add(Result("a.c[r]", Status.FAIL, "expected 1, got 2"))
    report.add(Result("b.d", Status.SKIP, "n/a"))
    assert report.summary() == "1 passed, 1 failed, 1 skipped" and not report.ok
    assert report.results[1].line() == "FAIL a.c[r]: expected 1, got 2"
    report.write_json(tmp_path / "r.json", base_url="http://x")
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["summary"] == {"passed": 1, "failed": 1, "skipped": 1}
    assert document["results"][1] == {
        "name": "a.c[r]",
        "status": "FAIL",
        "detail": "expected 1, got 2",
        "family": "a",
    }


def test_listener_records_deliveries_per_path() -> None:
    listener = Listener("127.0.0.1")
    try:
        url = listener.callback("/listener/abc")
        response = requests.post(url, json={"eventType": "XCreateEvent"}, timeout=5)
        assert response.status_code == 204
        got = listener.wait_for("/listener/abc", lambda b: b.get("eventType") == "XCreateEvent", 5)
        assert got is not None and got.body == {"eventType": "XCreateEvent"}
        assert listener.wait_for("/listener/other", lambda b: True, 0.05) is None
    finally:
        listener.close()


def test_cli_rejects_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["http://127.0.0.1:9", "--spec", str(TMF622), "--family", "nope"]) == 2
    assert main(["http://127.0.0.1:9", "--spec", str(tmp_path / "missing.yaml")]) == 2
    assert main(["http://127.0.0.1:9", "--spec", str(TMF622), "--payload", "nothing=x.json"]) == 2
    (tmp_path / "p.json").write_text("[]")
    assert main(["http://127.0.0.1:9", "--spec", str(TMF622), "--payload", f"productOrder={tmp_path / 'p.json'}"]) == 2
    assert "error:" in capsys.readouterr().err


def test_cli_reports_an_unreachable_server_as_failures(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens there
    code = main([f"http://127.0.0.1:{port}", "--spec", str(TMF622), "--family", "lifecycle", "--http-timeout", "2"])
    out = capsys.readouterr().out
    assert code == 1 and "FAIL lifecycle.create[productOrder]" in out
    assert out.rstrip().splitlines()[-1].endswith("skipped")


# --- a proxy in front of the gateway: breaks rules on purpose, or adds the events tmfgate lacks -----

Mutation = Callable[[str, str, int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]
PASSED_HEADERS = ("Content-Type", "Location", "X-Total-Count", "X-Result-Count")


class Proxy:
    """Forwards requests to ``target``; ``mutate`` may change answers, ``events`` makes it notify hubs."""

    def __init__(self, target: str, mutate: Mutation | None = None, events: bool = False) -> None:
        self.target, self.mutate, self.events = target, mutate, events
        self.hubs: dict[str, tuple[str, str]] = {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {"Content-Type": self.headers["Content-Type"]} if self.headers["Content-Type"] else {}
                answer = requests.request(
                    self.command,
                    proxy.target + self.path,
                    data=body,
                    headers=headers,
                    timeout=10,
                    allow_redirects=False,
                )
                status, out = (
                    answer.status_code,
                    {k: answer.headers[k] for k in PASSED_HEADERS if k in answer.headers},
                )
                content = answer.content
                if proxy.mutate is not None:
                    status, out, content = proxy.mutate(self.command, self.path, status, out, content)
                self.send_response(status)
                for key, value in out.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
                if proxy.events:
                    proxy.notify(self.command, self.path, status, content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_one

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def notify(self, method: str, path: str, status: int, content: bytes) -> None:
        """Send the TMF event a real server would send for this answer to every matching hub."""
        segments = path.split("?")[0].split("/")
        body = json.loads(content) if content else {}
        if segments[-1] == "hub" and method == "POST" and status == 201:
            self.hubs[body["id"]] = (body["callback"], body.get("query") or "")
            return
        if segments[-2] == "hub" and method == "DELETE":
            self.hubs.pop(segments[-1], None)
            return
        kind = {"POST": "Create", "PATCH": "AttributeValueChange", "DELETE": "Delete"}.get(method)
        name = segments[-1] if method == "POST" else segments[-2]
        if kind is None or status >= 300 or segments[-1] == "hub":
            return
        event_type = f"{name[:1].upper()}{name[1:]}{kind}Event"
        payload = body or {"id": segments[-1]}
        event = {
            "eventId": uuid.uuid4().hex,
            "eventTime": "2030-01-01T00:00:00Z",
            "eventType": event_type,
            "event": {name: payload},
        }
        for callback, query in list(self.hubs.values()):
            if not query or event_type in query.removeprefix("eventType=").split(","):
                requests.post(callback, json=event, timeout=5).close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def drop_location(method: str, path: str, status: int, headers: dict[str, str], body: bytes) -> Any:
    headers.pop("Location", None)
    return status, headers, body


def partial_as_complete(method: str, path: str, status: int, headers: dict[str, str], body: bytes) -> Any:
    return (200 if status == 206 else status), headers, body


def status_as_number(method: str, path: str, status: int, headers: dict[str, str], body: bytes) -> Any:
    if status >= 400:
        body = json.dumps({**json.loads(body), "status": status}).encode()
    return status, headers, body


def unfiltered(method: str, path: str, status: int, headers: dict[str, str], body: bytes) -> Any:
    if method == "GET" and "description=" in path and isinstance(json.loads(body), list):
        body = json.dumps(json.loads(body) + [{"id": "intruder", "href": "http://x/intruder"}]).encode()
    return status, headers, body


@pytest.mark.parametrize(
    ("mutate", "family", "check", "words"),
    [
        (
            drop_location,
            "lifecycle",
            "lifecycle.create[productOrder]",
            "Location header None must equal href",
        ),
        (partial_as_complete, "queries", "queries.paging[productOrder]", "status is 200, expected 206"),
        (
            status_as_number,
            "errors",
            "errors.unknown-id[productOrder]",
            "Error.status must be the string '404'",
        ),
        (unfiltered, "queries", "queries.filter-equality[productOrder]", "'intruder'"),
    ],
)
def test_a_broken_rule_fails_its_check(
    gateway_url: str,
    mutate: Mutation,
    family: str,
    check: str,
    words: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy = Proxy(gateway_url, mutate=mutate)
    try:
        code = main([proxy.url, "--spec", str(TMF622), "--family", family])
    finally:
        proxy.close()
    failures = [line for line in capsys.readouterr().out.splitlines() if line.startswith(f"FAIL {check}:")]
    assert code == 1 and failures and words in failures[0], failures


def test_notification_checks_pass_when_events_arrive(gateway_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    proxy = Proxy(gateway_url, events=True)
    try:
        code = main([proxy.url, "--spec", str(TMF622), "--family", "hub", "--event-timeout", "5"])
    finally:
        proxy.close()
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASS hub.notifications.event-type-filter[productOrder]: only ProductOrderCreateEvent arrived" in out


# --- end to end against tmfgate ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real gateway, started as a subprocess on a free port with an in-memory store."""
    port = free_port()
    log = tmp_path_factory.mktemp("gateway") / "gateway.log"
    command = [sys.executable, "-m", "tmfgate", "serve", "--port", str(port), "--database-url", "memory://"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(process, url + "/tmf-api/productOrderingManagement/v4/productOrder", log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _wait_until_answering(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the gateway exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            requests.get(url, timeout=2).close()
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    pytest.fail(f"the gateway did not answer within 60 s:\n{log.read_text(errors='replace')}")


# Every TMF API tmfgate serves, with the least number of checks each must pass, and create bodies for
# resources whose domain rules ask more than their schema (a bill is for a billing account).
SERVED_SPECS = {
    "tmf622_product_ordering": 40,
    "tmf641_service_ordering": 60,
    "tmf638_service_inventory": 35,
    "tmf640_service_activation": 35,
    "tmf639_resource_inventory": 35,
    "tmf629_customer": 30,
    "tmf632_party": 65,
    "tmf642_alarm": 150,
    "tmf678_bill": 20,
    "tmf620_product_catalog": 1,
    "tmf633_service_catalog": 1,
    "tmf637_product_inventory": 35,
}
NO_ALARM = [{"id": "no-such-alarm"}]
PAYLOADS = {
    "tmf678_bill": {"customerBillOnDemand": {"billingAccount": {"id": "ba-conformance"}}},
    "tmf642_alarm": {
        "alarm": {
            "alarmType": "communicationsAlarm",
            "perceivedSeverity": "major",
            "probableCause": "lossOfSignal",
            "alarmedObject": {"id": "ne-conformance"},
            "sourceSystemId": "nms-conformance",
            "state": "raised",
            "alarmRaisedTime": "2026-01-01T00:00:00Z",
        },
        "ackAlarms": {"alarmPattern": NO_ALARM, "ackSystemId": "nms", "ackUserId": "operator"},
        "unAckAlarms": {"alarmPattern": NO_ALARM, "ackSystemId": "nms", "ackUserId": "operator"},
        "clearAlarms": {
            "alarmPattern": NO_ALARM,
            "alarmClearedTime": "2026-01-01T01:00:00Z",
            "clearSystemId": "nms",
            "clearUserId": "operator",
        },
        "commentAlarms": {
            "alarmPattern": NO_ALARM,
            "comment": {"comment": "Looked at it", "systemId": "nms", "userId": "operator"},
        },
    },
}


def test_every_served_api_is_checked() -> None:
    specs = {path.stem for path in (ROOT / "specs").glob("tmf[0-9]*.yaml")}
    assert specs == set(SERVED_SPECS)


@pytest.mark.parametrize("name", sorted(SERVED_SPECS))
def test_tmfgate_passes_every_check(
    name: str, gateway_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    arguments = [
        gateway_url,
        "--spec",
        str(ROOT / "specs" / f"{name}.yaml"),
        "--skip",
        "hub.notifications",
        "--json",
        str(report),
    ]
    for resource, body in PAYLOADS.get(name, {}).items():
        payload = tmp_path / f"{resource}.json"
        payload.write_text(json.dumps(body))
        arguments += ["--payload", f"{resource}={payload}"]
    code = main(arguments)
    out = capsys.readouterr().out
    failures = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert code == 0, "\n".join(failures)
    document: dict[str, Any] = json.loads(report.read_text())
    assert document["summary"]["failed"] == 0 and document["summary"]["passed"] >= SERVED_SPECS[name]


def test_notification_checks_run_to_a_verdict(gateway_url: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    main(
        [
            gateway_url,
            "--spec",
            str(TMF622),
            "--family",
            "hub",
            "--event-timeout",
            "0.5",
            "--json",
            str(report),
        ]
    )
    results = json.loads(report.read_text())["results"]
    notifications = [r for r in results if r["name"].startswith("hub.notifications.")]
    assert len(notifications) == 8
    assert not [r for r in notifications if r["detail"].startswith("unexpected")]
