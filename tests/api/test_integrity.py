"""Order-to-cash integrity over HTTP, on SQLite and PostgreSQL: what clients cannot undo by hand.

Resources services hold are neither freed nor deleted by a client, and pools never hand one resource
to two services, also under concurrent orders; products that have started, and customers who have
them, are not deleted behind the orders' back.
"""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import requests

from tests.api.end_to_end import Doc, add, database_fixture
from tests.api.test_fulfilment import INVENTORY, RESOURCES, SERVICES, Client, catalog, gateway

CUSTOMERS = "/tmf-api/customerManagement/v4"
MERGE = {"Content-Type": "application/merge-patch+json"}

database = database_fixture("tmfgate_integrity")


def _patch(client: Client, path: str, body: Doc) -> requests.Response:
    return client.http.patch(client.url + path, json=body, headers=MERGE, timeout=10)


def _delete(client: Client, path: str) -> requests.Response:
    return client.http.delete(client.url + path, timeout=10)


def test_a_resource_a_service_holds_is_not_freed_or_deleted_by_hand(database: str, tmp_path: Path) -> None:
    with gateway(database, catalog=catalog(tmp_path, geographic_number=2)) as client:
        order = client.ended(client.order(add("1", "po-home-phone"))["id"])
        product = order["productOrderItem"][0]["product"]
        line = client.service(product["realizingService"][0])
        number = line["supportingResource"][0]
        path = f"{RESOURCES}/resource/{number['id']}"
        for body in ({"resourceStatus": "available", "usageState": "idle"}, {"usageState": "idle"}):
            refused = _patch(client, path, body)
            assert refused.status_code == 409, refused.text
            assert line["id"] in refused.json()["message"] and "terminated" in refused.json()["message"]
        refused = _delete(client, path)
        assert refused.status_code == 409 and line["id"] in refused.json()["message"]
        held = client.get(path)
        assert (held["resourceStatus"], held["usageState"]) == ("reserved", "active")
        assert _patch(client, path, {"description": "patched while held"}).status_code == 200  # other changes are fine

        # The next order gets the other number, never the held one.
        other = client.ended(client.order(add("1", "po-home-phone"))["id"])
        other_line = client.service(other["productOrderItem"][0]["product"]["realizingService"][0])
        assert other_line["supportingResource"][0]["id"] != number["id"]

        removal = {"id": "1", "action": "delete", "product": {"id": product["id"]}}
        assert client.ended(client.order(removal)["id"])["state"] == "completed"
        freed = client.get(path)
        assert (freed["resourceStatus"], freed["usageState"]) == ("available", "idle")
        assert _delete(client, path).status_code == 204


def test_twenty_concurrent_orders_never_share_a_resource(database: str, tmp_path: Path) -> None:
    with gateway(database, catalog=catalog(tmp_path, sim_card=20, msisdn=21)) as client:
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            orders = list(pool.map(lambda n: client.order(add("1", "po-mobile-10gb")), range(20)))
        ended = [client.ended(order["id"], timeout=120) for order in orders]
        assert [order["state"] for order in ended] == ["completed"] * 20, [o.get("note") for o in ended]
        active = client.get(f"{SERVICES}/service", state="active", limit="1000")
        held = [ref["id"] for service in active for ref in service.get("supportingResource", [])]
        assert len(held) == len(set(held)) == 40  # a SIM card and a number per line, none twice
        sims = client.reserved("rs-sim-card")
        assert len(sims) == 20 and {s["id"] for s in sims} <= set(held)
        late = client.ended(client.order(add("1", "po-mobile-10gb"))["id"])
        assert late["state"] == "failed" and "exhausted" in " ".join(note["text"] for note in late["note"])


