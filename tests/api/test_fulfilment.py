"""Fulfilment end to end, over HTTP only, on SQLite and PostgreSQL.

A product order (TMF622) is decomposed through the catalog (TMF620/TMF633) into a service order
(TMF641) whose items create, change or terminate services (TMF638/TMF640) holding resources from
the pools (TMF639); states roll up, failures leave nothing allocated, cancellation rolls back, and
a gateway killed in the middle finishes the order after a restart.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.api.end_to_end import Doc, GatewayClient, add, database_fixture, wait
from tests.conftest import RunningGateway
from tests.gateways import served
from tests.listeners import ListenerProcess

ROOT = Path(__file__).resolve().parents[2]
ORDERING = "/tmf-api/productOrderingManagement/v4"
SERVICE_ORDERING = "/tmf-api/serviceOrdering/v4"
SERVICES = "/tmf-api/serviceInventory/v4"
RESOURCES = "/tmf-api/resourceInventoryManagement/v4"
ACTIVATION = "/tmf-api/serviceActivationAndConfiguration/v4"
INVENTORY = "/tmf-api/productInventory/v4"
BILLING = "/tmf-api/customerBillManagement/v4"
CUSTOMER = [{"id": "cust-42", "name": "Ada Lovelace", "role": "customer", "@referredType": "Individual"}]
ENDED = ("completed", "failed", "partial", "cancelled")

database = database_fixture("tmfgate_fulfilment")  # a store of the test's own: the pools start full


def catalog(tmp_path: Path, **pool_sizes: int) -> str:
    """The demo catalog, with the pools of the given resource specifications cut to a size."""
    demo = yaml.safe_load((ROOT / "catalogs" / "demo.yaml").read_text())
    for pool in demo["resourcePool"]:
        size = pool_sizes.get(pool["resourceSpecification"]["id"].removeprefix("rs-").replace("-", "_"))
        if size is not None:
            pool["range"]["to"] = pool["range"]["from"] + size - 1
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(demo))
    return str(path)


class Client(GatewayClient):
    """The HTTP calls a BSS or OSS client makes, against one gateway."""

    def post(self, path: str, body: Doc, status: int = 201, **headers: str) -> Doc:
        response = self.http.post(self.url + path, json=body, headers=headers, timeout=10)
        assert response.status_code == status, response.text
        return response.json()  # type: ignore[no-any-return]

    def order(self, *items: Doc, **headers: str) -> Doc:
        body = {"productOrderItem": list(items), "relatedParty": CUSTOMER, "billingAccount": {"id": "ba-7"}}
        created = self.post(f"{ORDERING}/productOrder", body, **headers)
        assert created["state"] == "acknowledged"  # decomposition happens after the 201, never in it
        return created

    def product_order(self, id: str) -> Doc:
        return self.get(f"{ORDERING}/productOrder/{id}")  # type: ignore[no-any-return]

    def ended(self, id: str, timeout: float = 30) -> Doc:
        return wait(lambda: self.product_order(id), lambda o: o["state"] in ENDED, timeout, f"order {id} to end")

    def service_order(self, product_order: Doc) -> Doc:
        found = self.get(f"{SERVICE_ORDERING}/serviceOrder", externalId=product_order["id"])
        assert len(found) == 1, found
        return found[0]  # type: ignore[no-any-return]

    def service(self, ref: Doc) -> Doc:
        return self.get(f"{SERVICES}/service/{ref['id']}")  # type: ignore[no-any-return]

    def reserved(self, specification: str) -> list[Doc]:
        return self.get(
            f"{RESOURCES}/resource",
            resourceStatus="reserved",  # type: ignore[no-any-return]
            **{"resourceSpecification.id": specification},
        )


@contextmanager
def gateway(database: str, **settings: Any) -> Iterator[Client]:
    fast = {"retry_delay": 0.1, "retry_delay_max": 0.5}
    with RunningGateway(database, **{**fast, **settings}) as running:
        yield Client(running.url)


def test_a_broadband_order_completes_with_a_service_active_and_resources_assigned(database: str) -> None:
    with gateway(database) as client:
        order = client.ended(client.order(add("1", "po-fibre-500"))["id"])
        assert order["state"] == "completed" and order["completionDate"]
        item = order["productOrderItem"][0]
        assert item["state"] == "completed"
        product = item["product"]
        assert product["status"] == "active" and product["id"]
        internet, access = None, None
        for ref in product["realizingService"]:
            service = client.service(ref)
            assert service["state"] == "active"
            assert service["relatedParty"] == CUSTOMER
            if service["serviceSpecification"]["id"] == "ss-internet-access":
                internet = service
            else:
                access = service
        assert internet is not None and access is not None
        assert internet["serviceCharacteristic"] == [{"name": "downloadSpeed", "valueType": "integer", "value": 500}]
        assert [s["id"] for s in internet["supportingService"]] == [access["id"]]  # relies on the access
        ip, port = client.reserved("rs-ipv4-address"), client.reserved("rs-gpon-port")
        assert [r["id"] for r in internet["supportingResource"]] == [ip[0]["id"]]
        assert [r["id"] for r in access["supportingResource"]] == [port[0]["id"]]
        assert len(ip) == len(port) == 1 and ip[0]["usageState"] == "active"
        assert {r["id"] for r in product["realizingResource"]} == {ip[0]["id"], port[0]["id"]}
        # References both ways: product order <-> service order <-> services.
        service_order = client.service_order(order)
        assert service_order["state"] == "completed"
        assert service_order["orderRelationship"][0]["id"] == order["id"]
        assert service_order["relatedParty"] == CUSTOMER
        assert any(service_order["id"] in note["text"] for note in order["note"])
        assert [i["state"] for i in service_order["serviceOrderItem"]] == ["completed", "completed"]
        assert internet["serviceOrderItem"][0]["serviceOrderId"] == service_order["id"]
        assert service_order["serviceOrderItem"][1]["service"]["relatedEntity"] == [
            {"id": order["id"], "href": order["href"], "role": "productOrderItem:1", "@referredType": "ProductOrder"}
        ]
        # What the gateway wrote is valid in each API: a client can PATCH it (the whole result is checked).
        for path in (
            f"{ORDERING}/productOrder/{order['id']}",
            f"{SERVICE_ORDERING}/serviceOrder/{service_order['id']}",
            f"{SERVICES}/service/{internet['id']}",
            f"{ACTIVATION}/service/{access['id']}",
            f"{RESOURCES}/resource/{ip[0]['id']}",
        ):
            patched = client.http.patch(
                client.url + path,
                json={"description": "checked"},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            assert patched.status_code == 200, (path, patched.text)
        # The same service through TMF640 (one inventory, two APIs), and a monitor per activation.
        activation = client.get(f"{ACTIVATION}/service/{internet['id']}")
        assert activation["state"] == "active"
        monitors = client.get(f"{ACTIVATION}/monitor", sourceHref=internet["href"])
        assert [(m["state"], m["request"]["method"], m["response"]["statusCode"]) for m in monitors] == [
            ("Completed", "POST", "201")
        ]


def test_a_two_item_order_with_a_failed_activation_is_partial_and_keeps_nothing_of_it(
    database: str, tmp_path: Path
) -> None:
    with gateway(database, catalog=catalog(tmp_path, ipv4_address=0)) as client:  # no address to give
        order = client.order(add("home", "po-home-phone"), add("net", "po-fibre-500"))
        order = client.ended(order["id"])
        assert order["state"] == "partial"
        states = {item["id"]: item["state"] for item in order["productOrderItem"]}
        assert states == {"home": "completed", "net": "failed"}
        text = " ".join(note["text"] for note in order["note"])
        assert "Item net failed" in text and "(rs-ipv4-address) is exhausted" in text
        # The fibre access activated before the failure was rolled back: nothing half-allocated.
        assert client.reserved("rs-gpon-port") == [] and client.reserved("rs-ipv4-address") == []
        assert len(client.reserved("rs-geographic-number")) == 1
        services = client.get(f"{SERVICES}/service", state="active")
        assert [s["serviceSpecification"]["id"] for s in services] == ["ss-voip-line"]
        service_order = client.service_order(order)
        assert service_order["state"] == "partial" and service_order["note"]
        patched = client.http.patch(
            f"{client.url}{SERVICE_ORDERING}/serviceOrder/{service_order['id']}",
            json={"description": "checked"},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert patched.status_code == 200, patched.text  # the gateway's notes are valid TMF641 notes
        failed = client.get(f"{ACTIVATION}/monitor", state="InError")
        assert [m["response"]["statusCode"] for m in failed] == ["422"]
        assert "(rs-ipv4-address) is exhausted" in failed[0]["response"]["body"]


def test_an_offering_outside_the_catalog_is_refused_at_capture(database: str) -> None:
    with gateway(database) as client:
        body = {"productOrderItem": [add("1", "po-satellite-tv")], "relatedParty": CUSTOMER}
        refused = client.post(f"{ORDERING}/productOrder", body, status=400)
        assert "productOrderItem 1: the product offering po-satellite-tv is not in the catalog" in refused["message"]
        assert client.get(f"{ORDERING}/productOrder") == []
        assert client.get(f"{SERVICE_ORDERING}/serviceOrder") == []


def test_an_exhausted_pool_fails_the_order_and_leaves_nothing_allocated(database: str, tmp_path: Path) -> None:
    with gateway(database, catalog=catalog(tmp_path, ipv4_address=1)) as client:
        first = client.ended(client.order(add("1", "po-fibre-100"))["id"])
        second = client.ended(client.order(add("1", "po-fibre-100"))["id"])
        assert (first["state"], second["state"]) == ("completed", "failed")
        assert "pool of Public IPv4 address (rs-ipv4-address) is exhausted" in " ".join(
            note["text"] for note in second["note"]
        )
        assert len(client.reserved("rs-ipv4-address")) == 1
        assert len(client.reserved("rs-gpon-port")) == 1  # the second order's port went back
        available = client.get(
            f"{RESOURCES}/resource", resourceStatus="available", **{"resourceSpecification.id": "rs-gpon-port"}
        )
        assert len(available) == 31


def test_an_item_of_quantity_three_installs_three_products_each_with_its_own_services_and_resources(
    database: str, tmp_path: Path
) -> None:
    with gateway(database, catalog=catalog(tmp_path, sim_card=4)) as client:
        lines = client.order({**add("1", "po-mobile-10gb"), "quantity": 3})
        order = client.ended(lines["id"])
        assert order["state"] == "completed", order.get("note")
        installed = client.get(f"{INVENTORY}/product", **{"productOrderItem.productOrderId": order["id"]})
        assert len(installed) == 3 and order["productOrderItem"][0]["product"]["id"] in {p["id"] for p in installed}
        assert f"Item 1 installed 3 products: {', '.join(sorted(p['id'] for p in installed))}" in " ".join(
            sorted_note["text"] for sorted_note in _sorted_ids_in_notes(order)
        )
        services = [ref["id"] for product in installed for ref in product["realizingService"]]
        resources = [ref["id"] for product in installed for ref in product["realizingResource"]]
        assert len(services) == len(set(services)) == 3 * len(installed[0]["realizingService"]) >= 3
        assert all(client.service({"id": id})["state"] == "active" for id in services)
        assert len(client.reserved("rs-sim-card")) == 3 and len(client.reserved("rs-msisdn")) == 3
        assert len(resources) == len(set(resources)) == 6
        assert all(product["status"] == "active" and product["billingAccount"]["id"] == "ba-7" for product in installed)
        # Each is billed as a product of its own: the same charges three times.
        rates = wait(
            lambda: client.get(f"{BILLING}/appliedCustomerBillingRate", **{"billingAccount.id": "ba-7"}),
            lambda got: len(got) == 3 * 2,
            30,
            "a one-time and a monthly rate per line",
        )
        by_product: dict[str, list[str]] = {}
        for rate in rates:
            by_product.setdefault(rate["product"]["id"], []).append(rate["name"])
        assert by_product.keys() == {p["id"] for p in installed}
        assert len({tuple(sorted(names)) for names in by_product.values()}) == 1

        # Two more lines, with one SIM card left: the item fails whole and keeps nothing.
        more = client.ended(client.order({**add("1", "po-mobile-10gb"), "quantity": 2})["id"])
        assert more["state"] == "failed" and "exhausted" in " ".join(n["text"] for n in more["note"])
        assert client.get(f"{INVENTORY}/product", **{"productOrderItem.productOrderId": more["id"]}) == []
        assert len(client.reserved("rs-sim-card")) == 3 and len(client.reserved("rs-msisdn")) == 3


def test_a_quantity_below_one_is_refused_and_nothing_is_stored(database: str) -> None:
    with gateway(database) as client:
        for quantity in (0, -2):
            refused = client.post(
                f"{ORDERING}/productOrder",
                {"productOrderItem": [{**add("7", "po-mobile-10gb"), "quantity": quantity}]},
                status=400,
            )
            assert refused["status"] == "400" and f"quantity must be 1 or more; it is {quantity}" in refused["message"]
        assert client.get(f"{ORDERING}/productOrder") == []


def _sorted_ids_in_notes(order: Doc) -> list[Doc]:
    """The order's notes, with the product ids a note lists in sorted order (they come in install order)."""
    notes = []
    for entry in order.get("note", []):
        text = entry["text"]
        head, found, ids = text.partition(" products: ")
        if found:
            text = head + found + ", ".join(sorted(ids.rstrip(".").split(", "))) + "."
        notes.append({**entry, "text": text})
    return notes


