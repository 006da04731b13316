"""Orders' dates honoured over HTTP, on SQLite and PostgreSQL: a future start holds fulfilment until
then, across a restart of the gateway; a completion date already past is refused."""

from __future__ import annotations

import datetime as dt
import time

from tests.api.end_to_end import add, database_fixture
from tests.api.test_fulfilment import INVENTORY, ORDERING, SERVICE_ORDERING, Client, gateway
from tmfgate import times

database = database_fixture("tmfgate_schedule")


def _in(seconds: float) -> str:
    return times.stamp(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds))


def _order(client: Client, status: int = 201, **dates: str) -> dict[str, object]:
    body = {"productOrderItem": [add("1", "po-home-phone")], "billingAccount": {"id": "ba-9"}, **dates}
    return client.post(f"{ORDERING}/productOrder", body, status=status)


def test_a_completion_date_already_past_is_refused(database: str) -> None:
    with gateway(database) as client:
        refused = _order(client, 400, requestedCompletionDate="2020-01-01T00:00:00Z")
        assert "requestedCompletionDate 2020-01-01T00:00:00Z is past" in str(refused["message"])
        refused = _order(client, 400, requestedStartDate=_in(3600), requestedCompletionDate=_in(60))
        assert "is before requestedStartDate" in str(refused["message"])
        assert client.get(f"{ORDERING}/productOrder") == []


def test_a_future_start_holds_fulfilment_until_then_and_billing_starts_at_activation(database: str) -> None:
    with gateway(database) as client:
        start = _in(4)
        order = _order(client, requestedStartDate=start)
        assert (order["state"], order["expectedCompletionDate"]) == ("acknowledged", start)
        time.sleep(1.5)
        held = client.product_order(str(order["id"]))
        assert held["state"] == "acknowledged"
        assert client.get(f"{SERVICE_ORDERING}/serviceOrder", externalId=str(order["id"])) == []
        ended = client.ended(str(order["id"]))
        assert ended["state"] == "completed", ended.get("note")
        product = client.get(f"{INVENTORY}/product/{ended['productOrderItem'][0]['product']['id']}")
        assert times.parse(product["startDate"]) >= times.parse(start)  # billed from its activation


def test_a_held_order_survives_a_restart_of_the_gateway(database: str) -> None:
    with gateway(database) as client:
        start = _in(8)
        order = _order(client, requestedStartDate=start)
        time.sleep(1)  # the hold is taken: the reaction ran and put the delivery off
        assert client.product_order(str(order["id"]))["state"] == "acknowledged"
    with gateway(database) as client:
        ended = client.ended(str(order["id"]))
        assert ended["state"] == "completed", ended.get("note")
        assert times.parse(str(ended["completionDate"])) >= times.parse(start)
