"""A face (tmfgate.versions) over the shipped specs: v5 documents, JSON Patches, queries, replies and events
in the stored v4 names and back, by the table ``specs/v5/faces.yaml``."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from tmfgate.calls import Reply
from tmfgate.errors import BadRequest
from tmfgate.faces import Node, Rule, Typed
from tmfgate.model import ApiModel
from tmfgate.runtime import load_apis
from tmfgate.versions import EitherVersion, Face, FacedResource, Listed, stored_pointer

APIS = {api.name: api for api in load_apis()}
ORDERS = APIS["tmf622_product_ordering"]
FACE: Face = ORDERS.faces["5"].face
V4 = "/tmf-api/productOrderingManagement/v4"
V5 = "/tmf-api/productOrderingManagement/v5"
PATCH = "application/json-patch+json"


def stored_order() -> dict[str, Any]:
    return {
        "id": "o1",
        "href": f"http://gw{V4}/productOrder/o1",
        "orderDate": "2026-01-01T00:00:00Z",
        "state": "acknowledged",
        "relatedParty": [
            {"id": "c1", "role": "customer", "@referredType": "Individual", "@type": "RelatedParty"},
            {"id": "c2", "name": "Bob", "role": "payer", "href": "http://x/c2"},
        ],
        "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "po-fibre-500"}}],
    }


def face_of(name: str) -> Face:
    face: Face = APIS[name].faces["5"].face
    return face


# Documents


def test_a_stored_order_shows_in_v5_names() -> None:
    shown = FACE.outward("productOrder", stored_order())
    assert shown["creationDate"] == "2026-01-01T00:00:00Z" and "orderDate" not in shown
    assert shown["href"] == f"http://gw{V5}/productOrder/o1"
    assert shown["relatedParty"][0] == {
        "role": "customer",
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "partyOrPartyRole": {"id": "c1", "@referredType": "Individual", "@type": "PartyRef"},
    }
    assert shown["relatedParty"][1]["partyOrPartyRole"] == {
        "id": "c2",
        "name": "Bob",
        "href": "http://x/c2",
        "@type": "PartyRef",
    }
    # v5 requires the @type v4 leaves out: each nested object shows its class, a reference its Ref class.
    assert shown["productOrderItem"] == [
        {
            "id": "1",
            "action": "add",
            "productOffering": {"id": "po-fibre-500", "@type": "ProductOfferingRef"},
            "@type": "ProductOrderItem",
        }
    ]


def test_an_order_maps_to_v5_and_back_without_loss() -> None:
    stored = stored_order()
    shown = FACE.outward("productOrder", copy.deepcopy(stored))
    back = FACE.inward("productOrder", shown, "application/json")
    assert back.pop("href") == f"http://gw{V5}/productOrder/o1"  # the store sets the href, not the face
    del stored["href"]
    # The one v4 related party without an @type gets the v5 default, which stores as the v4 one, and
    # the @referredType v4 requires, derived from its v5 PartyRef (shown in v5 as it came: without).
    stored["relatedParty"][1]["@type"] = "RelatedParty"
    stored["relatedParty"][1]["@referredType"] = "Party"
    assert back == stored


def test_a_list_of_stored_documents_maps_item_by_item() -> None:
    shown = FACE.outward("productOrder", [stored_order(), stored_order()])
    assert [order["creationDate"] for order in shown] == ["2026-01-01T00:00:00Z"] * 2
    assert all(order["href"].startswith(f"http://gw{V5}/") for order in shown)


def test_a_v5_body_stores_in_v4_names_keeping_v5_only_attributes() -> None:
    body = {
        "creationDate": "2026-02-02",
        "requestedInitialState": "acknowledged",
        "relatedParty": [
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "customer",
                "partyOrPartyRole": {"@type": "PartyRoleRef", "id": "r1", "partyId": "c9"},
            }
        ],
    }
    stored = FACE.inward("productOrder", body, None)
    assert stored == {
        "orderDate": "2026-02-02",
        "requestedInitialState": "acknowledged",
        "relatedParty": [
            {
                "@type": "RelatedParty",
                "role": "customer",
                "id": "r1",
                "@referredType": "PartyRole",
                "partyOrPartyRole": {"@type": "PartyRoleRef", "partyId": "c9"},
            }
        ],
    }


@pytest.mark.parametrize(
    ("api", "kind", "stored_name", "face_name"),
    [
        ("tmf632_party", "individual", "fullName", "name"),
        ("tmf678_bill", "appliedCustomerBillingRate", "type", "appliedBillingRateType"),
        ("tmf622_product_ordering", "productOrder", "orderDate", "creationDate"),
        ("tmf621_trouble_ticket", "troubleTicket", "statusChange", "statusChangeHistory"),
        ("tmf666_account_management", "billingAccount", "lastModified", "lastUpdate"),
        ("tmf666_account_management", "financialAccount", "lastModified", "lastUpdate"),
    ],
)
def test_each_renamed_attribute_of_the_table(api: str, kind: str, stored_name: str, face_name: str) -> None:
    face = face_of(api)
    shown = face.outward(kind, {stored_name: "v", "other": 1})
    assert shown == {face_name: "v", "other": 1}
    assert face.inward(kind, shown, "application/merge-patch+json") == {stored_name: "v", "other": 1}


def test_a_task_resource_maps_through_its_face_node_by_its_home_name() -> None:
    alarms = face_of("tmf642_alarm")
    assert alarms.node("ackAlarms") is alarms.node("ackAlarm") is alarms.nodes["ackAlarm"]
    task = {"@type": "AckAlarms", "ackedAlarm": [{"id": "a1", "@referredType": "Alarm"}]}
    shown = alarms.outward("ackAlarms", task)
    assert shown == {"@type": "AckAlarm", "ackedAlarm": [{"id": "a1", "@referredType": "Alarm", "@type": "AlarmRef"}]}


def test_a_reply_names_the_face_in_every_href_of_the_home_api() -> None:
    alarms = face_of("tmf642_alarm")
    body = orjson.dumps(
        {
            "href": "http://h/tmf-api/alarmManagement/v4/ackAlarms/t1",
            "ackedAlarm": [{"id": "a1", "href": "http://h/tmf-api/alarmManagement/v4/alarm/a1"}],
            "affectedService": [{"href": "http://h/tmf-api/serviceInventory/v4/service/s1"}],
        }
    )
    shown = orjson.loads(alarms._hrefs(body))
    assert shown["href"] == "http://h/tmf-api/alarmManagement/v5/ackAlarm/t1"
    assert shown["ackedAlarm"][0]["href"] == "http://h/tmf-api/alarmManagement/v5/alarm/a1"
    # Another API with a v5 face leads to it; one without (TMF633 has no v5 file here) stays as it is.
    assert shown["affectedService"][0]["href"] == "http://h/tmf-api/serviceInventory/v5/service/s1"
    assert alarms._hrefs(b'{"name":"x"}') == b'{"name":"x"}'
    other = b'{"href":"http://h/tmf-api/serviceCatalogManagement/v4/serviceSpecification/s1"}'
    assert alarms._hrefs(other) == other


def test_a_resource_without_a_rule_passes_through() -> None:
    assert FACE.node("noSuchResource").rule is None
    assert FACE.outward("noSuchResource", {"a": {"b": 1}}) == {"a": {"b": 1}}
    assert FACE.inward("noSuchResource", {"a": 1}, None) == {"a": 1}
    assert "hub" not in FACE.nodes and "productOrder" in FACE.nodes


# JSON Patch


def test_a_json_patch_stores_in_v4_paths_and_values() -> None:
    patch = [
        {"op": "replace", "path": "/relatedParty/0/partyOrPartyRole/id", "value": "c2"},
        {
            "op": "add",
            "path": "/relatedParty/-",
            "value": {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "payer",
                "partyOrPartyRole": {"@type": "PartyRef", "id": "c3"},
            },
        },
        {"op": "replace", "path": "/creationDate", "value": "2026-03-03"},
        {"op": "move", "from": "/creationDate", "path": "/note/0/text"},
        {"op": "test", "path": "/relatedParty/1/role", "value": "payer"},
        "not an operation",
    ]
    assert FACE.inward("productOrder", patch, PATCH) == [
        {"op": "replace", "path": "/relatedParty/0/id", "value": "c2"},
        {
            "op": "add",
            "path": "/relatedParty/-",
            "value": {"@type": "RelatedParty", "role": "payer", "id": "c3", "@referredType": "Party"},
        },
        {"op": "replace", "path": "/orderDate", "value": "2026-03-03"},
        {"op": "move", "from": "/orderDate", "path": "/note/0/text"},
        {"op": "test", "path": "/relatedParty/1/role", "value": "payer"},
        "not an operation",
    ]


def test_a_json_patch_value_maps_by_the_node_its_path_points_at() -> None:
    whole = {"op": "add", "path": "/relatedParty/0", "value": {"role": "x", "partyOrPartyRole": {"id": "c4"}}}
    [stored] = FACE.inward("productOrder", [whole], "application/json-patch-query+json")
    assert stored["value"] == {"role": "x", "id": "c4", "@referredType": "Party"}
    # A value under a moved attribute has no rule of its own: it is kept as sent.
    inner = {"op": "add", "path": "/relatedParty/0/partyOrPartyRole", "value": {"id": "c5"}}
    [stored] = FACE.inward("productOrder", [inner], PATCH)
    assert stored == {"op": "add", "path": "/relatedParty/0/partyOrPartyRole", "value": {"id": "c5"}}


def test_a_json_patch_is_only_a_patch_with_its_media_type() -> None:
    # Without the JSON Patch media type a list is documents: their attributes move, not their paths.
    body = [{"op": "replace", "path": "/creationDate", "creationDate": "x"}]
    assert FACE.inward("productOrder", body, "application/json") == [
        {"op": "replace", "path": "/creationDate", "orderDate": "x"}
    ]


def test_stored_pointer_escapes_and_follows_nodes() -> None:
    node = FACE.node("productOrder")
    pointer, target = stored_pointer(node, "/relatedParty/2/partyOrPartyRole/@referredType")
    assert pointer == "/relatedParty/2/@referredType" and target is None
    pointer, target = stored_pointer(node, "/relatedParty/-")
    assert pointer == "/relatedParty/-" and target is node.children["relatedParty"]
    pointer, target = stored_pointer(node, "/a~1b/c~0d")
    assert pointer == "/a~1b/c~0d" and target is None
    assert stored_pointer(node, "") == ("", node)
    assert stored_pointer(node, "/creationDate") == ("/orderDate", None)


def test_a_whole_listed_value_collapses_after_its_items_map() -> None:
    item = Node(Rule(typed=Typed("ExternalIdentifier", frozenset({"ExternalIdentifier"}), False)))
    listed = Listed(item.rule, item.children, "id")
    assert listed.inward([{"@type": "ExternalIdentifier", "id": "x"}]) == "x"
    assert listed.inward([{"id": "x"}, {"id": "y"}]) == [{"id": "x"}, {"id": "y"}]


def test_pointers_into_a_listed_string_map_to_it_or_are_refused_by_name() -> None:
    node = face_of("tmf621_trouble_ticket").node("troubleTicket")
    assert stored_pointer(node, "/externalIdentifier/0/id") == ("/externalId", None)
    pointer, whole = stored_pointer(node, "/externalIdentifier")
    assert pointer == "/externalId" and whole is not None
    assert whole.inward([{"@type": "ExternalIdentifier", "id": "x"}]) == "x"
    for refused in ("/externalIdentifier/1", "/externalIdentifier/-", "/externalIdentifier/0/owner", "/externalId/0"):
        with pytest.raises(BadRequest, match=refused):
            stored_pointer(node, refused)
    orders = FACE.node("productOrder")  # listed without a move (TMF622 externalId)
    assert stored_pointer(orders, "/externalId/0/id") == ("/externalId", None)


@pytest.mark.parametrize(
    ("face", "stored"),
    [
        ("/creationDate", "/orderDate"),
        (
            "/relatedParty/partyOrPartyRole/name?relatedParty.role=requester",
            "/relatedParty/name?relatedParty.role=requester",
        ),
        ("/relatedParty/role?relatedParty.partyOrPartyRole.id=c1", "/relatedParty/role?relatedParty.id=c1"),
        ("/relatedParty/role?partyOrPartyRole.id=c1", "/relatedParty/role?id=c1"),  # from the element
        ("/relatedParty/role?/partyOrPartyRole/id=c1", "/relatedParty/role?id=c1"),  # slash-separated
        (
            "$.relatedParty[?(@.partyOrPartyRole.id=='c1')].partyOrPartyRole.name",
            "$.relatedParty[?(@.id=='c1')].name",
        ),
        ("$.creationDate", "$.orderDate"),
    ],
)
def test_a_json_patch_query_path_in_stored_names(face: str, stored: str) -> None:
    patch = [{"op": "replace", "path": face, "value": "x"}]
    assert FACE.inward("productOrder", patch, "application/json-patch-query+json") == [
        {"op": "replace", "path": stored, "value": "x"}
    ]


def test_a_json_patch_query_value_maps_by_the_element_it_selects() -> None:
    value = {"role": "payer", "partyOrPartyRole": {"id": "c7"}}
    patch = [{"op": "replace", "path": "$.relatedParty[?(@.role=='payer')]", "value": value}]
    [stored] = FACE.inward("productOrder", patch, "application/json-patch-query+json")
    assert stored["value"] == {"role": "payer", "id": "c7", "@referredType": "Party"}


# Queries


@pytest.mark.parametrize(
    ("face", "stored"),
    [
        ("relatedParty.partyOrPartyRole.id=c1", "relatedParty.id=c1"),
        ("creationDate.gt=2020-01-01", "orderDate.gt=2020-01-01"),
        ("creationDate>=2020-01-01", "orderDate>=2020-01-01"),
        ("relatedParty.partyOrPartyRole.name.regex=^B", "relatedParty.name.regex=%5EB"),
        ("fields=creationDate,relatedParty.partyOrPartyRole.name,state", "fields=orderDate,relatedParty.name,state"),
        ("sort=-creationDate,%2BcreationDate", "sort=-orderDate,%2BorderDate"),
        ("sort=-creationDate,+state", "sort=-orderDate,state"),  # a bare + in a query is a space
        ("state=acknowledged&limit=5&offset=10", "state=acknowledged&limit=5&offset=10"),
        # A JSON Path filter is read and written back in stored names (TMF630 Part 6).
        ("filter=relatedParty[?(@.role=='customer')]", "filter=$.relatedParty[?(@.role=='customer')]"),
        (
            "filter=relatedParty[?(@.partyOrPartyRole.id=='c1' && @.role=='customer')]",
            "filter=$.relatedParty[?(@.id=='c1'%20%26%26%20@.role=='customer')]",
        ),
        ("filter=relatedParty.partyOrPartyRole[?(@.name=~/^B/i)]", "filter=$.relatedParty[?(@.name=~%2F%5EB%2Fi)]"),
        ("filter=$.note[?(@.text=='a' && @.id>2)]&state=x", "filter=$.note[?(@.text=='a'%20%26%26%20@.id>2)]&state=x"),
        # Paging parameters are not attribute paths: kept exactly as sent, not re-encoded.
        ("expand=a+b&depth=2&before=x+y&after=1", "expand=a+b&depth=2&before=x+y&after=1"),
        ("relatedParty.role=a+b", "relatedParty.role=a%20b"),
        ("relatedParty.role=customer", "relatedParty.role=customer"),
        ("", ""),
    ],
)
def test_a_query_in_stored_names(face: str, stored: str) -> None:
    assert FACE.query("productOrder", face) == stored


@pytest.mark.parametrize(
    ("api", "kind", "attribute", "stored", "shown"),
    [
        ("tmf639_resource_inventory", "resource", "operationalState", "enable", "enabled"),
        ("tmf639_resource_inventory", "resource", "administrativeState", "shutdown", "shuttingDown"),
        ("tmf641_service_ordering", "cancelServiceOrder", "state", "accepted", "acknowledged"),
    ],
)
def test_each_value_spelled_otherwise_maps_both_ways(
    api: str, kind: str, attribute: str, stored: str, shown: str
) -> None:
    face = face_of(api)
    assert face.outward(kind, {attribute: stored})[attribute] == shown
    assert face.inward(kind, {attribute: shown}, "application/json") == {attribute: stored}


@pytest.mark.parametrize(
    ("api", "kind", "face", "stored"),
    [
        # Values the versions spell differently are filtered in the stored spelling (TMF639 enums).
        ("tmf639_resource_inventory", "resource", "operationalState=enabled", "operationalState=enable"),
        (
            "tmf639_resource_inventory",
            "resource",
            "operationalState=enabled,disabled",
            "operationalState=enable,disable",
        ),
        ("tmf639_resource_inventory", "resource", "operationalState.ne=disabled", "operationalState.ne=disable"),
        ("tmf639_resource_inventory", "resource", "operationalState.regex=enabled", "operationalState.regex=enabled"),
        ("tmf639_resource_inventory", "resource", "operationalState=other", "operationalState=other"),
        ("tmf639_resource_inventory", "resource", "administrativeState=shuttingDown", "administrativeState=shutdown"),
        ("tmf641_service_ordering", "cancelServiceOrder", "state=acknowledged", "state=accepted"),
        ("tmf639_resource_inventory", "resource", "name=enabled", "name=enabled"),
        (
            "tmf622_product_ordering",
            "productOrder",
            "filter=relatedParty[?(@.@type=='RelatedPartyRefOrPartyRoleRef' && @.role=='customer')]",
            "filter=$.relatedParty[?(@.@type=='RelatedParty'%20%26%26%20@.role=='customer')]",
        ),
        # @type names too: v5 names each TMF642 task in the singular, v4 in the plural.
        ("tmf642_alarm", "ackAlarm", "@type=AckAlarm", "@type=AckAlarms"),
        (
            "tmf622_product_ordering",
            "productOrder",
            "relatedParty.@type=RelatedPartyRefOrPartyRoleRef",
            "relatedParty.@type=RelatedParty",
        ),
    ],
)
def test_a_filter_value_in_stored_spelling(api: str, kind: str, face: str, stored: str) -> None:
    assert face_of(api).query(kind, face) == stored


def test_a_subscription_query_spells_event_values_as_stored() -> None:
    face = face_of("tmf639_resource_inventory")
    query = "event.resource.operationalState=enabled&eventType=ResourceCreateEvent"
    assert face.subscription_query(query) == "event.resource.operationalState=enable&eventType=ResourceCreateEvent"


def test_query_parts_are_rewritten_one_by_one() -> None:
    query = "relatedParty.partyOrPartyRole.id=c1&&creationDate.lt=2030&fields=creationDate"
    assert FACE.query("productOrder", query) == "relatedParty.id=c1&orderDate.lt=2030&fields=orderDate"


def test_a_subscription_query_renames_the_event_resource_paths() -> None:
    query = "event.productOrder.relatedParty.partyOrPartyRole.id=c1&eventType=ProductOrderCreateEvent"
    assert FACE.subscription_query(query) == "event.productOrder.relatedParty.id=c1&eventType=ProductOrderCreateEvent"
    assert FACE.subscription_query("event.productOrder=x") == "event.productOrder=x"
    assert FACE.subscription_query("fields=event.productOrder.creationDate") == "fields=event.productOrder.orderDate"


# Replies and events


def test_href_swaps_the_home_base_path_for_the_face_one_once() -> None:
    assert FACE.href(f"http://gw{V4}/productOrder/1") == f"http://gw{V5}/productOrder/1"
    assert FACE.href("http://elsewhere/x") == "http://elsewhere/x"


def test_a_document_reply_shows_in_v5_with_its_location() -> None:
    create = ORDERS.faces["5"].operations["createProductOrder"]
    reply = Reply(201, orjson.dumps(stored_order()), [(b"location", f"http://gw{V4}/productOrder/o1".encode())])
    shown = FACE.reply(create, reply)
    assert shown.status == 201
    assert shown.headers == [(b"location", f"http://gw{V5}/productOrder/o1".encode())]
    body = orjson.loads(shown.body or b"")
    assert body["creationDate"] and "orderDate" not in body
    assert body["relatedParty"][0]["partyOrPartyRole"]["id"] == "c1"


def test_errors_and_other_replies_keep_their_body() -> None:
    create = ORDERS.faces["5"].operations["createProductOrder"]
    error = Reply(400, b'{"code":"x","orderDate":1}', [])
    assert FACE.reply(create, error).body == error.body
    delete = ORDERS.faces["5"].operations["deleteProductOrder"]
    assert FACE.reply(delete, Reply(204)).body is None


def test_a_hub_reply_gets_the_hub_type() -> None:
    register = ORDERS.faces["5"].operations["createHub"]
    reply = FACE.reply(register, Reply(201, b'{"id":"h1","callback":"http://l"}', []))
    assert orjson.loads(reply.body or b"") == {"id": "h1", "callback": "http://l", "@type": "Hub"}


def test_an_event_takes_the_v5_envelope_and_shows_its_resource_in_v5() -> None:
    stored = {
        "eventId": "e1",
        "eventType": "ProductOrderCreateEvent",
        "timeOcurred": "2026-01-01T00:00:00Z",
        "fieldPath": "state",
        "event": {"productOrder": stored_order()},
    }
    event = orjson.loads(FACE.event(orjson.dumps(stored)))
    assert "timeOcurred" not in event and "fieldPath" not in event
    assert event["timeOccurred"] == "2026-01-01T00:00:00Z"
    assert event["@type"] == "ProductOrderCreateEvent" and event["@baseType"] == "Event"
    order = event["event"]["productOrder"]
    assert order["creationDate"] == "2026-01-01T00:00:00Z" and order["href"] == f"http://gw{V5}/productOrder/o1"


# Operations and resources


def test_a_face_operation_is_served_by_the_home_operation_of_the_same_verb() -> None:
    v5: ApiModel = ORDERS.faces["5"]
    home = FACE.operation(v5.operations["patchProductOrder"])
    assert home is not None
    assert home.api == ORDERS.name and home.operation_id == ORDERS.operations["patchProductOrder"].operation_id
    assert isinstance(home.resource, FacedResource)
    assert home.resource is FACE.resource("productOrder")  # built once
    assert home.resource.face_resource is v5.resources["productOrder"]
    hub = FACE.operation(v5.operations["createHub"])
    assert hub is not None and hub.api == ORDERS.name and hub.operation_id == "createHub"


def test_a_faced_resource_knows_attributes_of_either_version() -> None:
    resource = FACE.resource("productOrder")
    assert resource.attribute_known(("orderDate",))
    assert resource.attribute_known(("relatedParty", "id"))
    assert not resource.attribute_known(("noSuchAttribute",))
    assert resource.attribute_kind(("orderDate",)) is not None


class Fixed:
    """A validator that answers the same for every instance, and remembers what it saw."""

    def __init__(self, valid: bool) -> None:
        self.valid, self.seen = valid, list[Any]()

    def is_valid(self, instance: Any) -> bool:
        self.seen.append(instance)
        return self.valid

    def iter_errors(self, instance: Any) -> Iterator[Any]:
        self.seen.append(instance)
        return iter(())


def test_either_version_accepts_what_one_of_the_two_schemas_accepts() -> None:
    def shown(doc: Any) -> Any:
        return {"shown": doc}

    home, face = Fixed(True), Fixed(False)
    assert EitherVersion(home, face, shown).is_valid({"a": 1}) and face.seen == []
    home, face = Fixed(False), Fixed(True)
    assert EitherVersion(home, face, shown).is_valid({"a": 1}) and face.seen == [{"shown": {"a": 1}}]
    assert not EitherVersion(Fixed(False), Fixed(False), shown).is_valid({})
    face = Fixed(False)
    assert list(EitherVersion(Fixed(False), face, shown).iter_errors({"b": 2})) == []
    assert face.seen == [{"shown": {"b": 2}}]


def test_the_faced_validator_checks_a_stored_document_in_v5_terms() -> None:
    validator = FACE.resource("productOrder").validator
    assert isinstance(validator, EitherVersion)
    assert validator.shown(stored_order())["creationDate"] == "2026-01-01T00:00:00Z"


def test_tmf639_operational_state_is_spelled_per_version() -> None:
    face = face_of("tmf639_resource_inventory")
    shown = face.outward("resource", {"id": "r1", "operationalState": "enable"})
    assert shown["operationalState"] == "enabled"
    assert face.inward("resource", {"operationalState": "disabled"}, None) == {"operationalState": "disable"}


def test_a_v5_alarm_task_is_served_by_the_v4_task_of_its_plural_name() -> None:
    face = face_of("tmf642_alarm")
    assert face.homes["ackAlarm"] == "ackAlarms" and face.homes["unGroupAlarm"] == "unGroupAlarms"
    create = next(op for op in face.model.operations.values() if op.operation_id == "createAckAlarm")
    home = face.operation(create)
    assert home is not None and home.operation_id == "createAckAlarms" and home.resource.kind == "ackAlarms"
    v4, v5 = face.home.base_path, face.model.base_path
    assert face.href(f"http://gw{v4}/ackAlarms/t1") == f"http://gw{v5}/ackAlarm/t1"
    assert face.href(f"http://gw{v4}/alarm/a1") == f"http://gw{v5}/alarm/a1"
    assert face.outward("ackAlarm", {"@type": "AckAlarms"})["@type"] == "AckAlarm"


def test_a_v5_alarm_task_event_is_named_and_filtered_by_its_v5_name() -> None:
    face = face_of("tmf642_alarm")
    stored = {"eventType": "AckAlarmsCreateEvent", "title": "AckAlarmsCreateEvent", "event": {"ackAlarms": {}}}
    shown = orjson.loads(face.event(orjson.dumps(stored)))
    assert shown["eventType"] == shown["@type"] == shown["title"] == "AckAlarmCreateEvent"
    assert set(shown["event"]) == {"ackAlarm"}
    # A v5 subscriber's eventType= names the v5 type; the store keeps the v4 one. Others are left alone,
    # a v4 name given to v5 and a type that only starts like a renamed one too.
    assert face.home_event_type("UnGroupAlarmStateChangeEvent") == "UnGroupAlarmsStateChangeEvent"
    for name in ("AlarmCreateEvent", "AckAlarmsCreateEvent", "AckAlarmish"):
        assert face.home_event_type(name) == name
    plain = orjson.loads(face.event(orjson.dumps({"eventType": "AlarmCreateEvent", "event": {"alarm": {}}})))
    assert plain["eventType"] == "AlarmCreateEvent" and set(plain["event"]) == {"alarm"}