def test_concurrent_orders_share_out_a_pool_to_the_last_resource(database: str, tmp_path: Path) -> None:
    with gateway(database, catalog=catalog(tmp_path, geographic_number=10)) as client:
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            orders = list(pool.map(lambda n: client.order(add("1", "po-home-phone")), range(10)))
        ended = [client.ended(order["id"]) for order in orders]
        assert [order["state"] for order in ended] == ["completed"] * 10, [o.get("note") for o in ended]
        numbers = client.reserved("rs-geographic-number")
        assert len(numbers) == 10 and len({n["name"] for n in numbers}) == 10
        late = client.ended(client.order(add("1", "po-home-phone"))["id"])
        assert late["state"] == "failed" and "exhausted" in " ".join(note["text"] for note in late["note"])


def test_cancelling_during_fulfilment_rolls_back_and_cancels_every_level(database: str) -> None:
    with gateway(database, activation_delay=1.0) as client:
        order = client.order(add("1", "po-mobile-10gb"))
        first_done = wait(
            lambda: client.get(f"{SERVICE_ORDERING}/serviceOrder", externalId=order["id"]),
            lambda found: found and found[0]["serviceOrderItem"][0]["state"] == "completed",
            15,
            "the first service to be activated",
        )
        assert first_done[0]["state"] == "inProgress"
        task = client.post(
            f"{ORDERING}/cancelProductOrder",
            {"productOrder": {"id": order["id"]}, "cancellationReason": "Changed my mind"},
        )
        assert task["state"] == "inProgress"  # passed on to the running service order
        order = client.ended(order["id"])
        assert order["state"] == "cancelled" and order["cancellationReason"] == "Changed my mind"
        assert {item["state"] for item in order["productOrderItem"]} == {"cancelled"}
        task = wait(
            lambda: client.get(f"{ORDERING}/cancelProductOrder/{task['id']}"),
            lambda t: t["state"] != "inProgress",
            10,
            "the cancellation task to end",
        )
        assert task["state"] == "done" and task["effectiveCancellationDate"]
        service_order = client.service_order(order)
        assert service_order["state"] == "cancelled"
        assert {i["state"] for i in service_order["serviceOrderItem"]} == {"cancelled"}
        tasks = client.get(f"{SERVICE_ORDERING}/cancelServiceOrder", **{"serviceOrder.id": service_order["id"]})
        assert [t["state"] for t in tasks] == ["done"]
        assert client.get(f"{SERVICES}/service", state="active") == []
        assert client.get(f"{RESOURCES}/resource", resourceStatus="reserved") == []


