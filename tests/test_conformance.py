"""The conformance tool's parts: spec reader, payload builder, runner, reports, progress, shipped specs, CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from conformance.checks import FAMILIES, ApiCheck
from conformance.cli import main
from conformance.listener import Listener
from conformance.openapi import Documents, SpecError, flatten
from conformance.payloads import build_payload, referred_type_value, type_value
from conformance.progress import Progress
from conformance.report import Report, Result, Status, Suite
from conformance.runner import excluded, run_one, selected
from conformance.sources import shipped, shipped_names
from conformance.spec import Api, load_api
from tests.commands import run_tmfgate
from tests.conftest import free_port

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


def test_a_v5_party_association_is_no_reference_of_its_own() -> None:
    """TMF666 v5 requires relatedParty on an account: RelatedPartyRefOrPartyRoleRef ends in Ref, yet an
    id beside its role is no attribute of it (the party's id is in partyOrPartyRole)."""
    accounts = load_api(ROOT / "specs" / "v5" / "tmf666_account_management.yaml")
    account = accounts.resource("billingAccount")
    payload = build_payload(accounts.docs, account.create_schema, account.class_name)
    (party,) = payload["relatedParty"]
    assert party == {"@type": "RelatedPartyRefOrPartyRoleRef", "role": "conformance"}
    assert payload["name"] == "conformance" and payload["@type"] == "BillingAccount"


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


# --- runner, report, progress, listener, shipped specs ----------------------------------------------


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


def test_every_check_names_its_rule() -> None:
    from conformance.rules import RULES

    names = {c.name for checks in FAMILIES.values() for c in checks}
    assert names == set(RULES), names ^ set(RULES)


def test_run_one_turns_unexpected_errors_into_failures() -> None:
    result = run_one("x.y", lambda: {}["missing"])  # type: ignore[no-any-return]
    assert result.status is Status.FAIL and "KeyError" in result.detail


def test_report_counts_per_api_and_in_total(tmp_path: Path) -> None:
    one = Suite("a", "A", "http://a", "a.yaml")
    one.results += [
        Result("a.b", Status.PASS, "fine"),
        Result("a.c[r]", Status.FAIL, "expected 1, got 2", 0.5, "GET x", "HTTP 500"),
    ]
    two = Suite("b", "B", "http://b", "b.yaml", [Result("b.d", Status.SKIP, "n/a")])
    report = Report([one, two])
    assert report.summary() == "1 passed, 1 failed, 1 skipped" and not report.ok and two.ok
    assert one.results[1].line() == "FAIL a.c[r]: expected 1, got 2"
    report.write_json(tmp_path / "r.json")
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["summary"] == {"passed": 1, "failed": 1, "skipped": 1}
    assert [a["summary"]["failed"] for a in document["apis"]] == [1, 0]
    failed = document["apis"][0]["results"][1]
    assert failed["request"] == "GET x" and failed["response"] == "HTTP 500" and failed["family"] == "a"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    results = [Result("q.a", Status.PASS, "ok"), Result("q.b", Status.FAIL, "broken")]
    for stream in (_Terminal(), io.StringIO()):
        progress = Progress(stream)
        progress.start("tmf622", 2)
        for result in results:
            progress.advance(result)
        progress.finish(Suite("tmf622", "", "", "", results, 1.5))
        out = stream.getvalue()
        assert "FAIL q.b: broken" in out and "tmf622: 1 passed, 1 failed, 0 skipped in 1.5s" in out
        bar = "[" + "#" * 30 + "] 2/2, 1 failed" in out
        assert bar is isinstance(stream, _Terminal)
        assert ("PASS q.a: ok" in out) is not isinstance(stream, _Terminal)


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


def test_the_shipped_specs_are_found_without_importing_the_server() -> None:
    assert shipped("tmf622", 4).name == "tmf622_product_ordering.yaml"
    assert shipped("tmf622_product_ordering", 5).parent.name == "v5"
    assert set(shipped_names(4)) == {p.stem for p in (ROOT / "specs").glob("tmf[0-9]*.yaml")}
    with pytest.raises(SpecError, match="tmf622"):
        shipped("tmf999", 4)
    code = "import sys, conformance.sources as s; s.shipped('tmf641', 4); print('tmfgate' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# --- command line ------------------------------------------------------------------------------------


def test_the_program_names_itself_tmfgate_conformance() -> None:
    helped = run_tmfgate("conformance", "--help")  # through tmfgate's command line, as the console script runs it
    assert (
        helped.returncode == 0 and helped.stdout.startswith("usage: tmfgate conformance") and "--api" in helped.stdout
    )
    refused = run_tmfgate("conformance", "http://127.0.0.1:9")
    assert refused.returncode == 2 and refused.stderr.startswith("tmfgate conformance: error: give either --api")


def test_cli_rejects_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["http://127.0.0.1:9", "--spec", str(TMF622), "--family", "nope"]) == 2
    assert main(["http://127.0.0.1:9", "--spec", str(tmp_path / "missing.yaml")]) == 2
    assert main(["http://127.0.0.1:9", "--api", "tmf999"]) == 2
    assert main(["http://127.0.0.1:9", "--api", "tmf622", "--spec", str(TMF622)]) == 2
    assert main(["http://127.0.0.1:9", "--spec", str(TMF622), "--payload", "nothing=x.json"]) == 2
    (tmp_path / "p.json").write_text("[]")
    assert main(["http://127.0.0.1:9", "--spec", str(TMF622), "--payload", f"productOrder={tmp_path / 'p.json'}"]) == 2
    assert "tmfgate conformance: error:" in capsys.readouterr().err


def test_cli_reports_an_unreachable_server_as_failures(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens there
    code = main([f"http://127.0.0.1:{port}", "--api", "tmf622", "--family", "lifecycle", "--http-timeout", "2"])
    out = capsys.readouterr().out
    assert code == 1 and "FAIL lifecycle.create[productOrder]" in out
    assert out.rstrip().splitlines()[-1].startswith("Total: 0 passed, 9 failed, 1 skipped in ")
