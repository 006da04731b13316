"""TMF620 catalog management over HTTP, on SQLite and PostgreSQL.

Entries are created, patched and deleted through the API; lifecycleStatus moves only along its steps
(409 otherwise); a change to a launched offering makes its next version; only launched offerings are
ordered, at the prices the catalog holds when the order is captured; the catalog file seeds an empty
store only; every change reaches hub subscribers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.api.end_to_end import Doc, add, database_fixture
from tests.api.test_fulfilment import CUSTOMER, ORDERING, Client
from tests.conftest import RunningGateway
from tests.listeners import ListenerProcess

CATALOG = "/tmf-api/productCatalogManagement/v4"
MERGE = {"Content-Type": "application/merge-patch+json"}

database = database_fixture("tmfgate_catalog_authoring")


class Author(Client):
    """A catalog manager's calls."""

    def patch(self, path: str, body: Doc, status: int = 200) -> Doc:
        response = self.http.patch(self.url + path, json=body, headers=MERGE, timeout=10)
        assert response.status_code == status, response.text
        return response.json()  # type: ignore[no-any-return]

    def delete(self, path: str, status: int = 204) -> requests.Response:
        response = self.http.delete(self.url + path, timeout=10)
        assert response.status_code == status, response.text
        return response

    def status(self, path: str) -> int:
        return self.http.get(self.url + path, timeout=10).status_code

    def offering(self, price: Doc, **more: Any) -> Doc:
        body = {
            "name": "Fibre 2000",
            "productSpecification": {"id": "ps-fibre-broadband"},
            "productOfferingPrice": [{"id": price["id"], "name": price["name"]}],
            **more,
        }
        return self.post(f"{CATALOG}/productOffering", body)

    def price(self, value: str) -> Doc:
        body = {
            "name": f"Fibre 2000 monthly fee {value}",
            "priceType": "recurring",
            "recurringChargePeriodType": "month",
            "price": {"unit": "EUR", "value": float(value)},
            "lifecycleStatus": "launched",
        }
        return self.post(f"{CATALOG}/productOfferingPrice", body)

    def launch(self, offering: Doc) -> Doc:
        self.patch(f"{CATALOG}/productOffering/{offering['id']}", {"lifecycleStatus": "inTest"})
        return self.patch(f"{CATALOG}/productOffering/{offering['id']}", {"lifecycleStatus": "launched"})

    def captured_price(self, offering: Doc) -> float:
        body = {"productOrderItem": [add("1", offering["id"])], "relatedParty": CUSTOMER}
        order = self.post(f"{ORDERING}/productOrder", body)
        return float(order["productOrderItem"][0]["itemPrice"][0]["price"]["dutyFreeAmount"]["value"])


@contextmanager
def author(database: str, **settings: Any) -> Iterator[Author]:
    with RunningGateway(database, retry_delay=0.1, retry_delay_max=0.5, **settings) as running:
        yield Author(running.url)


@pytest.fixture(scope="module")
def client(store: str) -> Iterator[Author]:
    """One gateway per store for the tests that make entries of their own (fulfilment off: captured
    orders are all they look at, and the catalog still checks and prices them)."""
    with author(store) as running:
        yield running


def test_an_offering_is_designed_tested_launched_and_only_then_ordered(client: Author) -> None:
    offering = client.offering(client.price("59.00"))
    assert offering["lifecycleStatus"] == "inDesign" and offering["version"] == "1.0"
    assert client.get(f"{CATALOG}/productOffering/{offering['id']}") == offering
    body = {"productOrderItem": [add("1", offering["id"])], "relatedParty": CUSTOMER}
    refused = client.post(f"{ORDERING}/productOrder", body, status=400)
    assert "is not sellable: its lifecycleStatus is inDesign" in refused["message"]
    skipped = client.patch(f"{CATALOG}/productOffering/{offering['id']}", {"lifecycleStatus": "launched"}, 409)
    assert "cannot change from inDesign to launched" in skipped["message"]
    launched = client.launch(offering)
    assert launched["lifecycleStatus"] == "launched" and launched["version"] == "1.0"  # a move is no new version
    assert client.captured_price(offering) == 59.0


def test_a_launched_offering_changes_by_new_versions_and_new_orders_take_the_new_price(client: Author) -> None:
    offering = client.launch(client.offering(client.price("59.00")))
    assert client.captured_price(offering) == 59.0
    cheaper = client.price("49.00")
    ref = [{"id": cheaper["id"], "name": cheaper["name"]}]
    changed = client.patch(f"{CATALOG}/productOffering/{offering['id']}", {"productOfferingPrice": ref})
    assert changed["version"] == "2.0" and changed["lifecycleStatus"] == "launched"
    assert client.captured_price(offering) == 49.0
    named = client.patch(f"{CATALOG}/productOffering/{offering['id']}", {"name": "Fibre 2G", "version": "2.1"})
    assert named["version"] == "2.1"  # a version the author gives is kept
    orders = client.get(f"{ORDERING}/productOrder", **{"productOrderItem.productOffering.id": offering["id"]})
    assert sorted(o["productOrderItem"][0]["itemPrice"][0]["price"]["dutyFreeAmount"]["value"] for o in orders) == [
        49.0,
        59.0,
    ]