def test_a_clients_own_service_order_is_carried_out_and_can_be_cancelled(database: str) -> None:
    with gateway(database, activation_delay=0.5) as client:
        voice = {
            "id": "v",
            "action": "add",
            "service": {
                "name": "Office line",
                "serviceSpecification": {"id": "ss-voip-line"},
                "relatedParty": CUSTOMER,
            },
        }
        order = client.post(f"{SERVICE_ORDERING}/serviceOrder", {"serviceOrderItem": [voice], "externalId": "crm-1"})
        assert order["state"] == "acknowledged" and order["serviceOrderItem"][0]["state"] == "acknowledged"
        done = wait(
            lambda: client.get(f"{SERVICE_ORDERING}/serviceOrder/{order['id']}"),
            lambda o: o["state"] in ENDED,
            15,
            "the service order to end",
        )
        assert done["state"] == "completed"
        line = client.service(done["serviceOrderItem"][0]["service"])
        assert (line["name"], line["state"]) == ("Office line", "active")
        assert len(line["supportingResource"]) == 1
        # A second order, cancelled by the client while its first item waits for the network.
        access = {"id": "a", "action": "add", "service": {"serviceSpecification": {"id": "ss-mobile-access"}}}
        voice2 = {
            "id": "m",
            "action": "add",
            "service": {"serviceSpecification": {"id": "ss-mobile-voice"}},
            "serviceOrderItemRelationship": [{"relationshipType": "reliesOn", "orderItem": {"itemId": "a"}}],
        }
        second = client.post(f"{SERVICE_ORDERING}/serviceOrder", {"serviceOrderItem": [voice2, access]})
        task = client.post(f"{SERVICE_ORDERING}/cancelServiceOrder", {"serviceOrder": {"id": second["id"]}})
        assert task["state"] == "accepted"
        cancelled = wait(
            lambda: client.get(f"{SERVICE_ORDERING}/serviceOrder/{second['id']}"),
            lambda o: o["state"] in ENDED,
            15,
            "the cancelled service order",
        )
        assert cancelled["state"] == "cancelled"
        assert client.get(f"{SERVICE_ORDERING}/cancelServiceOrder/{task['id']}")["state"] == "done"
        assert [s["name"] for s in client.get(f"{SERVICES}/service", state="active")] == ["Office line"]
        late = client.post(f"{SERVICE_ORDERING}/cancelServiceOrder", {"serviceOrder": {"id": order["id"]}})
        late = wait(
            lambda: client.get(f"{SERVICE_ORDERING}/cancelServiceOrder/{late['id']}"),
            lambda t: t["state"] != "accepted",
            10,
            "the refused cancellation",
        )
        assert late["state"] == "terminatedWithError"
        assert (
            "refused: the order is completed"
            in client.get(f"{SERVICE_ORDERING}/serviceOrder/{order['id']}")["note"][-1]["text"]
        )


