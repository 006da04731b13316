"""TMF637 Product Inventory over HTTP: what orders install, what clients import, and the lifecycle.

A completed product order leaves its product in the inventory, listed per customer, with its
offering, prices, characteristics and realizing services, and each change of it notifies TMF637
subscribers (SQLite and PostgreSQL); clients create, filter, patch along the product lifecycle and
delete products with TMF630 behaviour (the stores are proven by the generic tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.api.end_to_end import Doc, add, database_fixture
from tests.api.test_fulfilment import CUSTOMER, SERVICES, Client, gateway
from tests.conftest import RunningGateway
from tests.listeners import Entry, ListenerProcess

INVENTORY = "/tmf-api/productInventory/v4"
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
# A product a customer had before the gateway: imported, as a CRM migration does.
IMPORTED = {
    "name": "Legacy DSL 16",
    "status": "active",
    "startDate": "2019-03-01T00:00:00Z",
    "productOffering": {"id": "po-dsl-16", "name": "DSL 16", "@referredType": "ProductOffering"},
    "productCharacteristic": [{"name": "downloadSpeed", "valueType": "integer", "value": 16}],
    "relatedParty": [{"id": "cust-7", "role": "customer", "@referredType": "Individual"}],
}

database = database_fixture("tmfgate_products")  # fulfilment on SQLite and PostgreSQL


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """A gateway on the memory store for the plain CRUD of products (no orders are fulfilled)."""
    with RunningGateway("memory://", fulfilment=False) as running:
        yield running.url


def products_of(client: Client, customer: str, **params: str) -> list[Doc]:
    return client.get(f"{INVENTORY}/product", **{"relatedParty.id": customer}, **params)  # type: ignore[no-any-return]


def events(listener: ListenerProcess, product_id: str) -> list[tuple[str, str]]:
    """(eventType, status) of the product's events delivered so far, in arrival order."""
    found = []
    for entry in listener.delivered():
        product = entry["body"]["event"].get("product", {})
        if product.get("id") == product_id:
            found.append((entry["body"]["eventType"], product.get("status")))
    return found