def test_an_entry_on_sale_is_retired_before_it_is_deleted(client: Author) -> None:
    offering = client.launch(client.offering(client.price("59.00")))
    path = f"{CATALOG}/productOffering/{offering['id']}"
    refused = client.delete(path, status=409)
    assert "retire it" in refused.json()["message"]
    client.patch(path, {"lifecycleStatus": "retired"})
    body = {"productOrderItem": [add("1", offering["id"])], "relatedParty": CUSTOMER}
    assert "its lifecycleStatus is retired" in client.post(f"{ORDERING}/productOrder", body, status=400)["message"]
    client.patch(path, {"lifecycleStatus": "obsolete"})
    final = client.patch(path, {"lifecycleStatus": "launched"}, status=409)
    assert "obsolete is a final state" in final["message"]
    client.delete(path)
    assert client.status(path) == 404


def test_bad_entries_are_refused_and_nothing_is_stored(client: Author) -> None:
    before = client.get(f"{CATALOG}/productOffering", fields="id")
    dangling = {"name": "Ghost", "productOfferingPrice": [{"id": "pop-nowhere"}]}
    refused = client.post(f"{CATALOG}/productOffering", dangling, status=400)
    assert (
        refused["message"]
        == "productOfferingPrice refers to the productOfferingPrice pop-nowhere, which the catalog lacks."
    )
    own = client.post(f"{CATALOG}/productOffering", {"name": "X", "lifecycleStatus": "onHold"})
    assert own["lifecycleStatus"] == "onHold"  # an operator's own step before design
    path = f"{CATALOG}/productOffering/{own['id']}"
    skipping = client.patch(path, {"lifecycleStatus": "launched"}, 409)
    assert "entered at inDesign, inStudy, rejected" in skipping["message"]
    assert client.patch(path, {"lifecycleStatus": "inDesign"})["lifecycleStatus"] == "inDesign"
    assert "cannot change from inDesign to onHold" in client.patch(path, {"lifecycleStatus": "onHold"}, 409)["message"]
    client.delete(path)
    daily = {
        "name": "Daily",
        "priceType": "recurring",
        "recurringChargePeriodType": "day",
        "price": {"unit": "EUR", "value": 1},
    }
    on_sale = client.post(f"{CATALOG}/productOfferingPrice", {**daily, "lifecycleStatus": "active"}, status=400)
    assert "billing" in on_sale["message"]  # a price on sale is one billing charges
    usage = {"name": "Data", "priceType": "usage", "lifecycleStatus": "launched", "price": {"unit": "EUR", "value": 2}}
    unmeasured = client.post(f"{CATALOG}/productOfferingPrice", usage, status=400)
    assert "unitOfMeasure.units" in unmeasured["message"]  # a usage price is checked as usage rating reads it
    client.post(f"{CATALOG}/productOfferingPrice", {**usage, "unitOfMeasure": {"amount": 1, "units": "GB"}})
    drafted = client.post(f"{CATALOG}/productOfferingPrice", daily)  # a draft may be anything TMF620 allows
    priced = {"name": "Daily deal", "productOfferingPrice": [{"id": drafted["id"]}]}
    refused_offer = client.post(f"{CATALOG}/productOffering", priced, status=400)
    assert refused_offer["message"].startswith(f'productOfferingPrice {drafted["id"]} "Daily": ')
    assert client.get(f"{CATALOG}/productOffering", fields="id") == before
    category = client.post(f"{CATALOG}/category", {"name": "Broadband"})
    catalog = client.post(f"{CATALOG}/catalog", {"name": "Retail", "category": [{"id": category["id"]}]})
    assert catalog["lifecycleStatus"] == "inDesign"
    orphan = client.post(f"{CATALOG}/category", {"name": "Sub", "parentId": "cat-nowhere"}, status=400)
    assert "parentId refers to the category cat-nowhere" in orphan["message"]


def test_the_file_seeds_an_empty_store_and_later_changes_stay(database: str) -> None:
    with author(database) as client:
        assert client.get(f"{CATALOG}/productOffering/po-home-phone")["lifecycleStatus"] == "Active"
        client.patch(f"{CATALOG}/productOffering/po-home-phone", {"lifecycleStatus": "retired"})
        client.delete(f"{CATALOG}/productOffering/po-home-phone")
    with author(database) as client:  # restarted on the same store: the file does not come back
        assert client.status(f"{CATALOG}/productOffering/po-home-phone") == 404
        assert client.get(f"{CATALOG}/productOffering/po-fibre-500")["lifecycleStatus"] == "Active"


