"""Walks (tmfgate.walks): a face node compiled into closures does what its rules say, once per object."""

from __future__ import annotations

from typing import Any

from tmfgate import walks
from tmfgate.faces import Node, Rule, Typed

PRODUCT = Typed("ProductRefOrValue", frozenset({"ProductRef", "Product"}), False)
CHARACTERISTIC = Typed("Characteristic", frozenset({"StringCharacteristic", "BooleanCharacteristic"}), True)


def item_node() -> Node:
    """An order item that holds items of its own (schemas refer to themselves), a product and characteristics."""
    item = Node()
    item.children = {
        "productOrderItem": item,
        "product": Node(Rule(typed=PRODUCT)),
        "characteristic": Node(Rule(typed=CHARACTERISTIC)),
        "renamed": Node(Rule(moved=((("orderDate",), ("creationDate",)),))),
    }
    return item


def stored() -> dict[str, Any]:
    return {
        "product": {"id": "p1"},
        "characteristic": [{"name": "a", "value": "x"}, {"name": "b", "value": True}, {"name": "c"}],
        "productOrderItem": [{"product": {"id": "p2", "@type": "Product"}, "renamed": {"orderDate": "d"}}],
        "other": {"product": {"id": "p3"}},
    }


def test_outward_gives_each_object_the_type_its_shape_calls_for_down_to_nested_items() -> None:
    doc = stored()
    walks.outward(item_node())(doc)
    assert doc["product"] == {"id": "p1", "@type": "ProductRef"}
    assert [c.get("@type") for c in doc["characteristic"]] == [
        "StringCharacteristic",
        "BooleanCharacteristic",
        "Characteristic",  # open: the schema's own name
    ]
    nested = doc["productOrderItem"][0]
    assert nested["product"]["@type"] == "Product"  # a type given is kept
    assert nested["renamed"] == {"creationDate": "d"}  # a rule with more to do than a type runs whole
    assert doc["other"] == {"product": {"id": "p3"}}  # no node there: untouched


def test_inward_drops_exactly_the_types_outward_would_give() -> None:
    node = item_node()
    doc = stored()
    walks.outward(node)(doc)
    walks.inward(node)(doc)
    assert doc == stored()
    typed = {"product": {"id": "p1", "@type": "Product"}}
    walks.inward(node)(typed)
    assert typed == {"product": {"id": "p1", "@type": "Product"}}  # not the one its shape gives: kept


def test_a_walk_goes_through_lists_of_lists_and_passes_other_values_by() -> None:
    node = Node(Rule(typed=PRODUCT))
    doc: list[Any] = [[{"id": "a"}], {"href": "h"}, "text", None, 3]
    walks.outward(node)(doc)
    assert doc == [[{"id": "a", "@type": "ProductRef"}], {"href": "h", "@type": "ProductRef"}, "text", None, 3]
    walks.inward(node)(doc)
    assert doc == [[{"id": "a"}], {"href": "h"}, "text", None, 3]


def test_a_rule_that_says_nothing_changes_nothing_and_a_node_compiles_once() -> None:
    node = Node(Rule(), {"a": Node(Rule())})
    doc = {"a": {"@type": "X", "id": "1"}, "@type": "Y"}
    assert node.outward(doc) is doc and node.inward(doc) is doc
    assert doc == {"a": {"@type": "X", "id": "1"}, "@type": "Y"}
    walk = node._outward
    node.outward({})
    assert walk is not None and node._outward is walk
