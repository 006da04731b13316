"""Product orders checked against the catalog at capture and priced from it, on SQLite and PostgreSQL.

A bad item is a 400 naming it, with nothing stored; a good order carries its prices; products and
services link back to the order that made them; a modify that changes a priced value reprices.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.api.end_to_end import Doc, add, database_fixture, wait
from tests.api.test_fulfilment import BILLING, INVENTORY, ORDERING, ROOT, SERVICES, Client, gateway

database = database_fixture("tmfgate_capture")


def _catalog(tmp_path: Path, **changes: Doc) -> str:
    """The demo catalog with some offerings' attributes changed."""
    demo = yaml.safe_load((ROOT / "catalogs" / "demo.yaml").read_text())
    for offering in demo["productOffering"]:
        offering.update(changes.get(offering["id"], {}))
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(demo))
    return str(path)


def _refused(client: Client, *items: Doc) -> str:
    refused = client.post(f"{ORDERING}/productOrder", {"productOrderItem": list(items)}, status=400)
    assert refused["@type"] == "Error" and refused["status"] == "400"
    return str(refused["message"])


REFUSALS: list[tuple[Doc, str]] = [
    (add("a", "po-satellite-tv"), "productOrderItem a: the product offering po-satellite-tv is not in the catalog."),
    (add("b", "po-retired"), "productOrderItem b: the product offering po-retired (Fibre 100) is not sellable: its "),
    (
        add("c", "po-withdrawn"),
        "productOrderItem c: the product offering po-withdrawn (Fibre 500) is not sellable: it ",
    ),
    (add("d", "po-mobile-10gb", dataAllowance="unlimited"), "d: dataAllowance unlimited is not offered; the offering"),
    (add("e", "po-fibre-flex", downloadSpeed=2000), "e: downloadSpeed 2000 is not offered; the offering po-fibre-flex"),
    (add("f", "po-mobile-10gb", colour="pink"), "f: the offering po-mobile-10gb has no characteristic colour"),
    ({**add("g", "po-home-phone"), "quantity": 101}, "g: quantity must be at most 100; it is 101"),
]


def test_an_item_the_catalog_does_not_allow_is_refused_naming_it(database: str, tmp_path: Path) -> None:
    demo = yaml.safe_load((ROOT / "catalogs" / "demo.yaml").read_text())
    offerings = {o["id"]: o for o in demo["productOffering"]}
    retired = {**offerings["po-fibre-100"], "id": "po-retired", "lifecycleStatus": "Retired"}
    ended = {"startDateTime": "2020-01-01T00:00:00Z", "endDateTime": "2021-01-01T00:00:00Z"}
    withdrawn = {**offerings["po-fibre-500"], "id": "po-withdrawn", "validFor": ended}
    demo["productOffering"] += [retired, withdrawn]
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(demo))
    with gateway(database, catalog=str(path)) as client:
        for item, says in REFUSALS:
            message = _refused(client, add("ok", "po-home-phone"), item)
            assert says in message, message
        assert client.get(f"{ORDERING}/productOrder") == []


def test_an_offering_not_sellable_is_refused_and_fixed_values_are_named(database: str, tmp_path: Path) -> None:
    with gateway(database, catalog=_catalog(tmp_path, **{"po-home-phone": {"isSellable": False}})) as client:
        assert "not sellable: isSellable is false" in _refused(client, add("1", "po-home-phone"))
        message = _refused(client, add("2", "po-mobile-10gb", dataAllowance="unlimited"))
        assert message.endswith("the offering po-mobile-10gb fixes it at 10GB.")
        assert client.get(f"{ORDERING}/productOrder") == []


def test_an_order_carries_its_prices_and_what_it_made_links_back(database: str) -> None:
    with gateway(database) as client:
        lines = {**add("1", "po-mobile-10gb"), "quantity": 2}
        order = client.order(lines, add("2", "po-fibre-flex", downloadSpeed=500))
        mobile, fibre = order["productOrderItem"]
        assert [(p["name"], p["price"]["dutyFreeAmount"]["value"]) for p in mobile["itemPrice"]] == [
            ("Mobile 10 GB monthly fee", 15.0),
            ("SIM card", 5.0),
        ]
        assert [p["price"]["dutyFreeAmount"] for p in mobile["itemTotalPrice"]] == [
            {"unit": "EUR", "value": 30.0},
            {"unit": "EUR", "value": 10.0},
        ]
        assert [p["productOfferingPrice"]["id"] for p in fibre["itemPrice"]] == [
            "pop-fibre-flex-500",
            "pop-fibre-installation",
        ]
        totals = {(p["priceType"], p.get("recurringChargePeriod")): p["price"] for p in order["orderTotalPrice"]}
        assert totals == {
            ("recurring", "month"): {"dutyFreeAmount": {"unit": "EUR", "value": 72.99}},  # 2 x 15 + 42.99
            ("oneTime", None): {"dutyFreeAmount": {"unit": "EUR", "value": 59.0}},  # 2 x 5 + 49
        }
        ended = client.ended(order["id"])
        assert ended["state"] == "completed", ended.get("note")
        for item in ended["productOrderItem"]:
            ref = item["product"]
            assert ref["href"] == f"{client.url}{INVENTORY}/product/{ref['id']}"
            assert client.http.get(ref["href"], timeout=10).status_code == 200
            for service in ref["realizingService"]:
                stored = client.get(f"{SERVICES}/service/{service['id']}")
                assert stored["relatedEntity"] == [
                    {
                        "id": order["id"],
                        "href": order["href"],
                        "role": f"productOrderItem:{item['id']}",
                        "@referredType": "ProductOrder",
                    }
                ]
                assert stored["serviceOrderItem"][0]["serviceOrderId"]


def test_a_modify_is_checked_and_a_priced_value_reprices(database: str) -> None:
    with gateway(database) as client:
        order = client.ended(client.order(add("1", "po-fibre-flex"))["id"])
        product = order["productOrderItem"][0]["product"]
        fee = client.get(f"{INVENTORY}/product/{product['id']}")["productPrice"][0]
        assert fee["productOfferingPrice"]["id"] == "pop-fibre-flex-100"

        def modify(speed: int) -> Doc:
            chars = [{"name": "downloadSpeed", "value": speed}]
            return {"id": "1", "action": "modify", "product": {"id": product["id"], "productCharacteristic": chars}}

        assert "downloadSpeed 2000 is not offered" in _refused(client, modify(2000))
        faster = client.order(modify(1000))
        assert faster["productOrderItem"][0]["itemPrice"][0]["price"]["dutyFreeAmount"]["value"] == 57.99
        assert client.ended(faster["id"])["state"] == "completed"
        # Billing charges the month at the new fee only (the old fee's unbilled rate goes).
        wait(
            lambda: sorted(
                r["name"] for r in client.get(f"{BILLING}/appliedCustomerBillingRate", **{"product.id": product["id"]})
            ),
            lambda names: names == ["Fibre flex 1000 monthly fee", "Fibre installation"],
            30,
            "the rates at the new fee",
        )
        stored = client.get(f"{INVENTORY}/product/{product['id']}")
        assert [
            (p["productOfferingPrice"]["id"], p["price"]["dutyFreeAmount"]["value"]) for p in stored["productPrice"]
        ] == [
            ("pop-fibre-flex-1000", 57.99),
            ("pop-fibre-installation", 49.0),
        ]
