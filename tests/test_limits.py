"""Limits against abuse (issue 13 item 5), each with its setting: bodies, patched documents, JSON
depth, pages, regex filters, request rate, and, on ``tmfgate serve``, heads, read timeouts and the
connection cap."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests

from backends.base import Query, ValueType, where
from backends.matching import matches
from tests.conftest import RunningGateway
from tmfgate import patch
from tmfgate.errors import BadRequest
from tmfgate.limits import RateBuckets, partner_of
from tmfgate.settings import Settings

CUSTOMERS = "/tmf-api/customerManagement/v4/customer"
RESOURCES = "/tmf-api/resourceInventoryManagement/v4/resource"
ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def customer(name: str, **more: object) -> dict[str, object]:
    return {"name": name, "engagedParty": {"id": "1", "@referredType": "Individual"}, **more}


def error_of(answer: requests.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["@type"] == "Error" and body["status"] == str(status)
    return str(body["message"])


def total(url: str, name: str) -> int:
    found = requests.get(f"{url}{CUSTOMERS}", params={"name": name}, timeout=30)
    return int(found.headers["X-Total-Count"])


@pytest.fixture(scope="module")
def limited() -> Iterator[RunningGateway]:
    """A memory gateway with small limits, so that tests reach them with small bodies."""
    settings = {"max_body_size": 4096, "max_document_size": 8192, "max_limit": 3, "fulfilment": False}
    settings |= {"max_order_items": 3, "max_item_quantity": 5}
    with RunningGateway("memory://", **settings) as running:
        yield running


def test_the_defaults_are_safe() -> None:
    settings = Settings()
    assert (settings.max_body_size, settings.max_document_size, settings.max_json_depth) == (1_048_576, 1_048_576, 64)
    assert (settings.max_limit, settings.rate_limit, settings.rate_burst) == (1000, 200.0, 400)
    assert (settings.max_header_size, settings.read_timeout, settings.max_connections) == (65_536, 15.0, 1000)


def test_a_body_past_the_limit_is_a_413_and_stores_nothing(limited: RunningGateway) -> None:
    name = f"big-{uuid.uuid4().hex[:8]}"
    big = customer(name, description="x" * 5000)
    assert "4096 bytes" in error_of(requests.post(f"{limited.url}{CUSTOMERS}", json=big, timeout=30), 413)
    chunked = requests.post(  # no Content-Length: counted as it arrives
        f"{limited.url}{CUSTOMERS}",
        data=iter([b'{"name":"' + name.encode() + b'","description":"', b"x" * 5000, b'"}']),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    error_of(chunked, 413)
    assert total(limited.url, name) == 0
    small = requests.post(f"{limited.url}{CUSTOMERS}", json=customer(name, description="x" * 3000), timeout=30)
    assert small.status_code == 201, small.text


def test_a_json_patch_that_copies_the_document_into_itself_is_a_413(limited: RunningGateway) -> None:
    created = requests.post(f"{limited.url}{CUSTOMERS}", json=customer(f"copy-{uuid.uuid4().hex[:8]}"), timeout=30)
    href = f"{limited.url}{CUSTOMERS}/{created.json()['id']}"
    ops = [{"op": "add", "path": "/description", "value": "A" * 200}]
    ops += [{"op": "copy", "from": "", "path": f"/characteristic{n}"} for n in range(24)]
    answer = requests.patch(href, json=ops, headers=JSON_PATCH, timeout=30)
    assert "8192" in error_of(answer, 413)
    assert requests.get(href, timeout=30).json() == created.json()


def test_an_order_has_at_most_max_order_items_each_of_at_most_max_item_quantity(limited: RunningGateway) -> None:
    def order(*quantities: int, nested: bool = False) -> dict[str, object]:
        items = [
            {"id": str(n), "action": "add", "quantity": q, "productOffering": {"id": "po-fibre-500"}}
            for n, q in enumerate(quantities, 1)
        ]
        if nested:  # a nested item counts too
            items[0]["productOrderItem"] = [{"id": "9", "action": "add", "productOffering": {"id": "po-fibre-500"}}]
        return {"productOrderItem": items, "externalId": marker}

    marker = f"limits-{uuid.uuid4().hex[:8]}"
    post = f"{limited.url}{ORDERS}"
    assert "at most 3" in error_of(requests.post(post, json=order(1, 1, 1, 1), timeout=30), 400)
    assert "at most 3" in error_of(requests.post(post, json=order(1, 1, 1, nested=True), timeout=30), 400)
    assert "at most 5" in error_of(requests.post(post, json=order(1, 6), timeout=30), 400)
    found = requests.get(post, params={"externalId": marker}, timeout=30)
    assert found.headers["X-Total-Count"] == "0"
    created = requests.post(post, json=order(5, 1, 1), timeout=30)
    assert created.status_code == 201, created.text


def test_a_json_patch_has_at_most_1000_operations() -> None:
    ops = [{"op": "test", "path": "/name", "value": "n"}]
    assert patch.json_patch({"name": "n"}, ops * 1000) == {"name": "n"}
    with pytest.raises(BadRequest, match="1000 operations"):
        patch.json_patch({"name": "n"}, ops * 1001)


def test_a_list_without_a_limit_is_one_page_of_max_limit(limited: RunningGateway) -> None:
    name = f"paged-{uuid.uuid4().hex[:8]}"
    for _ in range(4):
        assert requests.post(f"{limited.url}{CUSTOMERS}", json=customer(name), timeout=30).status_code == 201
    page = requests.get(f"{limited.url}{CUSTOMERS}", params={"name": name}, timeout=30)
    assert page.status_code == 206 and len(page.json()) == 3 and page.headers["X-Total-Count"] == "4"
    rest = requests.get(f"{limited.url}{CUSTOMERS}", params={"name": name, "offset": "3", "limit": "10"}, timeout=30)
    assert len(rest.json()) == 1 and rest.headers["X-Total-Count"] == "4"


@pytest.mark.timeout(60)
def test_catastrophic_regexes_run_in_linear_time_on_every_store(gateway: RunningGateway) -> None:
    """``(a|a)*!`` on 40 a's takes hours with a backtracking engine (F-06); here it simply matches nothing."""
    name = "a" * 40
    created = requests.post(f"{gateway.url}{RESOURCES}", json={"name": name}, timeout=30)
    assert created.status_code == 201, created.text
    # The store is shared with other tests: only names holding the pattern's last letter may match.
    for pattern, letter in (("(a|a)*!", "!"), ("a*a*a*a*a*a*a*a*!", "!"), ("(a|aa)*c", "c")):
        found = requests.get(f"{gateway.url}{RESOURCES}", params={"name.regex": pattern}, timeout=30)
        assert found.status_code == 200, found.text
        assert all(letter in item.get("name", "") for item in found.json()), found.text
    found = requests.get(f"{gateway.url}{RESOURCES}", params={"name.regex": "^(a|a)*$", "id": created.json()["id"]})
    assert [item["id"] for item in found.json()] == [created.json()["id"]]
    lookaround = requests.get(f"{gateway.url}{RESOURCES}", params={"name.regex": "(?=a)a"}, timeout=30)
    assert "lookaround" in error_of(lookaround, 400)