def test_a_completed_order_leaves_an_active_product_that_subscribers_hear_of(database: str, tmp_path: Path) -> None:
    with gateway(database) as client, ListenerProcess(tmp_path / "listener.log") as listener:
        hub = client.post(f"{INVENTORY}/hub", {"callback": listener.callback})
        assert hub["callback"] == listener.callback
        order = client.ended(
            client.order(add("1", "po-fibre-flex", downloadSpeed=500), **{"X-Correlation-ID": "fibre-1"})["id"]
        )
        assert order["state"] == "completed", order.get("note")
        item = order["productOrderItem"][0]

        [product] = products_of(client, CUSTOMER[0]["id"])
        assert product["id"] == item["product"]["id"]
        assert product["href"] == f"{client.url}{INVENTORY}/product/{product['id']}"
        assert client.http.get(product["href"], timeout=10).json() == product
        assert product["@type"] == "Product" and product["status"] == "active" and product["startDate"]
        assert product["productOffering"]["id"] == "po-fibre-flex" and product["name"] == "Fibre flex"
        assert product["productSpecification"]["id"] == "ps-fibre-broadband"
        assert product["relatedParty"] == CUSTOMER and product["billingAccount"] == {"id": "ba-7"}
        assert {(p["productOfferingPrice"]["id"], p["priceType"]) for p in product["productPrice"]} == {
            ("pop-fibre-flex-500", "recurring"),  # the fee of the speed chosen
            ("pop-fibre-installation", "oneTime"),
        }
        assert all(p["price"]["dutyFreeAmount"]["unit"] == "EUR" for p in product["productPrice"])
        assert product["productCharacteristic"] == [{"name": "downloadSpeed", "valueType": "integer", "value": 500}]
        assert product["productOrderItem"] == [
            {
                "orderItemId": "1",
                "productOrderId": order["id"],
                "productOrderHref": order["href"],
                "orderItemAction": "add",
                "role": "orderedBy",
                "@referredType": "ProductOrderItem",
            }
        ]
        assert [s["id"] for s in product["realizingService"]] == [s["id"] for s in item["product"]["realizingService"]]
        assert len(product["realizingService"]) == 2
        for ref in product["realizingService"]:
            assert client.get(f"{SERVICES}/service/{ref['id']}")["state"] == "active"
        assert len(product["realizingResource"]) == 2
        # Another customer has nothing; the filters combine (TMF630).
        assert products_of(client, "cust-other") == []
        assert products_of(client, CUSTOMER[0]["id"], status="terminated") == []
        assert [
            p["id"]
            for p in products_of(client, CUSTOMER[0]["id"], status="active", **{"productOffering.id": "po-fibre-flex"})
        ] == [product["id"]]

        entries = listener.wait_for(
            lambda got: ("ProductCreateEvent", "active") in events(listener, product["id"]),
            20,
            "the ProductCreateEvent",
        )
        created = next(e["body"] for e in entries if e["body"]["eventType"] == "ProductCreateEvent")
        assert created["event"]["product"] == product
        assert created["correlationId"] == "fibre-1" and created["domain"] == "productInventory"

        # A faster speed, ordered: the product changes and takes the fee of that speed; then its
        # deletion terminates it.
        change = {
            "id": "1",
            "action": "modify",
            "productOffering": {"id": "po-fibre-flex"},
            "product": {"id": product["id"], "productCharacteristic": [{"name": "downloadSpeed", "value": 1000}]},
        }
        assert client.ended(client.order(change)["id"])["state"] == "completed"
        removal = {"id": "1", "action": "delete", "product": {"id": product["id"]}}
        assert client.ended(client.order(removal)["id"])["state"] == "completed"
        ended = client.get(f"{INVENTORY}/product/{product['id']}")
        assert ended["status"] == "terminated" and ended["terminationDate"] >= ended["startDate"]
        assert ended["productCharacteristic"][0]["value"] == 1000
        assert {p["productOfferingPrice"]["id"] for p in ended["productPrice"]} == {
            "pop-fibre-flex-1000",
            "pop-fibre-installation",
        }
        assert [i["orderItemAction"] for i in ended["productOrderItem"]] == ["add", "modify", "delete"]
        expected = [
            ("ProductCreateEvent", "active"),
            ("ProductAttributeValueChangeEvent", "active"),
            ("ProductStateChangeEvent", "terminated"),
        ]
        listener.wait_for(lambda got: events(listener, product["id"]) == expected, 20, "the product's events")
        changed = next(
            e["body"] for e in listener.delivered() if e["body"]["eventType"] == "ProductAttributeValueChangeEvent"
        )
        assert changed["fieldPath"] == "productCharacteristic,productOrderItem,productPrice"
        # What fulfilment wrote is a valid TMF637 product: a client can PATCH it (the result is checked).
        patched = client.http.patch(
            f"{client.url}{INVENTORY}/product/{product['id']}",
            json={"description": "checked"},
            headers=MERGE,
            timeout=10,
        )
        assert patched.status_code == 200, patched.text


