"""v5 beside v4 over one store, on every store: what one version writes the other reads, filters,
patches and deletes, with nothing lost on the way (tmfgate.versions, specs/v5/faces.yaml)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import requests

from tests.conftest import RunningGateway
from tests.listeners import Entry, ListenerProcess

V4 = "/tmf-api/productOrderingManagement/v4"
V5 = "/tmf-api/productOrderingManagement/v5"
PARTY_V4, PARTY_V5 = "/tmf-api/party/v4", "/tmf-api/partyManagement/v5"
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
Doc = dict[str, Any]


def v5_order(customer: str, **more: Any) -> Doc:
    return {
        "@type": "ProductOrder",
        "productOrderItem": [
            {
                "@type": "ProductOrderItem",
                "id": "1",
                "action": "add",
                "productOffering": {"@type": "ProductOfferingRef", "id": "po-fibre-500"},
            }
        ],
        "relatedParty": [
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "customer",
                "partyOrPartyRole": {"@type": "PartyRef", "id": customer, "@referredType": "Individual"},
            }
        ],
        **more,
    }


def v4_order(customer: str, **more: Any) -> Doc:
    return {
        "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "po-fibre-500"}}],
        "relatedParty": [{"id": customer, "role": "customer", "@referredType": "Individual", "@type": "RelatedParty"}],
        **more,
    }


def created(url: str, base: str, kind: str, body: Doc) -> Doc:
    reply = requests.post(f"{url}{base}/{kind}", json=body, timeout=10)
    assert reply.status_code == 201, reply.text
    assert reply.headers["location"] == reply.json()["href"]
    return reply.json()  # type: ignore[no-any-return]


def read(url: str, base: str, kind: str, id: str, **params: str) -> Doc:
    reply = requests.get(f"{url}{base}/{kind}/{id}", params=params, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def listed(url: str, base: str, kind: str, **params: str) -> list[Doc]:
    reply = requests.get(f"{url}{base}/{kind}", params=params, timeout=10)
    assert reply.status_code in (200, 206), reply.text
    return reply.json()  # type: ignore[no-any-return]


def customer() -> str:
    return f"cust-{uuid.uuid4().hex[:8]}"


def test_an_order_placed_on_v5_reads_on_v4_in_v4_terms(gateway: RunningGateway) -> None:
    url, who = gateway.url, customer()
    order = created(url, V5, "productOrder", v5_order(who, requestedInitialState="acknowledged"))
    assert order["href"].startswith(f"{url}{V5}/productOrder/")
    assert order["creationDate"] and "orderDate" not in order
    assert order["requestedInitialState"] == "acknowledged"  # a v5 attribute v4 lacks is kept
    old = read(url, V4, "productOrder", order["id"])
    assert old["href"] == f"{url}{V4}/productOrder/{order['id']}"
    assert old["orderDate"] == order["creationDate"] and "creationDate" not in old
    assert old["relatedParty"] == [
        {"id": who, "role": "customer", "@referredType": "Individual", "@type": "RelatedParty"}
    ]
    again = read(url, V5, "productOrder", order["id"])
    assert again == order
    assert again["relatedParty"] == v5_order(who)["relatedParty"]


def test_an_order_placed_on_v4_round_trips_through_v5_without_loss(gateway: RunningGateway) -> None:
    url, who = gateway.url, customer()
    order = created(url, V4, "productOrder", v4_order(who, externalId="ext-1", description="as placed"))
    shown = read(url, V5, "productOrder", order["id"])
    assert shown["relatedParty"] == [
        {
            "role": "customer",
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "partyOrPartyRole": {"id": who, "@referredType": "Individual", "@type": "PartyRef"},
        }
    ]
    assert shown["creationDate"] == order["orderDate"]
    # A v5 client patches what it read back unchanged: the v4 document is the same afterwards.
    unchanged = {"@type": "ProductOrder", "relatedParty": shown["relatedParty"], "description": "as placed"}
    reply = requests.patch(f"{url}{V5}/productOrder/{order['id']}", json=unchanged, headers=MERGE, timeout=10)
    assert reply.status_code == 200, reply.text
    assert read(url, V4, "productOrder", order["id"]) == order


def test_v5_filters_fields_and_sort_use_v5_names_in_the_store(gateway: RunningGateway) -> None:
    url, who = gateway.url, customer()
    first = created(url, V5, "productOrder", v5_order(who))
    second = created(url, V4, "productOrder", v4_order(who))
    found = listed(
        url,
        V5,
        "productOrder",
        **{"relatedParty.partyOrPartyRole.id": who, "fields": "creationDate,relatedParty", "sort": "-creationDate"},
    )
    assert [doc["id"] for doc in found] == [second["id"], first["id"]]
    assert set(found[0]) == {"id", "href", "creationDate", "relatedParty"}
    assert found[0]["relatedParty"][0]["partyOrPartyRole"]["id"] == who
    since = listed(
        url, V5, "productOrder", **{"relatedParty.partyOrPartyRole.id": who, "creationDate.gt": first["creationDate"]}
    )
    assert [doc["id"] for doc in since] == [second["id"]]
    assert listed(url, V5, "productOrder", **{"relatedParty.partyOrPartyRole.id": "nobody"}) == []


def test_a_v5_json_patch_names_v5_paths(gateway: RunningGateway) -> None:
    url, who = gateway.url, customer()
    order = created(url, V4, "productOrder", v4_order(who))
    operations = [
        {"op": "add", "path": "/relatedParty/0/partyOrPartyRole/name", "value": "Ada"},
        {"op": "add", "path": "/relatedParty/-", "value": v5_order("payer-1")["relatedParty"][0] | {"role": "payer"}},
    ]
    reply = requests.patch(f"{url}{V5}/productOrder/{order['id']}", json=operations, headers=JSON_PATCH, timeout=10)
    assert reply.status_code == 200, reply.text
    parties = read(url, V4, "productOrder", order["id"])["relatedParty"]
    assert parties[0]["name"] == "Ada"
    assert parties[1] == {"id": "payer-1", "role": "payer", "@referredType": "Individual", "@type": "RelatedParty"}


def test_v5_refuses_a_body_without_type_and_stores_nothing(gateway: RunningGateway) -> None:
    url, who = gateway.url, customer()
    body = v5_order(who)
    del body["relatedParty"][0]["partyOrPartyRole"]["@type"]
    reply = requests.post(f"{url}{V5}/productOrder", json=body, timeout=10)
    assert reply.status_code == 400
    assert {"code", "reason", "@type"} <= set(reply.json())
    assert listed(url, V4, "productOrder", **{"relatedParty.id": who}) == []


def test_a_v5_subclass_is_decided_by_its_type(gateway: RunningGateway) -> None:
    url, who = gateway.url, customer()
    body = v5_order(who)
    body["relatedParty"][0]["partyOrPartyRole"] = {"@type": "PartyRoleRef", "id": who, "partyId": "p-1"}
    order = created(url, V5, "productOrder", body)
    # v4 has no room for the role reference's type: it is kept beside the v4 attributes.
    stored = read(url, V4, "productOrder", order["id"])["relatedParty"][0]
    assert stored["id"] == who and stored["partyOrPartyRole"]["@type"] == "PartyRoleRef"
    # v4 requires a kind of party that the v5 client need not give: the reference's kind stands in.
    assert stored["@referredType"] == "PartyRole"
    assert read(url, V5, "productOrder", order["id"])["relatedParty"] == order["relatedParty"]
    body["relatedParty"][0]["partyOrPartyRole"]["@type"] = "NoSuchRef"
    assert requests.post(f"{url}{V5}/productOrder", json=body, timeout=10).status_code == 400


def test_a_party_renamed_attribute_and_a_delete_across_versions(gateway: RunningGateway) -> None:
    url = gateway.url
    family = f"Lovelace-{uuid.uuid4().hex[:8]}"
    ada = created(url, PARTY_V4, "individual", {"givenName": "Ada", "familyName": family, "fullName": "Ada L."})
    shown = read(url, PARTY_V5, "individual", ada["id"])
    assert shown["name"] == "Ada L." and "fullName" not in shown
    assert [doc["id"] for doc in listed(url, PARTY_V5, "individual", name="Ada L.", familyName=family)] == [ada["id"]]
    reply = requests.delete(f"{url}{PARTY_V5}/individual/{ada['id']}", timeout=10)
    assert reply.status_code == 204
    assert requests.get(f"{url}{PARTY_V4}/individual/{ada['id']}", timeout=10).status_code == 404


def test_each_subscriber_hears_the_same_change_in_its_own_version(gateway: RunningGateway, tmp_path: Path) -> None:
    url, who = gateway.url, customer()
    with (
        ListenerProcess(tmp_path / "v4.log") as old_listener,
        ListenerProcess(tmp_path / "v5.log") as new_listener,
    ):
        old_hub = requests.post(f"{url}{V4}/hub", json={"callback": old_listener.callback}, timeout=10)
        query = f"eventType=ProductOrderCreateEvent&event.productOrder.relatedParty.partyOrPartyRole.id={who}"
        new_hub = requests.post(
            f"{url}{V5}/hub", json={"@type": "Hub", "callback": new_listener.callback, "query": query}, timeout=10
        )
        assert old_hub.status_code == new_hub.status_code == 201, new_hub.text
        assert new_hub.json()["query"] == query and new_hub.json()["@type"] == "Hub"
        assert new_hub.headers["location"].startswith(f"{url}{V5}/hub/")
        created(url, V5, "productOrder", v5_order(customer()))  # another customer: the v5 query leaves it out
        order = created(url, V5, "productOrder", v5_order(who))

        def heard(entries: list[Entry]) -> list[Doc]:
            return [e["body"] for e in entries if e["body"]["event"]["productOrder"]["id"] == order["id"]]

        old = heard(old_listener.wait_for(lambda got: bool(heard(got)), 20))[0]
        new_got = new_listener.wait_for(lambda got: bool(heard(got)), 20)
        new = heard(new_got)[0]
        assert len({e["body"]["event"]["productOrder"]["id"] for e in new_got}) == 1
        assert old["eventId"] == new["eventId"] and old["eventType"] == new["eventType"] == "ProductOrderCreateEvent"
        assert old["timeOcurred"] and "timeOccurred" not in old and "@type" not in old
        assert new["timeOccurred"] and new["@type"] == "ProductOrderCreateEvent" and "timeOcurred" not in new
        assert old["event"]["productOrder"]["orderDate"] == new["event"]["productOrder"]["creationDate"]
        assert new["event"]["productOrder"] == order
        assert old["event"]["productOrder"]["relatedParty"][0]["id"] == who
        for hub, base in ((old_hub, V4), (new_hub, V5)):
            assert requests.delete(f"{url}{base}/hub/{hub.json()['id']}", timeout=10).status_code == 204


def test_external_id_is_a_string_on_v4_and_a_list_on_v5_with_filters(gateway: RunningGateway) -> None:
    url, who = gateway.url, customer()
    on_v4 = created(url, V4, "productOrder", v4_order(who, externalId=f"{who}-crm"))
    shown = read(url, V5, "productOrder", on_v4["id"])
    assert shown["externalId"] == [{"id": f"{who}-crm", "@type": "ExternalIdentifier"}]
    identifier = [{"@type": "ExternalIdentifier", "id": f"{who}-web"}]
    on_v5 = created(url, V5, "productOrder", v5_order(who, externalId=identifier))
    assert on_v5["externalId"] == identifier
    assert read(url, V4, "productOrder", on_v5["id"])["externalId"] == f"{who}-web"
    found = listed(url, V5, "productOrder", **{"externalId.id": f"{who}-web", "fields": "externalId"})
    assert [(order["id"], order["externalId"]) for order in found] == [(on_v5["id"], identifier)]
    assert [order["id"] for order in listed(url, V4, "productOrder", externalId=f"{who}-crm")] == [on_v4["id"]]
    # A JSON Patch into the v5 list reaches the stored string; a second identifier is a 400 naming it.
    patch = [{"op": "replace", "path": "/externalId/0/id", "value": f"{who}-app"}]
    reply = requests.patch(f"{url}{V5}/productOrder/{on_v5['id']}", json=patch, headers=JSON_PATCH, timeout=10)
    assert reply.status_code == 200 and reply.json()["externalId"][0]["id"] == f"{who}-app", reply.text
    assert read(url, V4, "productOrder", on_v5["id"])["externalId"] == f"{who}-app"
    more = [{"op": "add", "path": "/externalId/-", "value": {"@type": "ExternalIdentifier", "id": "x"}}]
    reply = requests.patch(f"{url}{V5}/productOrder/{on_v5['id']}", json=more, headers=JSON_PATCH, timeout=10)
    assert reply.status_code == 400 and "/externalId/-" in reply.json()["message"], reply.text
