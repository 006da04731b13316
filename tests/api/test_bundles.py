"""Bundles the TMF620 way, ordered over HTTP on SQLite and PostgreSQL: decomposed into their parts,
recorded as a bundle product relating its parts, charged at the bundle's own prices, all or nothing."""

from __future__ import annotations

from pathlib import Path

from tests.api.end_to_end import Doc, add, database_fixture, wait
from tests.api.test_fulfilment import BILLING, INVENTORY, ORDERING, RESOURCES, Client, catalog, gateway

database = database_fixture("tmfgate_bundles")
BUNDLE = "po-home-bundle"


def _products(client: Client, order: Doc) -> dict[str, Doc]:
    found = client.get(f"{INVENTORY}/product", **{"productOrderItem.productOrderId": order["id"]})
    return {p["productOffering"]["id"]: p for p in found}


def _check_installed(client: Client, order: Doc) -> None:
    ended = client.ended(order["id"])
    assert ended["state"] == "completed", ended.get("note")
    assert {item["state"] for item in ended["productOrderItem"]} == {"completed"}
    products = _products(client, order)
    assert products.keys() == {BUNDLE, "po-fibre-500", "po-home-phone"}
    bundle = products.pop(BUNDLE)
    assert bundle["isBundle"] is True and bundle["status"] == "active"
    assert {(r["relationshipType"], r["product"]["id"]) for r in bundle["productRelationship"]} == {
        ("bundles", part["id"]) for part in products.values()
    }
    assert {p["productOfferingPrice"]["id"] for p in bundle["productPrice"]} == {
        "pop-home-bundle-monthly",
        "pop-fibre-installation",
    }
    for part in products.values():
        assert part["isBundle"] is False and part["productPrice"] == [] and part["realizingService"]
        assert [(r["relationshipType"], r["product"]["id"]) for r in part["productRelationship"]] == [
            ("isBundledBy", bundle["id"])
        ]


def test_a_bundle_is_decomposed_into_its_parts_and_charged_at_its_own_price(database: str) -> None:
    with gateway(database) as client:
        # Ordered alone: the gateway adds its parts as nested items.
        order = client.order(add("1", BUNDLE))
        [item] = order["productOrderItem"]
        assert [(child["id"], child["productOffering"]["id"]) for child in item["productOrderItem"]] == [
            ("1.1", "po-fibre-500"),
            ("1.2", "po-home-phone"),
        ]
        assert [p["price"]["dutyFreeAmount"]["value"] for p in item["itemPrice"]] == [44.99, 49.0]
        assert all("itemPrice" not in child for child in item["productOrderItem"])
        assert sorted(p["price"]["dutyFreeAmount"]["value"] for p in order["orderTotalPrice"]) == [44.99, 49.0]
        _check_installed(client, order)
        bundle = _products(client, order)[BUNDLE]
        rates = wait(
            lambda: client.get(f"{BILLING}/appliedCustomerBillingRate", **{"billingAccount.id": "ba-7"}),
            lambda got: len(got) >= 2,
            30,
            "the bundle's rates",
        )
        assert sorted(r["name"] for r in rates) == ["Fibre installation", "Home bundle monthly fee"]
        assert {r["product"]["id"] for r in rates} == {bundle["id"]}

        # Flat: parts linked to the bundle item by productOrderItemRelationship.
        part_of = [{"id": "b", "relationshipType": "isBundledBy"}]
        flat = client.order(
            add("b", BUNDLE),
            {**add("f", "po-fibre-500"), "productOrderItemRelationship": part_of},
            {**add("p", "po-home-phone"), "productOrderItemRelationship": part_of},
        )
        _check_installed(client, flat)

        # Parts that are not the bundle's: refused, naming the item.
        wrong = {**add("w", BUNDLE), "productOrderItem": [add("w.1", "po-mobile-10gb")]}
        refused = client.post(f"{ORDERING}/productOrder", {"productOrderItem": [wrong]}, status=400)
        assert refused["message"].startswith("productOrderItem w: the bundle po-home-bundle holds one add item of each")


def test_a_bundle_whose_part_fails_keeps_nothing(database: str, tmp_path: Path) -> None:
    with gateway(database, catalog=catalog(tmp_path, ipv4_address=0)) as client:  # the fibre part cannot be had
        order = client.ended(client.order(add("1", BUNDLE))["id"])
        assert order["state"] == "failed"
        assert {item["state"] for item in order["productOrderItem"]} == {"failed"}
        assert {item["productOrderItem"][0]["state"] for item in order["productOrderItem"]} == {"failed"}
        failures = [(n["orderItemId"], n["code"]) for n in order["note"] if "code" in n]
        assert ("1", "RESOURCE_POOL_EXHAUSTED") in failures
        assert client.get(f"{INVENTORY}/product") == []
        assert client.get(f"{RESOURCES}/resource", resourceStatus="reserved") == []  # the phone's number went back