def test_an_ended_order_cannot_be_cancelled(database: str) -> None:
    with gateway(database) as client:
        order = client.ended(client.order(add("1", "po-home-phone"))["id"])
        task = client.post(f"{ORDERING}/cancelProductOrder", {"productOrder": {"id": order["id"]}})
        assert task["state"] == "terminatedWithError" and "completed" in task["errorMessage"]
        assert client.product_order(order["id"])["state"] == "completed"


def test_modify_and_delete_of_an_installed_product(database: str) -> None:
    with gateway(database) as client:
        order = client.ended(client.order(add("1", "po-fibre-flex"))["id"])
        product = order["productOrderItem"][0]["product"]
        internet = next(ref for ref in product["realizingService"] if "Internet" in ref["name"])
        change = {
            "id": "1",
            "action": "modify",
            "productOffering": {"id": "po-fibre-flex"},
            "product": {"id": product["id"], "productCharacteristic": [{"name": "downloadSpeed", "value": 1000}]},
        }
        modified = client.ended(client.order(change)["id"])
        assert modified["state"] == "completed", modified.get("note")
        assert client.service(internet)["serviceCharacteristic"][0]["value"] == 1000
        assert client.service(internet)["state"] == "active"
        upgrade = {**change, "productOffering": {"id": "po-fibre-500"}}  # another offering: not a modify
        refused = client.ended(client.order(upgrade)["id"])
        assert refused["state"] == "failed"
        assert "To move it to po-fibre-500, order a delete of it and an add" in refused["note"][0]["text"]
        assert client.get(f"{INVENTORY}/product/{product['id']}")["productOffering"]["id"] == "po-fibre-flex"
        removal = {"id": "1", "action": "delete", "product": {"id": product["id"]}}
        deleted = client.ended(client.order(removal)["id"])
        assert deleted["state"] == "completed", deleted.get("note")
        assert deleted["productOrderItem"][0]["product"]["status"] == "terminated"
        for ref in product["realizingService"]:
            service = client.service(ref)
            assert service["state"] == "terminated" and service["endDate"]
        assert client.get(f"{RESOURCES}/resource", resourceStatus="reserved") == []
        again = client.ended(client.order(removal)["id"])  # nothing left to delete
        assert again["state"] == "failed" and "is not one" in again["note"][0]["text"]


