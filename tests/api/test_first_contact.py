"""What a newcomer meets first: API indexes, 405 answers, filters that cannot mean anything, error messages."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.commands import run_tmfgate
from tmfgate.app import create_app
from tmfgate.cli import build_parser
from tmfgate.runtime import installed
from tmfgate.settings import Settings

PO = "/tmf-api/productOrderingManagement/v4"
ORDER = {"productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "po-fibre-500"}}]}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """The gateway in process (no server needed for what these tests look at)."""
    with TestClient(create_app(Settings(database_url="memory://", fulfilment=False))) as client:
        yield client


@pytest.mark.parametrize("path", [PO, PO + "/"])
def test_the_base_url_of_an_api_is_its_index(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 200, response.text
    index = response.json()
    assert index["name"] == "TMF622 Product Ordering Management" and index["@type"] == "ApiIndex"
    assert {"name": "productOrder", "href": f"http://testserver{PO}/productOrder"} in index["resources"]
    assert index["openapi"] == f"http://testserver{PO}/openapi.json" and index["ui"].endswith(f"{PO}/ui/")
    assert client.get(index["openapi"]).status_code == 200


def test_the_root_lists_every_api(client: TestClient) -> None:
    apis = client.get("/").json()
    assert {"id": "tmf622_product_ordering", "href": f"http://testserver{PO}"}.items() <= next(
        api for api in apis if api["id"] == "tmf622_product_ordering"
    ).items()
    assert len({api["id"] for api in apis}) == len(apis) >= 12


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/productOrder/x", "DELETE, GET, HEAD, PATCH"),
        ("POST", "/productOrder/x", "DELETE, GET, HEAD, PATCH"),
        ("PUT", "/productOrder", "GET, HEAD, POST"),
        ("DELETE", "/productOrder", "GET, HEAD, POST"),
        ("PATCH", "/cancelProductOrder/x", "GET, HEAD"),
    ],
)
def test_a_405_allows_what_the_spec_gives_the_path(client: TestClient, method: str, path: str, allowed: str) -> None:
    response = client.request(method, PO + path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json()["message"] == f"{method} is not defined for this path; it allows {allowed}."


def test_options_and_head_answer_for_the_spec_paths(client: TestClient) -> None:
    options = client.options(PO + "/productOrder/x")
    assert (options.status_code, options.headers["allow"]) == (204, "DELETE, GET, HEAD, PATCH")
    head = client.head(PO + "/productOrder")
    assert head.status_code == 200 and "x-total-count" in head.headers


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("orderDate.ge=2026-01-01", "'ge' is not a filter operator"),
        ("state.neq=failed", "'neq' is not a filter operator"),
        ("state!=failed", "'!=' in 'state!=' is not a TMF630 operator"),
        ("sort=-nope", "Cannot sort by 'nope'"),
        ("sort=productOrderItem", "Cannot sort by 'productOrderItem': it is not a single value"),
        ("fields=nope", "names no attribute of the resource"),
        ("state=completed;failed", "After ';' comes a whole condition"),
    ],
)
def test_a_query_that_cannot_mean_anything_is_a_400(client: TestClient, query: str, fragment: str) -> None:
    response = client.get(f"{PO}/productOrder?{query}")
    assert response.status_code == 400 and fragment in response.json()["message"], response.text


def test_a_validation_error_lists_every_missing_attribute(client: TestClient) -> None:
    message = client.post("/tmf-api/customerManagement/v4/customer", json={}).json()["message"]
    assert message == "The request body is missing the required attributes engagedParty, name."


def test_a_json_patch_on_a_missing_path_names_the_path(client: TestClient) -> None:
    order = client.post(f"{PO}/productOrder", json=ORDER).json()
    patch = [{"op": "replace", "path": "/nope/deeper", "value": 1}]
    response = client.patch(
        f"{PO}/productOrder/{order['id']}", json=patch, headers={"content-type": "application/json-patch+json"}
    )
    assert response.status_code == 400
    assert response.json()["message"] == (
        "JSON Patch operation 1 (replace /nope/deeper) cannot be applied: /nope/deeper does not exist in the resource."
    )
    failed = [{"op": "test", "path": "/state", "value": "completed"}]
    response = client.patch(
        f"{PO}/productOrder/{order['id']}", json=failed, headers={"content-type": "application/json-patch+json"}
    )
    assert response.json()["message"] == (
        "JSON Patch operation 1 (test /state): the resource's value at that path is not the value tested."
    )


def test_a_merge_patch_keeps_null_inside_an_array_as_a_value(client: TestClient) -> None:
    created = client.post("/tmf-api/resourceInventoryManagement/v4/resource", json={"name": "r"}).json()
    patched = client.patch(
        f"/tmf-api/resourceInventoryManagement/v4/resource/{created['id']}",
        json={"resourceCharacteristic": [{"name": "colour", "value": None}], "description": None},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["resourceCharacteristic"] == [{"name": "colour", "value": None}]


def test_base_type_and_schema_location_are_patchable_where_the_update_schema_has_them(client: TestClient) -> None:
    order = client.post(f"{PO}/productOrder", json=ORDER).json()
    patched = client.patch(
        f"{PO}/productOrder/{order['id']}",
        json={"@baseType": "ProductOrder", "@schemaLocation": "https://example.com/po.json"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["@schemaLocation"] == "https://example.com/po.json"
    assert client.patch(f"{PO}/productOrder/{order['id']}", json={"@type": "Other"}).status_code == 400


def test_the_official_tmf640_base_path_is_served_too(client: TestClient) -> None:
    response = client.get("/tmf-api/ServiceActivationAndConfiguration/v4/service?limit=1")
    assert response.status_code == 200


def test_an_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    url = "postgresql+psycopg://tmfgate:secret@127.0.0.1:1/nope"
    result = subprocess.run(
        [sys.executable, "-m", "tmfgate", "serve", "--database-url", url, "--port", "18555"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("tmfgate: cannot use the store at postgresql+psycopg://tmfgate:***@127.0.0.1:1/nope: ")
    assert "secret" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_the_command_line_says_its_version_and_helps_every_command() -> None:
    version = run_tmfgate("--version")  # in process (tests.commands): the module entry is what served() runs
    assert version.returncode == 0 and version.stdout.startswith("tmfgate ")
    parser = build_parser(installed())
    [commands] = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    for name, command in commands.choices.items():
        assert command.description, f"tmfgate {name} has no description"
        for action in command._actions:
            if name != "conformance" and not isinstance(action, argparse._HelpAction):
                assert action.help, f"tmfgate {name} {'/'.join(action.option_strings) or action.dest} has no help"
