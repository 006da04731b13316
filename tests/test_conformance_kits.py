"""``--ctk``: a TM Forum kit run by the same command, its assertions in the same report as our checks.

The kits live outside the project (``../shared/ctk``) and newman comes from ``npm install``; the tests
that need them skip, saying which is missing.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.kits import newman_command, prepare, run_kit
from conformance.report import Status
from tests.conformance_support import KITS, ROOT, Answer, Proxy, Request, running_gateway

KIT = KITS / "TMF622-v4.0.0"


def newman() -> str:
    local = ROOT / "node_modules" / ".bin" / "newman"
    found = str(local) if local.exists() else shutil.which("newman")
    if found is None:
        pytest.skip("newman is not installed: run 'npm install' in the project folder")
    if not KIT.is_dir():
        pytest.skip(f"the TM Forum kit is not at {KIT}")
    return found


@pytest.fixture
def fresh_gateway(tmp_path: Path) -> Iterator[str]:
    """A gateway on an empty store: a kit expects every listed resource to be one it can read."""
    with running_gateway(tmp_path) as url:
        yield url


def test_a_kit_folder_is_prepared_as_its_own_driver_would(tmp_path: Path) -> None:
    if not KIT.is_dir():
        pytest.skip(f"the TM Forum kit is not at {KIT}")
    collection, environment, folders = prepare(KIT, "http://h:1/tmf-api/productOrderingManagement/v4", tmp_path)
    first = json.loads(collection.read_text())["item"][0]["item"][0]["request"]
    assert first["method"] == "POST" and json.loads(first["body"]["raw"])["relatedParty"][0]["id"] == "456-dd-df45"
    assert first["header"] == [
        {"key": "Accept", "value": "application/json"},
        {"key": "Content-Type", "value": "application/json"},
    ]
    (variable,) = json.loads(environment.read_text())["values"]
    assert (
        variable["key"] == "Product_Ordering"
        and variable["value"] == "http://h:1/tmf-api/productOrderingManagement/v4/"
    )
    assert set(folders.values()) == {"N1", "N2", "E1"}


def test_without_newman_the_kit_is_reported_skipped_with_the_reason() -> None:
    (result,) = run_kit(KIT, "http://127.0.0.1:9/x", None)
    assert result.status is Status.SKIP and "npm install newman" in result.detail
    assert newman_command("my-newman --flag") == ["my-newman", "--flag"]


def test_the_kit_runs_beside_our_checks_in_one_junit_suite(fresh_gateway: str, tmp_path: Path) -> None:
    command = newman()
    report = tmp_path / "report.xml"
    arguments = [fresh_gateway, "--api", "tmf622", "--family", "lifecycle", "--ctk", str(KIT)]
    assert main([*arguments, "--newman", command, "--junit", str(report)]) == 0
    (suite,) = ET.parse(report).getroot().findall("testsuite")
    names = [case.get("name") or "" for case in suite.findall("testcase")]
    assert "lifecycle.create[productOrder]" in names
    assert (
        "ctk.N1./ProductOrder: Status code is 201" in names
        and "ctk.E1./ProductOrder/404ID: Status code is 404" in names
    )


def not_found_as_bad_request(request: Request, answer: Answer) -> Answer:
    return (400, *answer[1:]) if answer[0] == 404 else answer


def test_a_failed_kit_assertion_fails_the_run_with_its_exchange(tmp_path: Path) -> None:
    command = newman()
    with running_gateway(tmp_path) as gateway:
        proxy = Proxy(gateway, [not_found_as_bad_request])
        try:
            report = tmp_path / "report.xml"
            code = main([proxy.url, "--api", "tmf622", "--family", "root", "--ctk", str(KIT), "--newman", command,
                         "--junit", str(report)])  # fmt: skip
        finally:
            proxy.close()
    failures = {c.get("name"): c.find("failure") for c in ET.parse(report).getroot().iter("testcase")}
    failure = failures["ctk.E1./ProductOrder/404ID: Status code is 404"]
    assert code == 1 and failure is not None and failure.text is not None
    assert "Request:\nGET http://127.0.0.1:" in failure.text and "Response:\nHTTP 400" in failure.text
