"""Tenancy over HTTP on every store: two partners on every API, each seeing only its own resources."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from conformance.payloads import build_payload
from conformance.spec import Api, Resource, load_api
from tests.api.end_to_end import add, database_fixture, wait
from tests.conftest import RunningGateway
from tests.listeners import ListenerProcess
from tests.security.support import ALL_SCOPES, AUDIENCE, ISSUER, Keys, bearer, make_keys
from tmfgate.model import SHARED
from tmfgate.security.principals import ALL, Principal
from tmfgate.security.tenancy import visible
from tmfgate.specs import specs_dir

SPECS = sorted(p for p in specs_dir().glob("tmf[0-9]*.yaml"))
ORDERING = "/tmf-api/productOrderingManagement/v4"
SERVICE_ORDERING = "/tmf-api/serviceOrdering/v4"
PRODUCTS = "/tmf-api/productInventory/v4"
BILLING = "/tmf-api/customerBillManagement/v4"
ENDED = ("completed", "failed", "partial", "cancelled")
# Created by the gateway for an order, never from a body alone: tested through an order below.
MADE_FOR_ORDERS = {"tmf678_bill"}
# What a domain rule needs beyond the schema's required attributes: a payment or refund moves an amount.
MORE = {"tmf676_payment": {"totalAmount": {"unit": "EUR", "value": 1}}}

database = database_fixture("tmfgate_tenancy")  # a store of its own: another gateway's dispatcher would take its events


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def tenanted(store: str, keys: Keys) -> Iterator[RunningGateway]:
    settings = {"auth": "jwt", "jwks": str(keys.jwks), "issuer": ISSUER, "audience": AUDIENCE}
    with RunningGateway(store, fulfilment=False, **settings) as running:
        yield running


def _creatable(api: Api) -> list[Resource]:
    return [r for r in api.resources if r.has("post", on_item=False) and r.item_path and r.has("get")]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_a_partner_never_reaches_another_partners_resources(tenanted: RunningGateway, keys: Keys, spec: Path) -> None:
    api = load_api(spec)
    root = tenanted.url + api.server_url
    a, b = bearer(keys.token("partner-a")), bearer(keys.token("partner-b"))
    back_office = bearer(keys.token("back-office", ALL_SCOPES + " tmfgate:all"))
    checked = 0
    if (api.docs.root.get("info") or {}).get(SHARED):
        return _shared(api, root, a, b, back_office)
    for resource in _creatable(api):
        body = {**build_payload(api.docs, resource.create_schema, resource.class_name), **MORE.get(spec.stem, {})}
        created = requests.post(root + resource.collection_path, json=body, headers=a, timeout=10)
        if created.status_code != 201:
            continue  # a domain rule wants more than the schema's required attributes
        checked += 1
        id = created.json()["id"]
        item = root + resource.item_path.replace("{id}", id) if resource.item_path else ""
        assert requests.get(item, headers=a, timeout=10).status_code == 200
        assert requests.get(item, headers=back_office, timeout=10).status_code == 200
        assert requests.get(item, headers=b, timeout=10).status_code == 404
        listed = requests.get(root + resource.collection_path, params={"id": id}, headers=b, timeout=10)
        assert listed.status_code == 200 and listed.json() == [] and listed.headers["X-Total-Count"] == "0"
        own = requests.get(root + resource.collection_path, params={"id": id}, headers=a, timeout=10)
        assert own.headers["X-Total-Count"] == "1"
        everyone = requests.get(root + resource.collection_path, params={"id": id}, headers=back_office, timeout=10)
        assert everyone.headers["X-Total-Count"] == "1"
        if resource.has("patch"):
            patch = {"Content-Type": "application/merge-patch+json", **b}
            answer = requests.patch(item, data=b"{}", headers=patch, timeout=10)
            assert answer.status_code == 404, answer.text
        if resource.has("delete"):
            assert requests.delete(item, headers=b, timeout=10).status_code == 404
            assert requests.get(item, headers=a, timeout=10).status_code == 200
    assert checked or spec.stem in MADE_FOR_ORDERS, (
        f"no resource of {spec.stem} could be created from its required attributes alone"
    )


def _shared(api: Api, root: str, a: dict[str, str], b: dict[str, str], back_office: dict[str, str]) -> None:
    """A shared API (a catalog, the provider's): partners read what the back office writes, and write nothing."""
    checked = 0
    for resource in _creatable(api):
        body = build_payload(api.docs, resource.create_schema, resource.class_name)
        refused = requests.post(root + resource.collection_path, json=body, headers=a, timeout=10)
        assert refused.status_code == 403, refused.text
        created = requests.post(root + resource.collection_path, json=body, headers=back_office, timeout=10)
        if created.status_code != 201:
            continue  # a domain rule wants more than the schema's required attributes
        checked += 1
        item = root + (resource.item_path or "").replace("{id}", created.json()["id"])
        assert all(requests.get(item, headers=token, timeout=10).status_code == 200 for token in (a, b))
        patch = {"Content-Type": "application/merge-patch+json", **b}
        assert requests.patch(item, data=b"{}", headers=patch, timeout=10).status_code == 403
        assert requests.delete(item, headers=b, timeout=10).status_code == 403
    assert checked, f"no resource of {api.name} could be created from its required attributes alone"


def mine_of(url: str, path: str, token: dict[str, str], order_url: str) -> str:
    """The id of the service order fulfilling the product order at ``order_url``."""
    order_id = order_url.rsplit("/", 1)[-1]
    found = requests.get(url + path, params={"externalId": order_id}, headers=token, timeout=10).json()
    return str(found[0]["id"])


def test_hub_subscriptions_are_a_partners_own(tenanted: RunningGateway, keys: Keys) -> None:
    hub = tenanted.url + "/tmf-api/customerManagement/v4/hub"
    a, b = bearer(keys.token("partner-a")), bearer(keys.token("partner-b"))
    made = requests.post(hub, json={"callback": "http://127.0.0.1:9/listener"}, headers=a, timeout=10)
    assert made.status_code == 201 and "owner" not in made.json()
    assert requests.delete(f"{hub}/{made.json()['id']}", headers=b, timeout=10).status_code == 404
    assert requests.delete(f"{hub}/{made.json()['id']}", headers=a, timeout=10).status_code == 204


def test_what_the_gateway_makes_for_an_order_belongs_to_its_partner(database: str, keys: Keys, tmp_path: Path) -> None:
    settings = {"auth": "jwt", "jwks": str(keys.jwks), "issuer": ISSUER, "audience": AUDIENCE}
    a, b = bearer(keys.token("partner-a")), bearer(keys.token("partner-b"))
    account = f"ba-{uuid.uuid4().hex[:8]}"
    with (
        RunningGateway(database, fulfilment=True, **settings) as running,
        ListenerProcess(tmp_path / "a.jsonl") as heard_by_a,
        ListenerProcess(tmp_path / "b.jsonl") as heard_by_b,
    ):
        url = running.url
        for listener, token in ((heard_by_a, a), (heard_by_b, b)):
            made = requests.post(
                f"{url}{SERVICE_ORDERING}/hub", json={"callback": listener.callback}, headers=token, timeout=10
            )
            assert made.status_code == 201, made.text
        order = {"productOrderItem": [add("1", "po-fibre-500")], "billingAccount": {"id": account}}
        created = requests.post(f"{url}{ORDERING}/productOrder", json=order, headers=a, timeout=10)
        assert created.status_code == 201, created.text
        order_url = created.headers["Location"]
        wait(lambda: requests.get(order_url, headers=a, timeout=10).json()["state"], ENDED.__contains__, 60, "end")
        assert requests.get(order_url, headers=b, timeout=10).status_code == 404
        made_for_a = {
            f"{SERVICE_ORDERING}/serviceOrder": {"externalId": created.json()["id"]},
            f"{PRODUCTS}/product": {"billingAccount.id": account},
            f"{BILLING}/appliedCustomerBillingRate": {"billingAccount.id": account},
        }
        for path, filters in made_for_a.items():
            mine = requests.get(url + path, params=filters, headers=a, timeout=10)
            assert int(mine.headers["X-Total-Count"]) >= 1, path
            theirs = requests.get(url + path, params=filters, headers=b, timeout=10)
            assert theirs.headers["X-Total-Count"] == "0" and theirs.json() == [], path
            for item in mine.json():
                assert requests.get(f"{url}{path}/{item['id']}", headers=b, timeout=10).status_code == 404
        order_id, service_order = created.json()["id"], mine_of(url, f"{SERVICE_ORDERING}/serviceOrder", a, order_url)
        cancel = requests.post(
            f"{url}{ORDERING}/cancelProductOrder", json={"productOrder": {"id": order_id}}, headers=b, timeout=10
        )
        assert cancel.status_code == 400 and order_id in cancel.json()["message"]
        cancel = requests.post(
            f"{url}{SERVICE_ORDERING}/cancelServiceOrder",
            json={"serviceOrder": {"id": service_order}},
            headers=b,
            timeout=10,
        )
        assert cancel.status_code == 400, cancel.text
        on_demand = f"{url}{BILLING}/customerBillOnDemand"
        refused = requests.post(on_demand, json={"billingAccount": {"id": account}}, headers=b, timeout=10)
        assert refused.status_code == 201 and refused.json()["state"] == "rejected"  # nothing of B's to bill
        billed = requests.post(on_demand, json={"billingAccount": {"id": account}}, headers=a, timeout=10)
        assert billed.status_code == 201 and billed.json()["state"] == "done", billed.text
        bill = billed.json()["customerBill"]["href"]
        assert requests.get(bill, headers=a, timeout=10).status_code == 200
        assert requests.get(bill, headers=b, timeout=10).status_code == 404
        heard_by_a.wait_for(lambda got: any("ServiceOrder" in e["body"]["eventType"] for e in got), 30)
        assert heard_by_b.delivered() == []


def test_the_back_offices_change_reaches_the_owners_subscription(
    tenanted: RunningGateway, keys: Keys, tmp_path: Path
) -> None:
    a, b = bearer(keys.token("partner-a")), bearer(keys.token("partner-b"))
    back_office = bearer(keys.token("back-office", ALL_SCOPES + " tmfgate:all"))
    api = tenanted.url + "/tmf-api/customerManagement/v4"
    with ListenerProcess(tmp_path / "a.jsonl") as heard_by_a, ListenerProcess(tmp_path / "b.jsonl") as heard_by_b:
        for listener, token in ((heard_by_a, a), (heard_by_b, b)):
            query = {"callback": listener.callback, "query": "eventType=CustomerAttributeValueChangeEvent"}
            assert requests.post(f"{api}/hub", json=query, headers=token, timeout=10).status_code == 201
        body = {"name": "Ada", "engagedParty": {"id": "p-1", "@referredType": "Individual"}}
        customer = requests.post(f"{api}/customer", json=body, headers=a, timeout=10).json()
        merge = {**back_office, "Content-Type": "application/merge-patch+json"}
        changed = requests.patch(
            f"{api}/customer/{customer['id']}", data=b'{"description": "x"}', headers=merge, timeout=10
        )
        assert changed.status_code == 200, changed.text
        heard_by_a.wait_for(lambda got: any(e["body"]["event"]["customer"]["id"] == customer["id"] for e in got))
        assert heard_by_b.delivered() == []


def test_a_partner_sees_its_own_and_the_shared_kinds_the_back_office_everything() -> None:
    gateway = SimpleNamespace(shared_kinds=frozenset({"productOffering"}))

    def call(principal: Principal | None, kind: str) -> Any:
        return SimpleNamespace(principal=principal, gateway=gateway, resource=SimpleNamespace(kind=kind))

    partner = Principal("acme", frozenset({"tmf622:read"}))
    assert visible(call(partner, "productOrder")) == ("acme",)
    assert visible(call(partner, "productOrder"), "productOffering") == ("acme", None)
    assert visible(call(Principal("ops", frozenset({ALL})), "productOrder")) is None
    assert visible(call(None, "productOrder")) is None  # no authentication: no tenancy


def test_a_ticket_links_only_to_what_its_partner_may_see(tenanted: RunningGateway, keys: Keys) -> None:
    a, b = bearer(keys.token("partner-a")), bearer(keys.token("partner-b"))
    product = requests.post(
        f"{tenanted.url}{PRODUCTS}/product", json={"name": "Fibre", "status": "active"}, headers=a, timeout=10
    ).json()
    link = [{"id": product["id"], "role": "affected", "@referredType": "Product"}]
    ticket = {"description": "Down", "severity": "major", "ticketType": "complaint", "relatedEntity": link}
    url = f"{tenanted.url}/tmf-api/troubleTicket/v4/troubleTicket"
    refused = requests.post(url, json=ticket, headers=b, timeout=10)
    assert refused.status_code == 400 and "no Product with this id" in refused.json()["message"]
    assert requests.post(url, json=ticket, headers=a, timeout=10).status_code == 201