def test_a_client_imports_a_product_and_lists_it_with_filters_and_fields(url: str) -> None:
    created = requests.post(f"{url}{INVENTORY}/product", json=IMPORTED, timeout=10)
    assert created.status_code == 201, created.text
    product = created.json()
    assert created.headers["Location"] == product["href"] == f"{url}{INVENTORY}/product/{product['id']}"
    assert product["@type"] == "Product" and product["status"] == "active"
    assert product["startDate"] == IMPORTED["startDate"]
    pending = requests.post(
        f"{url}{INVENTORY}/product",
        timeout=10,
        json={"name": "Fibre to come", "status": "pendingActive", "relatedParty": IMPORTED["relatedParty"]},
    ).json()
    assert "startDate" not in pending
    now_active = requests.post(
        f"{url}{INVENTORY}/product", timeout=10, json={"name": "Phone", "status": "active", "isCustomerVisible": False}
    ).json()
    assert now_active["startDate"]  # a product active from now on started now

    mine = requests.get(f"{url}{INVENTORY}/product", timeout=10, params={"relatedParty.id": "cust-7"})
    assert mine.status_code == 200 and mine.headers["X-Total-Count"] == "2"
    assert {p["id"] for p in mine.json()} == {product["id"], pending["id"]}
    active = requests.get(
        f"{url}{INVENTORY}/product",
        timeout=10,
        params={"relatedParty.id": "cust-7", "status": "active", "fields": "name,status"},
    ).json()
    assert active == [{"id": product["id"], "href": product["href"], "name": "Legacy DSL 16", "status": "active"}]
    old = requests.get(f"{url}{INVENTORY}/product", timeout=10, params={"startDate.lt": "2020-01-01"}).json()
    assert [p["id"] for p in old] == [product["id"]]
    hidden = requests.get(f"{url}{INVENTORY}/product", timeout=10, params={"isCustomerVisible": "false"}).json()
    assert [p["id"] for p in hidden] == [now_active["id"]]
    by_speed = requests.get(
        f"{url}{INVENTORY}/product",
        timeout=10,
        params={"productCharacteristic.value": "16", "fields": "productCharacteristic.value"},
    ).json()
    assert by_speed == [{"id": product["id"], "href": product["href"], "productCharacteristic": [{"value": 16}]}]
    one = requests.get(f"{url}{INVENTORY}/product/{product['id']}", timeout=10, params={"fields": "status"})
    assert one.json() == {"id": product["id"], "href": product["href"], "status": "active"}
    # An active product is not deleted (billing would lose it): it ends first, then it may go.
    refused = requests.delete(f"{url}{INVENTORY}/product/{now_active['id']}", timeout=10)
    assert refused.status_code == 409 and "it ends through a product order" in refused.json()["message"]
    ended = requests.patch(
        f"{url}{INVENTORY}/product/{now_active['id']}",
        json={"status": "terminated"},
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=10,
    )
    assert ended.status_code == 200, ended.text
    assert requests.delete(f"{url}{INVENTORY}/product/{now_active['id']}", timeout=10).status_code == 204
    gone = requests.get(f"{url}{INVENTORY}/product/{now_active['id']}", timeout=10)
    assert gone.status_code == 404 and gone.json()["code"] == "60"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"name": "No status"}, "missing the required attribute status"),
        ({**IMPORTED, "status": "installed"}, "status"),
        ({**IMPORTED, "id": "p-1"}, "id is set by the server"),
        ({**IMPORTED, "href": "http://elsewhere/p-1"}, "href is set by the server"),
        ({**IMPORTED, "startDate": "yesterday"}, "startDate"),
        ({**IMPORTED, "startDate": "2019-12-31T23:59:60Z"}, "not a date-time the inventory can use"),
        ({**IMPORTED, "terminationDate": "2018-01-01T00:00:00Z"}, "a product ends after it starts"),
        ({**IMPORTED, "relatedParty": [{"id": "cust-7"}]}, "@referredType"),
        ({**IMPORTED, "productPrice": [{"name": "Monthly fee"}]}, "price"),
    ],
    ids=[
        "no-status",
        "unknown-status",
        "id",
        "href",
        "bad-date",
        "leap-second",
        "ends-before-start",
        "party-without-type",
        "price-without-amount",
    ],
)
def test_a_bad_product_is_refused_with_a_tmf_error_and_nothing_stored(url: str, body: Doc, says: str) -> None:
    before = requests.get(f"{url}{INVENTORY}/product", timeout=10).headers["X-Total-Count"]
    refused = requests.post(f"{url}{INVENTORY}/product", json=body, timeout=10)
    assert refused.status_code == 400, refused.text
    error = refused.json()
    assert error["status"] == "400" and error["code"] and error["reason"]
    assert says in error["message"], error["message"]
    assert requests.get(f"{url}{INVENTORY}/product", timeout=10).headers["X-Total-Count"] == before