def test_a_product_is_suspended_and_resumed_by_orders_and_its_services_follow(database: str) -> None:
    with gateway(database) as client:
        order = client.ended(client.order(add("1", "po-mobile-10gb"))["id"])
        product = order["productOrderItem"][0]["product"]
        services = [ref["id"] for ref in product["realizingService"]]
        reserved = {r["id"] for r in client.get(f"{RESOURCES}/resource", resourceStatus="reserved")}

        def suspend_or_resume(status: str) -> Doc:
            change = {"id": "1", "action": "modify", "product": {"id": product["id"], "status": status}}
            return client.ended(client.order(change)["id"])

        suspended = suspend_or_resume("suspended")
        assert suspended["state"] == "completed", suspended.get("note")
        assert suspended["productOrderItem"][0]["product"]["status"] == "suspended"
        assert client.get(f"{INVENTORY}/product/{product['id']}")["status"] == "suspended"
        for id in services:
            service = client.service({"id": id})
            assert (service["state"], service["isServiceEnabled"]) == ("inactive", False)
        # The resources stay with the customer while the product is suspended.
        assert {r["id"] for r in client.get(f"{RESOURCES}/resource", resourceStatus="reserved")} == reserved
        # Its status is the orders' to change: a PATCH of it is refused, and changes nothing.
        refused = client.http.patch(
            f"{client.url}{INVENTORY}/product/{product['id']}",
            json={"status": "active"},
            headers={"Content-Type": "application/merge-patch+json"},
            timeout=10,
        )
        assert refused.status_code == 409 and "through a product order" in refused.json()["message"]
        assert client.get(f"{INVENTORY}/product/{product['id']}")["status"] == "suspended"
        resumed = suspend_or_resume("active")
        assert resumed["state"] == "completed", resumed.get("note")
        assert client.get(f"{INVENTORY}/product/{product['id']}")["status"] == "active"
        assert {client.service({"id": id})["state"] for id in services} == {"active"}
        assert all(client.service({"id": id})["isServiceEnabled"] for id in services)
        # Other statuses are not a modify's to give.
        ended = suspend_or_resume("terminated")
        assert ended["state"] == "failed"
        assert "a modify may suspend an active product or resume a suspended one" in ended["note"][0]["text"]
        assert {client.service({"id": id})["state"] for id in services} == {"active"}


