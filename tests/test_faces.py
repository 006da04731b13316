"""A face's nodes and planner (tmfgate.faces): where in a schema's documents each rule applies, and
whole documents mapped out to the face and back (one rule's own behaviour: tests/test_facerules.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.test_facerules import RELATED, RULES, stored_party
from tmfgate.faces import Node, Planner, Rule, Typed
from tmfgate.model import Schemas


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


# A small spec: an order holding related parties (a rule), notes (no rule) and items that nest items.
DOCUMENT: dict[str, Any] = {
    "components": {
        "schemas": {
            "Order": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "orderDate": {"type": "string"},
                    "relatedParty": {"type": "array", "items": ref("RelatedPartyRefOrPartyRoleRef")},
                    "note": {"type": "array", "items": ref("Note")},
                    "item": {"type": "array", "items": ref("Item")},
                },
            },
            "Note": {"type": "object", "properties": {"text": {"type": "string"}, "author": ref("Author")}},
            "Author": {"type": "object", "properties": {"name": {"type": "string"}}},
            "Item": {
                "allOf": [
                    {"type": "object", "properties": {"id": {"type": "string"}}},
                    {"type": "object", "properties": {"item": {"type": "array", "items": ref("Item")}}},
                ],
                "oneOf": [{"type": "object", "properties": {"party": ref("RelatedPartyRefOrPartyRoleRef")}}],
            },
            "RelatedPartyRefOrPartyRoleRef": {
                "type": "object",
                "properties": {
                    "role": {"type": "string"},
                    "partyOrPartyRole": {"type": "object", "properties": {"id": {"type": "string"}}},
                },
            },
        }
    }
}


def order_node(rule: Rule | None = None) -> Node:
    return Planner(Schemas(DOCUMENT), RULES).plan(
        ref("Order"), rule or Rule.of({"moved": {"orderDate": "creationDate"}})
    )


# The table


# One rule


# Nodes over a schema


def test_the_planner_keeps_only_the_branches_where_a_rule_applies() -> None:
    node = order_node()
    assert set(node.children) == {"relatedParty", "item"}
    assert node.children["relatedParty"].rule == RELATED
    items = node.children["item"]
    assert items.rule is None
    assert set(items.children) == {"item", "party"}
    assert items.children["item"] is items  # a schema that refers to itself is one node
    assert node.at(("item", "item", "party")) is node.children["relatedParty"]
    assert node.at(("note",)) is None and node.at(("note", "author")) is None
    assert node.at(()) is node


def test_a_node_maps_a_whole_document_out_and_back_without_loss() -> None:
    stored = {
        "id": "o1",
        "orderDate": "2026-01-01",
        "relatedParty": [stored_party(), stored_party(id="c2", role="payer")],
        "note": [{"text": "hi", "author": {"name": "Ada"}}],
        "item": [{"id": "1", "item": [{"id": "1.1", "party": stored_party(id="c3")}]}],
    }
    doc = copy.deepcopy(stored)
    assert order_node().outward(doc) is doc
    assert "orderDate" not in doc and doc["creationDate"] == "2026-01-01"
    assert [p["partyOrPartyRole"]["id"] for p in doc["relatedParty"]] == ["c1", "c2"]
    assert all("id" not in p for p in doc["relatedParty"])
    assert doc["item"][0]["item"][0]["party"]["partyOrPartyRole"]["id"] == "c3"
    assert doc["note"] == stored["note"]
    assert order_node().inward(doc) is doc
    assert doc == stored


def test_a_node_leaves_scalars_and_unexpected_shapes_alone() -> None:
    node = order_node()
    assert node.outward("text") == "text" and node.inward(None) is None
    doc: dict[str, Any] = {"relatedParty": "not a list", "item": [1, "two"]}
    assert node.outward(doc) == {"relatedParty": "not a list", "item": [1, "two"]}


@pytest.mark.parametrize(
    ("face", "stored"),
    [
        (("creationDate",), ("orderDate",)),
        (("relatedParty", "partyOrPartyRole", "id"), ("relatedParty", "id")),
        (("relatedParty", "partyOrPartyRole", "@referredType"), ("relatedParty", "@referredType")),
        (("relatedParty", "role"), ("relatedParty", "role")),
        (("item", "item", "party", "partyOrPartyRole", "name"), ("item", "item", "party", "name")),
        (("note", "text"), ("note", "text")),
        ((), ()),
    ],
)
def test_a_face_path_in_stored_names_and_back(face: tuple[str, ...], stored: tuple[str, ...]) -> None:
    node = order_node()
    assert node.stored_path(face) == stored
    assert node.face_path(stored) == face


def test_a_node_without_rules_keeps_paths_as_they_are() -> None:
    node = Node()
    assert node.stored_path(("a", "b")) == ("a", "b")
    assert node.face_path(("a", "b")) == ("a", "b")
    assert node.outward({"a": 1}) == {"a": 1} and node.inward({"a": 1}) == {"a": 1}


def typed(base: str, *kinds: str, open_: bool = False) -> Rule:
    return Rule(typed=Typed(base, frozenset(kinds), open_))


@pytest.mark.parametrize(
    ("rule", "stored", "shown"),
    [
        (typed("ProductRefOrValue", "Product", "ProductRef"), {"id": "p1"}, "ProductRef"),
        (typed("ProductRefOrValue", "Product", "ProductRef"), {"name": "n"}, "Product"),
        (
            typed("Characteristic", "StringCharacteristic", "NumberCharacteristic"),
            {"value": "x"},
            "StringCharacteristic",
        ),
        (typed("Characteristic", "NumberCharacteristic"), {"value": 2}, "NumberCharacteristic"),
        (typed("Characteristic", "BooleanArrayCharacteristic"), {"value": [True]}, "BooleanArrayCharacteristic"),
        (typed("Characteristic", "ObjectCharacteristic"), {"value": {"a": 1}}, "ObjectCharacteristic"),
        (typed("Note", open_=True), {"text": "t"}, "Note"),
        (typed("Characteristic", "StringCharacteristic"), {"value": 2}, None),  # no kind fits: left alone
    ],
)
def test_a_stored_object_without_type_gets_the_one_its_shape_implies(
    rule: Rule, stored: dict[str, Any], shown: str | None
) -> None:
    doc = copy.deepcopy(stored)
    rule.outward(doc)
    assert doc.get("@type") == shown
    rule.inward(doc)
    assert doc == stored  # the implied @type is not stored, as a default is not


def test_a_type_the_client_chose_is_kept() -> None:
    doc: dict[str, Any] = {"id": "p1", "@type": "Product"}
    typed("ProductRefOrValue", "Product", "ProductRef").inward(doc)
    assert doc == {"id": "p1", "@type": "Product"}


def test_the_planner_types_the_schemas_that_require_it() -> None:
    schemas = Schemas(
        {
            "components": {
                "schemas": {
                    "Order": {"type": "object", "properties": {"spec": ref("SpecRef"), "free": ref("Free")}},
                    "Extensible": {"type": "object", "required": ["@type"]},
                    "SpecRef": {"allOf": [ref("Extensible")]},
                    "Free": {"type": "object", "properties": {"a": {"type": "string"}}},
                }
            }
        }
    )
    node = Planner(schemas, {}).plan(ref("Order"))
    assert set(node.children) == {"spec"}
    shown = node.outward({"spec": {"id": "s"}, "free": {"a": "b"}})
    assert shown == {"spec": {"id": "s", "@type": "SpecRef"}, "free": {"a": "b"}}


def test_a_listed_string_is_a_list_of_one_object_in_the_face() -> None:
    rule = Rule.of({"listed": {"externalId": "id"}})
    doc: dict[str, Any] = {"externalId": "x"}
    rule.outward(doc)
    assert doc == {"externalId": [{"id": "x"}]}
    rule.inward(doc)
    assert doc == {"externalId": "x"}
    more: dict[str, Any] = {"externalId": [{"id": "a", "owner": "crm"}, {"id": "b"}]}
    rule.inward(more)
    assert more == {"externalId": [{"id": "a", "owner": "crm"}, {"id": "b"}]}  # says more: kept as it came
    assert rule.stored_path(("externalId", "id")) == (("externalId",), 2)
    assert rule.stored_path(("externalId", "owner")) == (("externalId",), 1)


def test_a_listed_string_that_moved_maps_its_key_to_the_stored_string() -> None:
    rule = Rule.of({"moved": {"externalId": "externalIdentifier"}, "listed": {"externalId": "id"}})
    doc: dict[str, Any] = {"externalId": "x"}
    rule.outward(doc)
    assert doc == {"externalIdentifier": [{"id": "x"}]}
    rule.inward(doc)
    assert doc == {"externalId": "x"}
    assert rule.listed_key(("externalId",)) == "id" and rule.listed_key(("other",)) is None
    assert rule.stored_path(("externalIdentifier", "id")) == (("externalId",), 2)
    assert rule.stored_path(("externalIdentifier", "owner")) == (("externalId",), 1)
