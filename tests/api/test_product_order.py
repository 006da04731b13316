"""TMF622 product orders over HTTP to the gateway in process, on every store: create, read, TMF630 lists, errors."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.api.clients import BASE_URL, AppClient

BASE = "/tmf-api/productOrderingManagement/v4"


class Client:
    """A TMF622 client of one gateway."""

    def __init__(self, http: AppClient) -> None:
        self.base = BASE_URL + BASE
        self.http = http

    def post(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        return self.http.post(self.base + path, json=body, **kw)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(self.base + path, **kw)

    def patch(self, path: str, body: Any, media: str = "application/merge-patch+json") -> httpx.Response:
        import json

        return self.http.patch(self.base + path, content=json.dumps(body), headers={"Content-Type": media})

    def delete(self, path: str) -> httpx.Response:
        return self.http.delete(self.base + path)

    def order(self, **extra: Any) -> dict[str, Any]:
        body = {
            "productOrderItem": [
                {"id": "1", "action": "add", "quantity": 1, "productOffering": {"id": "po-broadband-100"}}
            ],
            "relatedParty": [{"id": "cust-1", "role": "customer", "@referredType": "Individual"}],
            **extra,
        }
        response = self.post("/productOrder", body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def client(app_client: AppClient) -> Client:
    return Client(app_client)


@pytest.fixture
def tag() -> str:
    """A unique externalId, so each test sees only its own orders whatever the store holds."""
    return uuid.uuid4().hex


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == str(status)
    assert body["code"] and body["reason"] and body["message"]
    assert "Traceback" not in response.text
    return body  # type: ignore[no-any-return]


def test_create_sets_server_attributes(client: Client) -> None:
    response = client.post("/productOrder", {"productOrderItem": [{"id": "1", "action": "add"}]})
    assert response.status_code == 201
    order = response.json()
    assert order["href"] == f"{client.base}/productOrder/{order['id']}"
    assert response.headers["Location"] == order["href"]
    assert order["@type"] == "ProductOrder"
    assert order["state"] == "acknowledged"
    assert order["orderDate"].endswith("Z")
    assert order["productOrderItem"][0]["state"] == "acknowledged"
    uuid.UUID(order["id"])
    assert client.get(f"/productOrder/{order['id']}").json() == order


def test_server_owned_attributes_are_refused(client: Client, tag: str) -> None:
    for extra in ({"state": "completed"}, {"id": "mine"}, {"orderDate": "2020-01-01T00:00:00Z"}):
        response = client.post(
            "/productOrder", {"externalId": tag, "productOrderItem": [{"id": "1", "action": "add"}], **extra}
        )
        body = assert_error(response, 400)
        assert next(iter(extra)) in body["message"]
    assert client.get("/productOrder", params={"externalId": tag}).json() == []


def test_invalid_bodies_name_the_attribute(client: Client, tag: str) -> None:
    missing = assert_error(client.post("/productOrder", {"externalId": tag}), 400)
    assert "productOrderItem" in missing["message"]
    wrong = assert_error(
        client.post("/productOrder", {"externalId": tag, "productOrderItem": [{"id": "1", "action": "sell"}]}), 400
    )
    assert (
        "productOrderItem[0].action" in wrong["message"] and '"add", "modify", "delete", "noChange"' in wrong["message"]
    )
    malformed = client.http.post(
        client.base + "/productOrder", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(malformed, 400)
    media = client.http.post(
        client.base + "/productOrder", content=b"<xml/>", headers={"Content-Type": "application/xml"}
    )
    assert_error(media, 415)
    assert client.get("/productOrder", params={"externalId": tag}).headers["X-Total-Count"] == "0"


def test_unknown_ids_paths_and_methods(client: Client) -> None:
    assert_error(client.get(f"/productOrder/{uuid.uuid4()}"), 404)
    assert_error(client.get("/productOrdr"), 404)
    assert_error(client.http.get(client.base.replace("/v4", "/v9") + "/productOrder"), 404)
    order = client.order()
    assert_error(client.http.put(f"{client.base}/productOrder/{order['id']}", json={}), 405)
    task = client.post("/cancelProductOrder", {"productOrder": {"id": order["id"]}}).json()
    assert_error(client.delete(f"/cancelProductOrder/{task['id']}"), 405)
    assert_error(client.patch(f"/cancelProductOrder/{task['id']}", {"state": "done"}), 405)


def test_list_headers_paging_and_sort(client: Client, tag: str) -> None:
    created = [client.order(externalId=tag, priority=str(p)) for p in (3, 1, 2)]
    everything = client.get("/productOrder", params={"externalId": tag})
    assert everything.status_code == 200
    assert everything.headers["X-Total-Count"] == "3" and everything.headers["X-Result-Count"] == "3"
    assert [o["id"] for o in everything.json()] == [o["id"] for o in created]
    page = client.get("/productOrder", params={"externalId": tag, "limit": 2, "offset": 1, "sort": "priority"})
    assert page.status_code == 206
    assert page.headers["X-Total-Count"] == "3" and page.headers["X-Result-Count"] == "2"
    assert [o["priority"] for o in page.json()] == ["2", "3"]
    descending = client.get("/productOrder", params={"externalId": tag, "sort": "-priority"}).json()
    assert [o["priority"] for o in descending] == ["3", "2", "1"]
    assert_error(client.get("/productOrder", params={"limit": "many"}), 400)
    assert_error(client.get("/productOrder", params={"offset": -1}), 400)


def test_fields_keep_id_and_href(client: Client, tag: str) -> None:
    order = client.order(externalId=tag)
    listed = client.get("/productOrder", params={"externalId": tag, "fields": "state"}).json()
    assert listed == [{"id": order["id"], "href": order["href"], "state": "acknowledged"}]
    one = client.get(f"/productOrder/{order['id']}", params={"fields": "orderDate,productOrderItem.state"})
    assert one.json() == {
        "id": order["id"],
        "href": order["href"],
        "orderDate": order["orderDate"],
        "productOrderItem": [{"state": "acknowledged"}],
    }


def test_filters(client: Client, tag: str) -> None:
    a = client.order(
        externalId=tag,
        priority="1",
        category="B2B",
        relatedParty=[{"id": "alice", "role": "customer", "@referredType": "Individual"}],
    )
    b = client.order(
        externalId=tag,
        priority="2",
        category="B2C",
        relatedParty=[{"id": "bob", "role": "customer", "@referredType": "Individual"}],
    )

    def ids(query: str) -> set[str]:
        response = client.get(f"/productOrder?externalId={tag}&{query}")
        assert response.status_code == 200, response.text
        return {o["id"] for o in response.json()}

    assert ids("priority=1") == {a["id"]}
    assert ids('priority="2"') == {b["id"]}
    assert ids("priority=1,2") == {a["id"], b["id"]}
    assert ids("priority=1&priority=2") == {a["id"], b["id"]}
    assert ids("priority=1,2&category=B2C") == {b["id"]}
    assert ids("relatedParty.id=bob") == {b["id"]}
    assert ids("category.ne=B2B") == {b["id"]}
    assert ids("category.regex=^B2") == {a["id"], b["id"]}
    assert ids(f"orderDate.gte={a['orderDate']}") == {a["id"], b["id"]}
    assert ids(f"orderDate>{a['orderDate']}") == {b["id"]} or a["orderDate"] == b["orderDate"]
    assert ids(f"orderDate<{b['orderDate']}") <= {a["id"]}
    assert ids(f"orderDate={a['orderDate'][:10]}") == {a["id"], b["id"]}
    assert ids(f"id={a['id']}") == {a["id"]}
    assert_error(client.get("/productOrder?orderDate.gt=yesterday"), 400)
    assert_error(client.get("/productOrder?category.regex=("), 400)


def test_merge_patch_and_json_patch(client: Client) -> None:
    order = client.order(description="first")
    path = f"/productOrder/{order['id']}"
    merged = client.patch(path, {"description": "second", "category": None})
    assert merged.status_code == 200, merged.text
    assert merged.json()["description"] == "second" and merged.json()["productOrderItem"]
    plain = client.patch(path, {"priority": "4"}, media="application/json")
    assert plain.status_code == 200 and plain.json()["priority"] == "4"
    json_patch = client.patch(
        path,
        [
            {"op": "test", "path": "/priority", "value": "4"},
            {"op": "replace", "path": "/description", "value": "third"},
        ],
        media="application/json-patch+json",
    )
    assert json_patch.status_code == 200, json_patch.text
    assert client.get(path).json()["description"] == "third"
    failed = client.patch(
        path, [{"op": "test", "path": "/priority", "value": "0"}], media="application/json-patch+json"
    )
    assert_error(failed, 409)


def test_patch_refuses_fixed_attributes_and_bad_media(client: Client) -> None:
    order = client.order()
    path = f"/productOrder/{order['id']}"
    for change in ({"id": "other"}, {"href": "http://x/y"}, {"@type": "Other"}, {"orderDate": "2020-01-01T00:00:00Z"}):
        assert_error(client.patch(path, change), 400)
    assert_error(client.patch(path, {"productOrderItem": None}), 400)
    assert_error(client.patch(path, {"priority": 3}), 400)
    assert_error(client.patch(path, "text", media="text/plain"), 415)
    assert_error(client.patch(f"/productOrder/{uuid.uuid4()}", {"priority": "1"}), 404)
    assert client.get(path).json() == order


def test_state_machine(client: Client) -> None:
    order = client.order()
    path = f"/productOrder/{order['id']}"
    assert client.patch(path, {"state": "inProgress"}).json()["state"] == "inProgress"
    conflict = assert_error(client.patch(path, {"state": "acknowledged"}), 409)
    assert "inProgress" in conflict["message"] and "acknowledged" in conflict["message"]
    done = client.patch(path, {"state": "completed"}).json()
    assert done["state"] == "completed" and done["completionDate"].endswith("Z")
    assert_error(client.patch(path, {"state": "inProgress"}), 409)


def test_cancel_product_order(client: Client) -> None:
    order = client.order()
    response = client.post(
        "/cancelProductOrder", {"productOrder": {"id": order["id"]}, "cancellationReason": "Duplicate order"}
    )
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["state"] == "done" and task["effectiveCancellationDate"].endswith("Z")
    assert response.headers["Location"] == task["href"]
    cancelled = client.get(f"/productOrder/{order['id']}").json()
    assert cancelled["state"] == "cancelled"
    assert cancelled["cancellationReason"] == "Duplicate order"
    assert cancelled["productOrderItem"][0]["state"] == "cancelled"
    again = client.post("/cancelProductOrder", {"productOrder": {"id": order["id"]}}).json()
    assert again["state"] == "terminatedWithError" and "cancelled" in again["errorMessage"]
    assert client.get(f"/cancelProductOrder/{task['id']}").json() == task
    assert_error(client.post("/cancelProductOrder", {"productOrder": {"id": "nope"}}), 400)


def test_delete(client: Client) -> None:
    order = client.order()
    assert client.delete(f"/productOrder/{order['id']}").status_code == 204
    assert_error(client.get(f"/productOrder/{order['id']}"), 404)
    assert_error(client.delete(f"/productOrder/{order['id']}"), 404)


def test_hub(client: Client) -> None:
    query = "eventType=ProductOrderStateChangeEvent"
    response = client.post("/hub", {"callback": "http://127.0.0.1:9/listener", "query": query})
    assert response.status_code == 201
    hub = response.json()
    assert hub == {"id": hub["id"], "callback": "http://127.0.0.1:9/listener", "query": query}
    assert response.headers["Location"].endswith(f"/hub/{hub['id']}")
    assert client.delete(f"/hub/{hub['id']}").status_code == 204
    assert_error(client.delete(f"/hub/{hub['id']}"), 404)
    assert_error(client.post("/hub", {"callback": "/relative"}), 400)
    assert_error(client.post("/hub", {"callback": "http://127.0.0.1:9/l", "query": "eventType=Nope"}), 400)


def test_spec_and_docs_are_served(client: Client) -> None:
    spec = client.get("/openapi.json")
    assert spec.status_code == 200 and spec.json()["info"]["title"].startswith("TMF622")
    assert client.get("/ui/").status_code == 200


def test_values_every_store_keeps(client: Client, tag: str) -> None:
    # PostgreSQL JSONB cannot hold NUL characters: refused the same way on every store.
    nul = client.post(
        "/productOrder",
        {"externalId": tag, "description": "a\u0000b", "productOrderItem": [{"id": "1", "action": "add"}]},
    )
    assert_error(nul, 400)
    # Integers beyond 64 bits come back exactly as sent (in an extension attribute: a quantity has a limit).
    big = 12345678901234567890123
    order = client.order(externalId=tag, productOrderItem=[{"id": "1", "action": "add", "serialCount": big}])
    assert order["productOrderItem"][0]["serialCount"] == big
    assert client.get(f"/productOrder/{order['id']}").json()["productOrderItem"][0]["serialCount"] == big