def test_a_subscriber_follows_an_order_end_to_end_on_every_level(database: str, tmp_path: Path) -> None:
    with gateway(database) as client, ListenerProcess(tmp_path / "listener.log") as listener:
        for base in (ORDERING, SERVICE_ORDERING, SERVICES, RESOURCES):
            client.post(f"{base}/hub", {"callback": listener.callback})
        order = client.order(add("1", "po-fibre-100"), **{"X-Correlation-ID": "journey-1"})
        assert client.ended(order["id"])["state"] == "completed"
        expected = [
            ("ProductOrderCreateEvent", "acknowledged"),
            ("ProductOrderStateChangeEvent", "inProgress"),
            ("ServiceOrderCreateEvent", "acknowledged"),
            ("ServiceOrderStateChangeEvent", "inProgress"),
            ("ServiceCreateEvent", "active"),
            ("ServiceCreateEvent", "active"),
            ("ResourceStateChangeEvent", "reserved"),
            ("ResourceStateChangeEvent", "reserved"),
            ("ServiceOrderStateChangeEvent", "completed"),
            ("ProductOrderStateChangeEvent", "completed"),
        ]

        def seen(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
            found = []
            for entry in entries:
                body = entry["body"]
                resource = next(iter(body["event"].values()))
                found.append((body["eventType"], resource.get("state") or resource.get("resourceStatus")))
            return found

        entries = listener.wait_for(lambda got: all(e in seen(got) for e in expected), 20, "the journey's events")
        assert {entry["body"]["correlationId"] for entry in entries} == {"journey-1"}
        # Different resources' events may arrive in any order; their times tell what happened first.
        times = {pair: entry["body"]["eventTime"] for pair, entry in zip(seen(entries), entries, strict=True)}
        assert (
            times[("ServiceOrderStateChangeEvent", "completed")] <= times[("ProductOrderStateChangeEvent", "completed")]
        )


def test_a_gateway_killed_in_the_middle_of_fulfilment_finishes_the_order_after_a_restart(
    database: str, tmp_path: Path
) -> None:
    # Slow activations to be killed among; short leases, so the restart takes the work back soon.
    env = {
        "TMFGATE_ACTIVATION_DELAY": "1",
        "TMFGATE_DELIVERY_TIMEOUT": "1",
        "TMFGATE_RETRY_DELAY": "0.1",
        "TMFGATE_RETRY_DELAY_MAX": "0.5",
    }
    with served(database, tmp_path, env=env) as (process, url):
        client = Client(url)
        order = client.order(add("1", "po-mobile-unlimited"))
        wait(
            lambda: client.get(f"{SERVICE_ORDERING}/serviceOrder", externalId=order["id"]),
            lambda found: found and found[0]["serviceOrderItem"][0]["state"] == "completed",
            20,
            "the first activation",
        )
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    with served(database, tmp_path, env=env) as (_, url):
        client = Client(url)
        done = client.ended(order["id"], timeout=60)
        assert done["state"] == "completed", done.get("note")
        services = client.get(f"{SERVICES}/service")
        assert sorted(s["serviceSpecification"]["id"] for s in services) == [
            "ss-mobile-access",
            "ss-mobile-data",
            "ss-mobile-voice",
        ]  # each activated exactly once
        assert {s["state"] for s in services} == {"active"}
        reserved = client.get(f"{RESOURCES}/resource", resourceStatus="reserved")
        assert sorted(r["resourceSpecification"]["id"] for r in reserved) == ["rs-msisdn", "rs-sim-card"]


def test_separate_dispatchers_fulfil_the_orders_of_a_gateway_that_does_not_dispatch(
    database: str, tmp_path: Path
) -> None:
    env = {"TMFGATE_RETRY_DELAY": "0.1", "TMFGATE_RETRY_DELAY_MAX": "0.5", "TMFGATE_PUBLIC_URL": "http://gw.example"}
    dispatchers = [
        subprocess.Popen(
            [sys.executable, "-m", "tmfgate", "dispatch", "--database-url", database, "--log-level", "warning"],
            cwd=tmp_path,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    try:
        with served(database, tmp_path, "--dispatcher", "off", env=env) as (_, url):
            client = Client(url)
            orders = [client.order(add("1", "po-fibre-100"), add("2", "po-home-phone")) for _ in range(3)]
            ended = [client.ended(order["id"], timeout=60) for order in orders]
            assert [order["state"] for order in ended] == ["completed"] * 3
            services = client.get(f"{SERVICES}/service")
            assert len(services) == 9 and {s["state"] for s in services} == {"active"}  # each activated once
            assert services[0]["href"].startswith("http://gw.example/")  # made outside a request: public_url
    finally:
        for process in dispatchers:
            process.send_signal(signal.SIGTERM)
        for process in dispatchers:
            assert process.wait(timeout=30) == 0
