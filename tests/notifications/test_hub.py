"""The hub operations every API shares: register, retrieve and unregister a listener, each API its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from backends.base import Query
from tests.api.clients import AppClient, in_process
from tmfgate import codec
from tmfgate.calls import Call
from tmfgate.errors import NotFound
from tmfgate.notifications import hub, secrets
from tmfgate.notifications.subscriptions import HUB_KIND

ORDERING = "/tmf-api/productOrderingManagement/v4/hub"
INVENTORY = "/tmf-api/productInventory/v4/hub"
KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def client() -> Iterator[AppClient]:
    with in_process(fulfilment=False, callback_hosts="127.0.0.1,localhost", hub_secret_key=KEY) as client:
        yield client


def test_a_listener_is_registered_retrieved_and_unregistered(client: AppClient) -> None:
    made = client.post(
        ORDERING, json={"callback": "http://127.0.0.1:9/l", "query": "eventType=ProductOrderCreateEvent"}
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body == {"id": body["id"], "callback": "http://127.0.0.1:9/l", "query": "eventType=ProductOrderCreateEvent"}
    assert made.headers["location"] == f"http://testserver{ORDERING}/{body['id']}"
    assert client.delete(f"{ORDERING}/{body['id']}").status_code == 204
    assert client.delete(f"{ORDERING}/{body['id']}").status_code == 404


def test_a_secret_is_kept_encrypted_and_never_shown(client: AppClient) -> None:
    made = client.post(ORDERING, json={"callback": "http://127.0.0.1:9/l", "secret": "s3cr3t"})
    assert made.status_code == 201 and "secret" not in made.json()
    stored = codec.loads(client.run(client.gateway.backend.get, HUB_KIND, made.json()["id"]))
    assert "s3cr3t" not in stored["secret"] and stored["api"] == "tmf622_product_ordering"
    assert secrets.unseal(stored["secret"], KEY) == "s3cr3t"  # kept for signing


def test_a_subscription_belongs_to_its_api(client: AppClient) -> None:
    made = client.post(INVENTORY, json={"callback": "http://127.0.0.1:9/l"}).json()
    assert client.delete(f"{ORDERING}/{made['id']}").status_code == 404
    assert client.delete(f"{INVENTORY}/{made['id']}").status_code == 204


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"callback": "ftp://x/l"}, "absolute http or https URL"),
        ({"callback": "http://evil.example.com/l"}, "not allowed by this gateway"),
        ({"callback": "http://127.0.0.1:9/l", "query": "eventType=Nope"}, "Nope is not an event of this API"),
    ],
)
def test_a_bad_subscription_is_a_400_and_nothing_is_stored(
    client: AppClient, body: dict[str, str], message: str
) -> None:
    before = client.run(client.gateway.backend.query, HUB_KIND, Query()).total
    response = client.post(ORDERING, json=body)
    assert response.status_code == 400 and message in response.json()["message"]
    assert client.run(client.gateway.backend.query, HUB_KIND, Query()).total == before


def test_a_subscription_is_retrieved_by_its_own_api_only_and_without_its_secret(client: AppClient) -> None:
    made = client.post(ORDERING, json={"callback": "http://127.0.0.1:9/l", "secret": "k"}).json()
    gateway = client.gateway

    def call(api_name: str) -> Call:
        api = gateway.api(api_name)
        operation = next(iter(api.operations.values()))
        return Call(gateway, api, operation, {"headers": [], "path_params": {"id": made["id"]}})

    reply = client.run(hub.retrieve_listener, call("tmf622_product_ordering"))
    assert reply.status == 200 and codec.loads(reply.body) == made
    with pytest.raises(NotFound, match=f"No hub subscription with id {made['id']} exists."):
        client.run(hub.retrieve_listener, call("tmf637_product_inventory"))
