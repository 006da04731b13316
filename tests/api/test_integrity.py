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
