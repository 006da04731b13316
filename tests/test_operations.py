"""The generic operations every API gets from its spec alone (TMF629 has no handler), on every store, in process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from backends.base import Event
from handlers.billing.rating import Worker
from tests.api.clients import AppClient
from tests.conftest import TEST_SETTINGS
from tmfgate import codec, documents, model, operations, specs
from tmfgate.calls import Call
from tmfgate.errors import BadRequest
from tmfgate.runtime import Runtime
from tmfgate.settings import Settings

CUSTOMER = "/tmf-api/customerManagement/v4/customer"
PARTY = {"id": "p1", "@referredType": "Individual"}


def create(client: AppClient, **body: Any) -> dict[str, Any]:
    response = client.post(CUSTOMER, json={"name": "Ada", "engagedParty": PARTY, **body})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == response.json()["href"]
    return response.json()  # type: ignore[no-any-return]


def test_create_sets_id_href_and_type_and_retrieve_reads_it_back(app_client: AppClient) -> None:
    made = create(app_client)
    assert made["href"] == f"http://testserver{CUSTOMER}/{made['id']}" and made["@type"] == "Customer"
    assert app_client.get(f"{CUSTOMER}/{made['id']}").json() == made


def test_list_filters_trims_and_pages_in_the_store(app_client: AppClient) -> None:
    tag = uuid.uuid4().hex
    made = [create(app_client, status=tag, statusReason=str(n)) for n in range(3)]
    page = app_client.get(
        CUSTOMER, params={"status": tag, "fields": "statusReason", "limit": 2, "sort": "statusReason"}
    )
    assert page.status_code == 206 and page.headers["x-total-count"] == "3" and page.headers["x-result-count"] == "2"
    assert page.json() == [
        {"id": made[0]["id"], "href": made[0]["href"], "statusReason": "0"},
        {"id": made[1]["id"], "href": made[1]["href"], "statusReason": "1"},
    ]


def test_patch_changes_what_the_update_schema_allows(app_client: AppClient) -> None:
    made = create(app_client)
    changed = app_client.patch(f"{CUSTOMER}/{made['id']}", json={"status": "approved"})
    assert changed.status_code == 200 and changed.json() == {**made, "status": "approved"}
    refused = app_client.patch(f"{CUSTOMER}/{made['id']}", json={"id": "other"})
    assert refused.status_code == 400 and "cannot be changed by PATCH" in refused.json()["message"]


def test_delete_removes_and_a_second_delete_is_a_404(app_client: AppClient) -> None:
    made = create(app_client)
    assert app_client.delete(f"{CUSTOMER}/{made['id']}").status_code == 204
    gone = app_client.get(f"{CUSTOMER}/{made['id']}")
    assert gone.status_code == 404 and gone.json()["@type"] == "Error"
    assert app_client.delete(f"{CUSTOMER}/{made['id']}").status_code == 404


def test_a_server_owned_attribute_in_a_create_is_a_400_and_nothing_is_stored(app_client: AppClient) -> None:
    tag = uuid.uuid4().hex
    response = app_client.post(CUSTOMER, json={"name": "Ada", "engagedParty": PARTY, "id": "mine", "status": tag})
    assert response.status_code == 400
    assert response.json()["message"] == "id is set by the server; leave it out of the request."
    assert app_client.get(CUSTOMER, params={"status": tag}).json() == []


def test_several_server_owned_attributes_are_named_together(app_client: AppClient) -> None:
    gateway = app_client.gateway
    api = gateway.api("tmf629_customer")
    call = Call(gateway, api, api.operations["createCustomer"], {"headers": [(b"host", b"h")]})
    with pytest.raises(BadRequest, match=r"^href, id are set by the server; leave them out of the request\.$"):
        operations.new_document(call, {"id": "1", "href": "x", "name": "Ada"})


class Recording:
    """A transaction that keeps the events written through it, to compare two ways of writing."""

    def __init__(self, tx: Any) -> None:
        self.tx, self.events = tx, cast(list[Event], [])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tx, name)

    async def add_event(self, event: Event) -> None:
        self.events.append(event)
        await self.tx.add_event(event)

    async def add_events(self, events: Sequence[Event]) -> None:
        self.events += events
        await self.tx.add_events(events)


async def changed_both_ways(tmp_path: Path) -> tuple[list[Any], list[Any], list[Any]]:
    apis = [model.build(specs.load(specs.specs_dir() / "tmf629_customer.yaml"))]
    runtime = Runtime(Settings(database_url=f"sqlite:///{tmp_path / 'db'}", **TEST_SETTINGS), apis=apis)  # type: ignore[arg-type]
    await runtime.start(deliver=False)
    try:
        gateway = runtime.gateway
        actor = Worker(gateway, "test", "acme")
        old = [{"id": f"c{n}", "href": f"h{n}", "name": "Ada", "status": "new"} for n in range(4)]
        async with gateway.transaction() as tx:
            await operations.write_new_many(tx, actor, "customer", old)
        new = [{**doc, "status": "approved", "name": f"Ada {n}"} for n, doc in enumerate(old)]
        async with gateway.transaction() as tx:
            one, many = Recording(tx), Recording(tx)
            for before, after in zip(old[:2], new[:2], strict=True):
                await operations.write_changed(one, actor, "customer", before, after)  # type: ignore[arg-type]
            await operations.write_changed_many(many, actor, "customer", list(zip(old[2:], new[2:], strict=True)))  # type: ignore[arg-type]
        stored = await documents.find(gateway.backend, "customer", sort="id")
        return stored, one.events, many.events
    finally:
        await runtime.stop()


def test_changing_many_stores_them_and_raises_the_events_of_changing_each(tmp_path: Path) -> None:
    stored, one, many = asyncio.run(changed_both_ways(tmp_path))
    assert [(doc["status"], doc["name"]) for doc in stored] == [("approved", f"Ada {n}") for n in range(4)]
    assert [event.type for event in one] == [event.type for event in many] == ["CustomerStateChangeEvent"] * 2
    assert [event.resource_id for event in one + many] == ["c0", "c1", "c2", "c3"]
    assert {event.owner for event in one} == {event.owner for event in many}
    assert [codec.loads(event.document or b"")["name"] for event in many] == ["Ada 2", "Ada 3"]
