"""Bodies that once answered 500 (security review F-10, F-05, F-18, F-19) answer a TMF 4xx on every
store, and leave nothing stored."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from backends.base import UnstorableDocument
from tests.conftest import RunningGateway
from tmfgate.middleware import as_api_error

CUSTOMERS = "/tmf-api/customerManagement/v4/customer"
JSON = {"Content-Type": "application/json"}
BIG = "12345678901234567890123"  # past 64 bits: the standard library's path, where the 500s were


def customer_text(name: str, extra: str) -> bytes:
    return ('{"name":"' + name + '","engagedParty":{"id":"1","@referredType":"Individual"},' + extra + "}").encode()


def stored(url: str, name: str) -> int:
    found = requests.get(f"{url}{CUSTOMERS}", params={"name": name}, timeout=30)
    assert found.status_code == 200, found.text
    return int(found.headers["X-Total-Count"])


def assert_error(answer: requests.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()
    assert error["@type"] == "Error" and error["status"] == str(status)
    return error


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(f'"b":{BIG},"a":' + "[" * 10_000 + "]" * 10_000, id="10000-deep-arrays-and-a-big-integer"),
        pytest.param(f'"b":{BIG},"a":"\\ud800"', id="lone-surrogate-and-a-big-integer"),
        pytest.param('"a":' + "[" * 974 + "]" * 974, id="974-deep-arrays"),
        pytest.param('"a":' + "[" * 65 + "]" * 65, id="past-the-depth-limit"),
        pytest.param(f'"n":NaN,"b":{BIG}', id="NaN-and-a-big-integer"),
        pytest.param('"n":Infinity', id="Infinity"),
        pytest.param('"n":-Infinity', id="minus-Infinity"),
        pytest.param('"n":1e999', id="a-number-past-double"),
    ],
)
def test_a_hostile_create_is_a_400_and_stores_nothing(gateway: RunningGateway, extra: str) -> None:
    name = f"hostile-{uuid.uuid4().hex[:8]}"
    answer = requests.post(f"{gateway.url}{CUSTOMERS}", data=customer_text(name, extra), headers=JSON, timeout=30)
    assert_error(answer, 400)
    assert stored(gateway.url, name) == 0


def test_nesting_within_the_limit_is_kept(gateway: RunningGateway) -> None:
    name = f"nested-{uuid.uuid4().hex[:8]}"
    body = customer_text(name, f'"b":{BIG},"a":' + "[" * 60 + "1" + "]" * 60)
    answer = requests.post(f"{gateway.url}{CUSTOMERS}", data=body, headers=JSON, timeout=30)
    assert answer.status_code == 201, answer.text
    assert str(BIG) in answer.text and stored(gateway.url, name) == 1


@pytest.mark.parametrize("depth", [70, 490, 2000])
def test_a_deeply_nested_merge_patch_is_a_400_and_changes_nothing(gateway: RunningGateway, depth: int) -> None:
    name = f"patched-{uuid.uuid4().hex[:8]}"
    created = requests.post(f"{gateway.url}{CUSTOMERS}", data=customer_text(name, '"status":"x"'), headers=JSON)
    assert created.status_code == 201, created.text
    href = f"{gateway.url}{CUSTOMERS}/{created.json()['id']}"
    body = '{"description":' + '{"a":' * depth + "1" + "}" * depth + "}"
    merge = {"Content-Type": "application/merge-patch+json"}
    assert_error(requests.patch(href, data=body.encode(), headers=merge, timeout=30), 400)
    assert requests.get(href, timeout=30).json() == created.json()


def test_a_body_without_a_content_type_is_a_415_and_stores_nothing(gateway: RunningGateway) -> None:
    name = f"no-type-{uuid.uuid4().hex[:8]}"
    answer = requests.post(f"{gateway.url}{CUSTOMERS}", data=customer_text(name, '"status":"x"'), timeout=30)
    assert "Content-Type" not in answer.request.headers
    assert_error(answer, 415)
    assert stored(gateway.url, name) == 0


def test_an_unstorable_value_is_answered_without_the_database_text() -> None:
    text = 'invalid input syntax for type json\nDETAIL: Token "NaN" is invalid.\nCONTEXT: JSON data, line 1'
    error, _ = as_api_error(UnstorableDocument(f"The store cannot keep a value of this document: {text}"))
    assert error.status == 400
    assert "DETAIL" not in error.message and "json" not in error.message and "NaN" not in error.message


def test_the_operator_api_answers_400_to_out_of_range_input(gateway: RunningGateway) -> None:
    admin = f"{gateway.url}/tmfgate/admin/v1"
    since = {"subscriptionId": "x", "since": "0001-01-01T00:00:00+14:00"}
    assert "range" in assert_error(requests.post(f"{admin}/replay", json=since, timeout=30), 400)["message"]
    huge = requests.get(f"{admin}/delivery", params={"offset": "100000000000000000000"}, timeout=30)
    assert "offset" in assert_error(huge, 400)["message"]
