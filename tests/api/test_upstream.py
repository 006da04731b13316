"""APIs routed to an upstream: a second tmfgate server answers TMF639, TMF638 and TMF641 through this one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.conftest import RunningGateway

RESOURCES = "/tmf-api/resourceInventoryManagement/v4/resource"
SERVICE_ORDERS = "/tmf-api/serviceOrdering/v4/serviceOrder"
CANCELS = "/tmf-api/serviceOrdering/v4/cancelServiceOrder"
PARTIES = "/tmf-api/party/v4/individual"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second tmfgate server: the OSS whose inventory and service orders the gateway fronts."""
    folder = tmp_path_factory.mktemp("oss")
    with RunningGateway(f"sqlite:///{folder / 'oss.db'}", fulfilment=False) as oss:  # HTTP on a port of its own
        yield oss.url


@pytest.fixture(scope="module")
def gateway(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    config = tmp_path_factory.mktemp("bss") / "tmfgate.yaml"
    config.write_text(
        "apis:\n"
        f"  tmf639: {{upstream: {{url: '{upstream}/tmf-api/resourceInventoryManagement/v4'}}}}\n"
        f"  tmf641_service_ordering: {{upstream: {{url: '{upstream}/tmf-api/serviceOrdering/v4', timeout: 5}}}}\n"
    )
    with RunningGateway("memory://", config=str(config), fulfilment=False) as running:
        yield running


def create(gateway: RunningGateway, **body: object) -> dict[str, object]:
    response = requests.post(gateway.url + RESOURCES, json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_create_is_stored_upstream_with_hrefs_of_the_gateway(gateway: RunningGateway, upstream: str) -> None:
    response = requests.post(gateway.url + RESOURCES, json={"name": "olt-1", "category": "olt"}, timeout=10)
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["href"] == f"{gateway.url}{RESOURCES}/{made['id']}" == response.headers["location"]
    there = requests.get(f"{upstream}{RESOURCES}/{made['id']}", timeout=10).json()
    assert there["name"] == "olt-1" and there["href"] == f"{upstream}{RESOURCES}/{made['id']}"
    mine = requests.get(f"{gateway.url}{RESOURCES}/{made['id']}?fields=name", timeout=10).json()
    assert mine == {"id": made["id"], "href": made["href"], "name": "olt-1"}


def test_a_local_api_stays_local(gateway: RunningGateway, upstream: str) -> None:
    response = requests.post(gateway.url + PARTIES, json={"givenName": "Ada", "familyName": "L"}, timeout=10)
    assert response.status_code == 201, response.text
    assert requests.get(f"{upstream}{PARTIES}/{response.json()['id']}", timeout=10).status_code == 404


def test_list_passes_filters_sort_paging_and_counts_through(gateway: RunningGateway) -> None:
    category = "rack-" + gateway.url.rsplit(":", 1)[1]
    for name in ("c", "a", "b"):
        create(gateway, name=name, category=category)
    create(gateway, name="z", category="other-" + category)
    url = f"{gateway.url}{RESOURCES}?category={category}&sort=-name&limit=2&fields=name"
    response = requests.get(url, timeout=10)
    assert response.status_code == 206
    assert (response.headers["x-total-count"], response.headers["x-result-count"]) == ("3", "2")
    assert [r["name"] for r in response.json()] == ["c", "b"]
    assert all(r["href"].startswith(gateway.url) and set(r) == {"id", "href", "name"} for r in response.json())
    rest = requests.get(url + "&offset=2", timeout=10)
    assert [r["name"] for r in rest.json()] == ["a"] and rest.headers["x-total-count"] == "3"


def test_both_patch_types_are_forwarded(gateway: RunningGateway, upstream: str) -> None:
    made = create(gateway, name="port-1", description="old")
    href = f"{gateway.url}{RESOURCES}/{made['id']}"
    merged = requests.patch(
        href, json={"description": "new"}, headers={"content-type": "application/merge-patch+json"}, timeout=10
    )
    assert merged.status_code == 200 and merged.json()["description"] == "new", merged.text
    patched = requests.patch(
        href,
        data='[{"op": "replace", "path": "/name", "value": "port-2"}, {"op": "remove", "path": "/description"}]',
        headers={"content-type": "application/json-patch+json"},
        timeout=10,
    )
    assert patched.status_code == 200, patched.text
    there = requests.get(f"{upstream}{RESOURCES}/{made['id']}", timeout=10).json()
    assert there["name"] == "port-2" and "description" not in there
    assert patched.json()["href"] == href


def test_delete_is_forwarded(gateway: RunningGateway, upstream: str) -> None:
    made = create(gateway, name="gone")
    assert requests.delete(f"{gateway.url}{RESOURCES}/{made['id']}", timeout=10).status_code == 204
    assert requests.get(f"{upstream}{RESOURCES}/{made['id']}", timeout=10).status_code == 404
    missing = requests.get(f"{gateway.url}{RESOURCES}/{made['id']}", timeout=10)
    assert missing.status_code == 404 and missing.json()["@type"] == "Error"
    assert requests.delete(f"{gateway.url}{RESOURCES}/{made['id']}", timeout=10).status_code == 404


def test_a_bad_request_is_refused_before_it_leaves(gateway: RunningGateway) -> None:
    response = requests.post(gateway.url + RESOURCES, json={"category": "no name"}, timeout=10)
    assert response.status_code == 400 and "name" in response.json()["message"]


def test_orders_and_their_task_resources_are_forwarded(gateway: RunningGateway, upstream: str) -> None:
    order = {"serviceOrderItem": [{"id": "1", "action": "add", "service": {"name": "svc"}}]}
    response = requests.post(gateway.url + SERVICE_ORDERS, json=order, timeout=10)
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["href"].startswith(gateway.url) and made["state"] == "acknowledged"
    cancel = {"serviceOrder": {"id": made["id"], "href": made["href"]}}
    response = requests.post(gateway.url + CANCELS, json=cancel, timeout=10)
    assert response.status_code == 201, response.text
    assert response.json()["serviceOrder"]["href"] == made["href"]
    there = requests.get(f"{upstream}{CANCELS}/{response.json()['id']}", timeout=10).json()
    assert there["serviceOrder"]["href"] == f"{upstream}{SERVICE_ORDERS}/{made['id']}"  # rewritten on the way in


def test_an_upstream_4xx_is_kept_as_a_tmf_error(gateway: RunningGateway) -> None:
    order = {"serviceOrderItem": [{"id": "1", "action": "add", "service": {"name": "svc"}}]}
    made = requests.post(gateway.url + SERVICE_ORDERS, json=order, timeout=10).json()
    response = requests.patch(
        f"{gateway.url}{SERVICE_ORDERS}/{made['id']}",
        json={"state": "completed"},
        headers={"content-type": "application/merge-patch+json"},
        timeout=10,
    )
    assert response.status_code == 409, response.text
    assert response.json()["@type"] == "Error" and response.json()["status"] == "409"