def test_an_active_product_and_a_customer_with_one_are_not_deleted(database: str) -> None:
    with gateway(database) as client:
        ada = client.post(
            f"{CUSTOMERS}/customer", {"name": "Ada", "engagedParty": {"id": "party-ada", "@referredType": "Individual"}}
        )
        party = [{"id": ada["id"], "role": "customer", "@referredType": "Individual"}]
        body = {"productOrderItem": [add("1", "po-home-phone")], "relatedParty": party}
        order = client.ended(client.post("/tmf-api/productOrderingManagement/v4/productOrder", body)["id"])
        product = order["productOrderItem"][0]["product"]
        refused = _delete(client, f"{INVENTORY}/product/{product['id']}")
        assert refused.status_code == 409 and "delete item" in refused.json()["message"]
        assert client.get(f"{INVENTORY}/product/{product['id']}")["status"] == "active"
        refused = _delete(client, f"{CUSTOMERS}/customer/{ada['id']}")
        assert refused.status_code == 409 and product["id"] in refused.json()["message"]
        assert client.get(f"{CUSTOMERS}/customer/{ada['id']}")["id"] == ada["id"]

        removal = {"id": "1", "action": "delete", "product": {"id": product["id"]}}
        assert client.ended(client.order(removal)["id"])["state"] == "completed"
        assert _delete(client, f"{INVENTORY}/product/{product['id']}").status_code == 204
        assert _delete(client, f"{CUSTOMERS}/customer/{ada['id']}").status_code == 204


def test_after_a_rollback_every_level_reads_the_same_and_the_order_says_why(database: str, tmp_path: Path) -> None:
    with gateway(database, catalog=catalog(tmp_path, ipv4_address=0)) as client:  # no address to give
        order = client.ended(client.order(add("net", "po-fibre-500"))["id"])
        assert order["state"] == "failed"
        [failure] = [note for note in order["note"] if note.get("@type") == "OrderItemFailureNote"]
        assert (failure["@baseType"], failure["orderItemId"], failure["code"]) == (
            "Note",
            "net",
            "RESOURCE_POOL_EXHAUSTED",
        )
        assert failure["text"].startswith("Item net failed; service order ") and "is exhausted" in failure["text"]
        service_order = client.service_order(order)
        items = {item["id"]: item for item in service_order["serviceOrderItem"]}
        assert {id: item["state"] for id, item in items.items()} == {"net-1": "cancelled", "net-2": "failed"}
        assert service_order["state"] == "failed"  # nothing it did is kept
        [access] = [item["service"] for item in items.values() if item["state"] == "cancelled"]
        assert client.service(access)["state"] == "terminated"
        codes = [(n["orderItemId"], n["code"]) for n in service_order["note"] if "code" in n]
        assert codes == [("net-2", "RESOURCE_POOL_EXHAUSTED")]

        # Beside an item that completes, the service order is partial and only the failed item's services end.
        mixed = client.ended(client.order(add("home", "po-home-phone"), add("net", "po-fibre-500"))["id"])
        assert mixed["state"] == "partial"
        assert [(n["orderItemId"], n["code"]) for n in mixed["note"] if "code" in n] == [
            ("net", "RESOURCE_POOL_EXHAUSTED")
        ]
        service_order = client.service_order(mixed)
        states = {item["id"]: item["state"] for item in service_order["serviceOrderItem"]}
        assert (service_order["state"], states) == (
            "partial",
            {"home-1": "completed", "net-1": "cancelled", "net-2": "failed"},
        )
        patched = _patch(
            client, f"/tmf-api/productOrderingManagement/v4/productOrder/{mixed['id']}", {"description": "x"}
        )
        assert patched.status_code == 200, patched.text  # the failure notes are valid TMF622 notes

        # An item decomposition refuses gets a note of its own with its code.
        removal = client.ended(client.order({"id": "gone", "action": "delete", "product": {"id": "nothing"}})["id"])
        assert [(n["orderItemId"], n["code"]) for n in removal["note"] if "code" in n] == [
            ("gone", "PRODUCT_NOT_FOUND")
        ]
