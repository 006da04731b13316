"""A deliberately defective TMF622 server, and the tool reporting each of its defects under the right check.

The defective server is the real gateway behind a proxy (started in-process) that breaks one rule per
defect; one run of the tool against it must fail each check named below, with the words that say why.
Its reports are then read as a CI would: JUnit as XML, the HTML page as a self-contained file, the JSON.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import main
from conformance.rules import RULES
from tests.conformance_support import Answer, Proxy, Request, running_gateway

# defect -> (check that must fail, words its detail must hold)
DEFECTS = {
    "wrong counts": ("queries.count-headers[productOrder]", "X-Total-Count is 4, expected 3"),
    "no Location": ("lifecycle.create[productOrder]", "Location header None must equal href"),
    "500 on bad JSON": ("errors.malformed-json[productOrder]", "expected status 400"),
    "fields ignored": ("queries.fields[productOrder]", "unrequested attribute(s)"),
    "PATCH answering 201": ("patch.merge-patch[productOrder]", "expected 200, got 201"),
    "id patchable": ("patch.immutable-id-href[productOrder]", "changing id: expected 400"),
    "DELETE answering 200": ("lifecycle.delete[productOrder]", "expected 204 with no body, got 200"),
    "non-TMF error bodies": ("errors.unknown-id[productOrder]", "Error.code must be a non-empty string"),
    "no hub": ("hub.subscribe", "expected 201 with the subscription"),
    "wrong Allow": ("methods.allow-header[productOrder]", "Allow is 'GET'"),
}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def wrong_counts(request: Request, answer: Answer) -> Answer:
    status, headers, body = answer
    if "X-Total-Count" in headers:
        headers["X-Total-Count"] = str(int(headers["X-Total-Count"]) + 1)
    return status, headers, body


def no_location(request: Request, answer: Answer) -> Answer:
    answer[1].pop("Location", None)
    return answer


def error_on_bad_json(request: Request, answer: Answer) -> Answer:
    if request[0] == "POST" and request[3] and _json(request[3]) is None:
        return 500, {"Content-Type": "application/json"}, b'{"code": "1", "reason": "Internal error"}'
    return answer


def patch_created(request: Request, answer: Answer) -> Answer:
    return (201, *answer[1:]) if request[0] == "PATCH" and answer[0] == 200 else answer


def delete_ok(request: Request, answer: Answer) -> Answer:
    return (200, *answer[1:]) if request[0] == "DELETE" and answer[0] == 204 else answer


def no_hub(request: Request, answer: Answer) -> Answer:
    if request[1].split("?")[0].rstrip("/").split("/")[-2:].count("hub"):
        return 404, {"Content-Type": "text/plain"}, b"Not Found"
    return answer


def plain_errors(request: Request, answer: Answer) -> Answer:
    status, headers, body = answer
    error = _json(body)
    if status >= 400 and isinstance(error, dict):
        return status, headers, json.dumps({"error": error.get("message", "failed")}).encode()
    return answer


def wrong_allow(request: Request, answer: Answer) -> Answer:
    if "Allow" in answer[1]:
        answer[1]["Allow"] = "GET"
    return answer


def forward(request: Request) -> Request:
    """What the defective server does with a request before answering it: ignores fields, lets id be patched."""
    method, path, headers, body = request
    path = re.sub(r"([?&])fields=[^&]*&?", r"\1", path).rstrip("?&")
    patch = _json(body) if method == "PATCH" else None
    if isinstance(patch, dict) and ("id" in patch or "href" in patch):
        body = json.dumps({k: v for k, v in patch.items() if k not in ("id", "href")}).encode()
    return method, path, headers, body


RULES_OF_THE_SERVER = [wrong_counts, no_location, error_on_bad_json, patch_created, delete_ok, no_hub]
RULES_OF_THE_SERVER += [plain_errors, wrong_allow]


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_gateway(tmp_path_factory.mktemp("gateway")) as gateway:
        proxy = Proxy(gateway, RULES_OF_THE_SERVER, forward)
        try:
            yield proxy.url
        finally:
            proxy.close()


@pytest.fixture(scope="module")
def run(defective: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    """One run of the whole tool against the defective server, with every report written."""
    folder = tmp_path_factory.mktemp("reports")
    arguments = [defective, "--api", "tmf622", "--workers", "4", "--event-timeout", "2"]
    arguments += ["--junit", str(folder / "r.xml"), "--html", str(folder / "r.html"), "--json", str(folder / "r.json")]
    return main(arguments), folder


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_defect_is_reported_under_its_check(defect: str, run: tuple[int, Path]) -> None:
    code, folder = run
    check, words = DEFECTS[defect]
    results = {r["name"]: r for r in json.loads((folder / "r.json").read_text())["apis"][0]["results"]}
    assert code == 1
    assert results[check]["status"] == "FAIL", results[check]
    assert words in results[check]["detail"], results[check]["detail"]


def test_junit_has_a_suite_per_api_a_case_per_check_and_the_failed_exchange(run: tuple[int, Path]) -> None:
    _, folder = run
    root = ET.parse(folder / "r.xml").getroot()
    document = json.loads((folder / "r.json").read_text())
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert suite.get("name") == "tmf622_product_ordering"
    assert len(cases) == len(document["apis"][0]["results"])
    assert int(suite.get("failures", "0")) == document["summary"]["failed"] > 0
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    location = failed["lifecycle.create[productOrder]"]
    assert location is not None and location.text is not None
    assert "Request:\nPOST http://127.0.0.1:" in location.text and "Response:\nHTTP 201" in location.text
    assert "Rule: TMF630 Part 1 §2.3, §1.8" in location.text
    assert all(c.find("skipped") is not None for c in cases if c.get("name") == "polymorphism.subtypes[productOrder]")


def test_html_is_self_contained_and_links_each_failure_to_its_rule(run: tuple[int, Path]) -> None:
    _, folder = run
    page = (folder / "r.html").read_text()
    assert "<script" not in page and "<link" not in page and "<img" not in page and "@import" not in page
    rule_urls = {rule.url for rule in RULES.values()}
    links = re.findall(r'(?:href|src)="([^"]*)"', page)
    assert links and all(link.startswith("#") or link in rule_urls for link in links), links
    for check, _ in DEFECTS.values():
        assert f'<div class="name">{check}</div>' in page
    allow = page.split('<div class="name">methods.allow-header[productOrder]</div>')[1].split('<div class="failure">')[
        0
    ]
    assert "Breaks" in allow and "RFC 9110 §15.5.6" in allow and "<b>Request</b>" in allow and "HTTP 405" in allow


def test_json_counts_agree_with_its_results(run: tuple[int, Path]) -> None:
    _, folder = run
    document = json.loads((folder / "r.json").read_text())
    results = document["apis"][0]["results"]
    assert document["summary"] == {s: sum(r["status"] == k for r in results) for s, k in _STATUSES}
    failed = [r for r in results if r["status"] == "FAIL"]
    assert all(r["request"] and r["response"] and r["rule"] for r in failed if r["name"] != "hub.subscribe"), failed


_STATUSES = (("passed", "PASS"), ("failed", "FAIL"), ("skipped", "SKIP"))
