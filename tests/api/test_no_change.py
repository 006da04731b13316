"""A ``noChange`` item follows its order, over HTTP on SQLite and PostgreSQL (issue 20 item 1).

Nothing of a noChange item is done in the network, yet it is part of the order: it stays inProgress
while the order's service order runs, completes with the order, and is cancelled with a cancelled
order. So a cancelled order has every item cancelled, never one completed, and bills nothing anew.
"""

from __future__ import annotations

from tests.api.end_to_end import Doc, add, database_fixture, wait
from tests.api.test_cancellation import BILLING
from tests.api.test_fulfilment import INVENTORY, ORDERING, SERVICE_ORDERING, Client, gateway

database = database_fixture("tmfgate_no_change")


def installed_phone(client: Client) -> Doc:
    """A home phone product installed by an order of its own, before the order under test."""
    first = client.ended(client.order(add("1", "po-home-phone"))["id"])
    assert first["state"] == "completed", first
    product: Doc = first["productOrderItem"][0]["product"]
    return product


def kept_and_added(client: Client, phone: Doc) -> Doc:
    """An order that keeps the phone (noChange) and adds a mobile line, as created."""
    keep = {"id": "1", "action": "noChange", "product": {"id": phone["id"]}}
    return client.order(keep, add("2", "po-mobile-10gb"))


def cancel(client: Client, order: Doc) -> Doc:
    task = client.post(f"{ORDERING}/cancelProductOrder", {"productOrder": {"id": order["id"]}})
    return wait(  # type: ignore[no-any-return]
        lambda: client.get(f"{ORDERING}/cancelProductOrder/{task['id']}"),
        lambda t: t["state"] in ("done", "terminatedWithError"),
        60,
        f"the cancellation of order {order['id']} to end",
    )


def check_cancelled(client: Client, order: Doc, phone: Doc) -> None:
    """Every item cancelled; the kept phone is still the only product, active, and billed as before."""
    ended = client.ended(order["id"], timeout=60)
    assert ended["state"] == "cancelled", ended
    assert [item["state"] for item in ended["productOrderItem"]] == ["cancelled", "cancelled"], ended
    assert client.get(f"{INVENTORY}/product", **{"productOrderItem.productOrderId": order["id"]}) == []
    assert client.get(f"{INVENTORY}/product/{phone['id']}")["status"] == "active"
    rates = client.get(f"{BILLING}/appliedCustomerBillingRate", **{"billingAccount.id": "ba-7"})
    assert {(rate.get("product") or {}).get("id") for rate in rates} <= {phone["id"]}, rates


def test_a_no_change_item_is_in_progress_with_its_order_and_completes_with_it(database: str) -> None:
    with gateway(database, activation_delay=0.3) as client:
        phone = installed_phone(client)
        order = kept_and_added(client, phone)
        running = wait(
            lambda: client.product_order(order["id"]),
            lambda o: o["state"] == "inProgress",
            30,
            "the order to be decomposed",
        )
        assert running["productOrderItem"][0]["state"] == "inProgress", running  # not completed ahead of it
        ended = client.ended(order["id"])
        assert ended["state"] == "completed", ended
        assert [item["state"] for item in ended["productOrderItem"]] == ["completed", "completed"], ended
        service_order = client.service_order(order)
        assert {item["id"].split("-")[0] for item in service_order["serviceOrderItem"]} == {"2"}, service_order


def test_an_order_with_a_no_change_item_cancelled_at_once_ends_with_every_item_cancelled(database: str) -> None:
    with gateway(database, activation_delay=0.3) as client:
        phone = installed_phone(client)
        order = kept_and_added(client, phone)
        task = cancel(client, order)
        assert task["state"] == "done", task
        check_cancelled(client, order, phone)


def test_an_order_with_a_no_change_item_cancelled_while_its_service_order_runs_ends_all_cancelled(
    database: str,
) -> None:
    with gateway(database, activation_delay=0.5) as client:
        phone = installed_phone(client)
        order = kept_and_added(client, phone)
        wait(
            lambda: client.get(f"{SERVICE_ORDERING}/serviceOrder", externalId=order["id"]),
            lambda found: bool(found) and found[0]["state"] == "inProgress",
            30,
            "the service order to run",
        )
        task = cancel(client, order)
        assert task["state"] == "done", task  # the noChange item completed nothing: no refusal names it
        check_cancelled(client, order, phone)
        service_order = client.service_order(order)
        assert service_order["state"] == "cancelled", service_order