@pytest.mark.timeout(30)
def test_hub_queries_match_regexes_in_linear_time() -> None:
    condition = where("event.resource.name", regex="(a|a)*!", type=ValueType.STRING)
    assert not matches(Query((condition,)).conditions, {"event": {"resource": {"name": "a" * 5000}}})


def test_a_partner_past_its_rate_answers_429_with_retry_after() -> None:
    with RunningGateway("memory://", rate_limit=1.0, rate_burst=3, fulfilment=False) as running:
        answers = [requests.get(f"{running.url}{CUSTOMERS}?limit=1", timeout=30) for _ in range(5)]
        assert [answer.status_code for answer in answers[:3]] == [200, 200, 200]
        refused = answers[3]
        assert "request rate" in error_of(refused, 429)
        assert 1 <= int(refused.headers["Retry-After"]) <= 2
        time.sleep(int(refused.headers["Retry-After"]))
        assert requests.get(f"{running.url}{CUSTOMERS}?limit=1", timeout=30).status_code == 200


def test_the_rate_counts_per_partner_when_authenticated_else_per_address() -> None:
    clock = [0.0]
    buckets = RateBuckets(1.0, 2, clock=lambda: clock[0])
    alice = partner_of({"tmfgate.principal": SimpleNamespace(partner="alice"), "client": ("10.0.0.1", 1)})
    bob = partner_of({"tmfgate.principal": SimpleNamespace(partner="bob"), "client": ("10.0.0.1", 2)})
    anonymous = partner_of({"client": ("10.0.0.1", 3)})
    assert len({alice, bob, anonymous}) == 3
    assert [buckets.take(alice) for _ in range(3)] == [0, 0, 1.0]  # the burst, then a second to wait
    assert buckets.take(bob) == 0 and buckets.take(anonymous) == 0
    clock[0] = 1.0
    assert buckets.take(alice) == 0