def test_the_status_follows_the_product_lifecycle(url: str, tmp_path: Path) -> None:
    with ListenerProcess(tmp_path / "listener.log") as listener:
        query = "eventType=ProductStateChangeEvent,ProductDeleteEvent"
        hub = requests.post(f"{url}{INVENTORY}/hub", json={"callback": listener.callback, "query": query}, timeout=10)
        assert hub.status_code == 201, hub.text
        product = requests.post(
            f"{url}{INVENTORY}/product", timeout=10, json={"name": "Mobile 10 GB", "status": "created"}
        ).json()
        path = f"{url}{INVENTORY}/product/{product['id']}"

        def patch(body: Any, headers: dict[str, str] = MERGE) -> requests.Response:
            return requests.patch(path, json=body, headers=headers, timeout=10)

        early = patch({"status": "terminated"})
        assert early.status_code == 409, early.text
        assert early.json()["reason"] == "Illegal state change"
        assert early.json()["message"] == (
            "The product cannot change from created to terminated: from created it "
            "can go to aborted, active, cancelled, pendingActive."
        )
        steps = [
            ("pendingActive", MERGE),
            ("active", JSON_PATCH),
            ("suspended", MERGE),
            ("active", MERGE),
            ("pendingTerminate", MERGE),
            ("terminated", MERGE),
        ]
        for status, headers in steps:
            body: Any = (
                [{"op": "replace", "path": "/status", "value": status}] if headers is JSON_PATCH else {"status": status}
            )
            changed = patch(body, headers)
            assert changed.status_code == 200, changed.text
            assert changed.json()["status"] == status
        ended = requests.get(path, timeout=10).json()
        assert ended["startDate"] <= ended["terminationDate"]  # stamped when it went active, then terminated
        final = patch({"status": "active"})
        assert final.status_code == 409 and "terminated is a final state" in final.json()["message"]
        removed = patch([{"op": "remove", "path": "/status"}], JSON_PATCH)
        assert removed.status_code == 400 and "status cannot be removed" in removed.json()["message"]
        assert patch({"status": "paused"}).status_code == 400
        # Other attributes of an ended product may still be corrected (an attribute change, no state change).
        assert patch({"description": "Ended at the customer's request"}).status_code == 200

        def statuses(got: list[Entry]) -> list[str]:
            return [
                e["body"]["event"]["product"]["status"]
                for e in got
                if e["body"]["event"]["product"]["id"] == product["id"]
            ]

        listener.wait_for(lambda got: statuses(got) == [s for s, _ in steps], 20, "the state change events")
        assert {e["body"]["eventType"] for e in listener.delivered()} == {"ProductStateChangeEvent"}
        assert requests.get(path, timeout=10).json()["description"] == "Ended at the customer's request"
        assert requests.delete(path, timeout=10).status_code == 204
        got = listener.wait_for(
            lambda got: bool(got) and got[-1]["body"]["eventType"] == "ProductDeleteEvent", 20, "the ProductDeleteEvent"
        )
        assert got[-1]["body"]["event"]["product"]["description"] == "Ended at the customer's request"
        assert requests.delete(f"{url}{INVENTORY}/hub/{hub.json()['id']}", timeout=10).status_code == 204


def test_aborted_is_accepted_with_or_without_the_official_trailing_space(url: str) -> None:
    product = requests.post(
        f"{url}{INVENTORY}/product",
        timeout=10,
        json={"name": "Fibre that could not be laid", "status": "pendingActive"},
    ).json()
    aborted = requests.patch(
        f"{url}{INVENTORY}/product/{product['id']}", json={"status": "aborted "}, headers=MERGE, timeout=10
    )
    assert aborted.status_code == 200 and aborted.json()["status"] == "aborted"
    imported = requests.post(f"{url}{INVENTORY}/product", timeout=10, json={"name": "Old", "status": "aborted "})
    assert imported.status_code == 201 and imported.json()["status"] == "aborted"
    found = requests.get(f"{url}{INVENTORY}/product", timeout=10, params={"status": "aborted"}).json()
    assert {p["id"] for p in found} >= {product["id"], imported.json()["id"]}


def test_an_unknown_product_is_a_404(url: str) -> None:
    for method in ("get", "patch", "delete"):
        answer = requests.request(
            method, f"{url}{INVENTORY}/product/no-such-product", json={"name": "x"}, headers=MERGE, timeout=10
        )
        assert answer.status_code == 404 and "No product with id no-such-product" in answer.json()["message"]


@pytest.mark.parametrize("end", ["cancelled", "aborted"])
def test_an_order_cannot_change_a_product_that_has_ended(end: str) -> None:
    with gateway("memory://") as client:
        product = client.post(
            f"{INVENTORY}/product", {"name": "Fibre 100", "status": "created", "relatedParty": CUSTOMER}
        )
        ended = client.http.patch(
            f"{client.url}{INVENTORY}/product/{product['id']}", json={"status": end}, headers=MERGE, timeout=10
        )
        assert ended.status_code == 200, ended.text
        for action in ("modify", "delete"):
            item = {
                "id": "1",
                "action": action,
                "productOffering": {"id": "po-fibre-100"},
                "product": {"id": product["id"]},
            }
            order = client.ended(client.order(item)["id"])
            assert order["state"] == "failed" and "is not one" in order["note"][0]["text"], order
        assert client.get(f"{INVENTORY}/product/{product['id']}")["status"] == end