def test_every_catalog_change_reaches_hub_subscribers(client: Author, tmp_path: Path) -> None:
    with ListenerProcess(tmp_path / "listener.jsonl") as listener:
        hub = client.post(f"{CATALOG}/hub", {"callback": listener.callback})
        offering = client.launch(client.offering(client.price("59.00")))
        client.patch(f"{CATALOG}/productOffering/{offering['id']}", {"description": "Two gigabits"})
        client.patch(f"{CATALOG}/productOffering/{offering['id']}", {"lifecycleStatus": "retired"})
        client.delete(f"{CATALOG}/productOffering/{offering['id']}")
        wanted = [  # a resource's events arrive in order; the price's may come before or after
            "ProductOfferingCreateEvent",
            "ProductOfferingStateChangeEvent",
            "ProductOfferingStateChangeEvent",
            "ProductOfferingAttributeValueChangeEvent",
            "ProductOfferingStateChangeEvent",
            "ProductOfferingDeleteEvent",
        ]

        def types(entries: list[Any]) -> list[str]:
            return [e["body"]["eventType"] for e in entries]

        def mine(entries: list[Any]) -> dict[str, Any]:
            found: dict[str, Any] = {}
            for entry in entries:
                about = next(iter(entry["body"]["event"].values()))
                if about["id"] in (offering["id"], offering["productOfferingPrice"][0]["id"]):
                    found.setdefault(entry["body"]["eventId"], entry)
            return found

        seen = mine(listener.wait_for(lambda entries: len(mine(entries)) > len(wanted)))
        assert "ProductOfferingPriceCreateEvent" in types(list(seen.values()))
        assert [t for t in types(list(seen.values())) if not t.startswith("ProductOfferingPrice")] == wanted
        change = [e for e in seen.values() if e["body"]["eventType"] == "ProductOfferingAttributeValueChangeEvent"]
        assert change[0]["body"]["event"]["productOffering"]["version"] == "2.0"
        client.delete(f"{CATALOG}/hub/{hub['id']}")  # the store outlives the module on PostgreSQL


SERVICE_CATALOG = "/tmf-api/serviceCatalogManagement/v4"
INVENTORY = "/tmf-api/productInventory/v4"


def test_an_offering_authored_through_both_catalogs_is_ordered_and_fulfilled(client: Author, tmp_path: Path) -> None:
    with ListenerProcess(tmp_path / "listener.jsonl") as listener:
        hub = client.post(f"{SERVICE_CATALOG}/hub", {"callback": listener.callback})
        service = client.post(f"{SERVICE_CATALOG}/serviceSpecification", {"name": "IPTV", "lifecycleStatus": "inTest"})
        service_path = f"{SERVICE_CATALOG}/serviceSpecification/{service['id']}"
        assert client.patch(service_path, {"lifecycleStatus": "active"})["version"] == "1.0"
        assert client.patch(service_path, {"description": "Television over IP"})["version"] == "2.0"
        assert "retire it" in client.delete(service_path, status=409).json()["message"]
        candidate = {"name": "IPTV", "serviceSpecification": {"id": service["id"]}}
        assert client.post(f"{SERVICE_CATALOG}/serviceCandidate", candidate)["lifecycleStatus"] == "inDesign"
        missing = {"name": "Radio", "serviceSpecification": {"id": "ss-nowhere"}}
        assert "ss-nowhere" in client.post(f"{SERVICE_CATALOG}/serviceCandidate", missing, status=400)["message"]

        spec = {"name": "Television", "serviceSpecification": [{"id": service["id"], "name": "IPTV"}]}
        product_spec = client.post(f"{CATALOG}/productSpecification", spec)
        price = client.price("12.50")
        offering = client.offering(price, name="TV", productSpecification={"id": product_spec["id"]})
        client.launch(offering)
        order = client.order(add("1", offering["id"]))
        done = client.ended(order["id"])
        assert done["state"] == "completed", done
        product = client.get(f"{INVENTORY}/product/{done['productOrderItem'][0]['product']['id']}")
        assert product["productPrice"][0]["price"]["dutyFreeAmount"]["value"] == 12.5
        (ref,) = product["realizingService"]
        assert client.service(ref)["serviceSpecification"]["id"] == service["id"]

        def events(entries: list[Any]) -> list[str]:
            about = [e["body"] for e in entries if "serviceSpecification" in e["body"]["event"]]
            return [b["eventType"] for b in about if b["event"]["serviceSpecification"]["id"] == service["id"]]

        seen = events(listener.wait_for(lambda entries: len(events(entries)) >= 3))
        assert seen[:3] == ["ServiceSpecificationCreateEvent"] + ["ServiceSpecificationChangeEvent"] * 2
        client.delete(f"{SERVICE_CATALOG}/hub/{hub['id']}")
