"""Face rules (tmfgate.facerules): the table read into rules, and one rule's moves, renamed ``@type``
values, v5-only defaults and respelled values, out to the face and back, on one object."""

from __future__ import annotations

import copy
from typing import Any

from tmfgate import specs
from tmfgate.facerules import Rule, collapsed, rules_of

TABLE = specs.read_data(specs.specs_dir() / "v5" / specs.FACES_FILE)
RULES = rules_of(TABLE)
RELATED = RULES["RelatedPartyRefOrPartyRoleRef"]


def stored_party(**more: Any) -> dict[str, Any]:
    return {
        "id": "c1",
        "href": "http://x/party/c1",
        "name": "Ada",
        "role": "customer",
        "@referredType": "Individual",
        "@type": "RelatedParty",
        **more,
    }


def test_the_table_reads_into_rules_with_dotted_paths_split() -> None:
    assert set(RULES) >= {"RelatedPartyRefOrPartyRoleRef", "RelatedPartyOrPartyRole", "RelatedChannel"}
    assert (("id",), ("partyOrPartyRole", "id")) in RELATED.moved
    assert (("@referredType",), ("partyOrPartyRole", "@referredType")) in RELATED.moved
    assert RELATED.types == {"RelatedParty": "RelatedPartyRefOrPartyRoleRef"}
    assert (("partyOrPartyRole", "@type"), "PartyRef") in RELATED.defaults
    # The YAML merge key keeps the moves and replaces the types and defaults.
    other = RULES["RelatedPartyOrPartyRole"]
    assert other.moved == RELATED.moved
    assert other.types == {"RelatedParty": "RelatedPartyOrPartyRole"}


def test_rules_of_an_empty_table_or_an_empty_rule() -> None:
    assert rules_of({}) == {} and rules_of({"schemas": None}) == {}
    assert rules_of({"schemas": {"Bare": None}}) == {"Bare": Rule()}
    assert Rule.of({}) == Rule()


def test_a_stored_related_party_shows_its_party_under_party_or_party_role() -> None:
    doc = stored_party()
    RELATED.outward(doc)
    assert doc == {
        "role": "customer",
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "partyOrPartyRole": {
            "id": "c1",
            "href": "http://x/party/c1",
            "name": "Ada",
            "@referredType": "Individual",
            "@type": "PartyRef",
        },
    }


def test_a_related_party_maps_out_and_back_without_loss() -> None:
    original = stored_party(extra={"kept": [1, 2]})
    doc = copy.deepcopy(original)
    RELATED.outward(doc)
    RELATED.inward(doc)
    assert doc == original


def test_a_v5_related_party_stores_in_v4_names_and_drops_only_the_defaults() -> None:
    doc = {
        "role": "customer",
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "partyOrPartyRole": {"id": "c1", "@type": "PartyRef"},
    }
    RELATED.inward(doc)
    assert doc == {"role": "customer", "id": "c1", "@type": "RelatedParty", "@referredType": "Party"}


def test_v5_only_values_are_kept_when_they_differ_from_the_defaults() -> None:
    doc = {"role": "seller", "partyOrPartyRole": {"id": "r1", "@type": "PartyRoleRef"}, "@type": "Custom"}
    RELATED.inward(doc)
    assert doc == {
        "role": "seller",
        "id": "r1",
        "partyOrPartyRole": {"@type": "PartyRoleRef"},
        "@type": "Custom",
        "@referredType": "PartyRole",
    }
    RELATED.outward(doc)
    assert doc == {"role": "seller", "partyOrPartyRole": {"@type": "PartyRoleRef", "id": "r1"}, "@type": "Custom"}


def test_defaults_fill_only_what_the_stored_document_lacks() -> None:
    doc: dict[str, Any] = {"role": "customer", "@type": "SomethingElse", "id": "c1"}
    RELATED.outward(doc)
    assert doc == {"role": "customer", "@type": "SomethingElse", "partyOrPartyRole": {"id": "c1", "@type": "PartyRef"}}
    # No party, no partyOrPartyRole: {"@type": "PartyRef"} alone would be a reference lacking its id.
    empty: dict[str, Any] = {"role": "x"}
    RELATED.outward(empty)
    assert empty == {"role": "x", "@type": "RelatedPartyRefOrPartyRoleRef"}
    # Back in: the default @type is a face type with a stored counterpart, so it maps back rather than
    # being dropped.
    RELATED.inward(empty)
    assert empty == {"role": "x", "@type": "RelatedParty", "@referredType": "Party"}


def test_values_the_versions_spell_differently_map_both_ways() -> None:
    rule = Rule.of({"values": {"operationalState": {"enable": "enabled", "disable": "disabled"}}})
    doc: dict[str, Any] = {"operationalState": "enable"}
    rule.outward(doc)
    assert doc == {"operationalState": "enabled"}
    rule.inward(doc)
    assert doc == {"operationalState": "enable"}
    other: dict[str, Any] = {"operationalState": "unknown", "x": 1}
    rule.outward(other)
    assert other == {"operationalState": "unknown", "x": 1}


def test_a_stored_attribute_v4_requires_is_derived_from_the_v5_reference_kind() -> None:
    """v4 requires a related party's @referredType, v5 does not: a v5 reference without one is stored with
    its reference's kind, so that v4 reads stay valid, and shows as it came in."""
    sent = {"role": "customer", "partyOrPartyRole": {"id": "r1", "@type": "PartyRoleRef", "partyId": "p1"}}
    doc = copy.deepcopy(sent)
    RELATED.inward(doc)
    assert doc["@referredType"] == "PartyRole" and doc["id"] == "r1"
    RELATED.outward(doc)
    assert doc == {**sent, "@type": "RelatedPartyRefOrPartyRoleRef"}
    # A kind the v5 client did name is kept both ways, also when it differs from the derived one.
    named = {"role": "customer", "partyOrPartyRole": {"id": "c1", "@type": "PartyRef", "@referredType": "Individual"}}
    RELATED.inward(named)
    assert named["@referredType"] == "Individual"
    RELATED.outward(named)
    assert named["partyOrPartyRole"]["@referredType"] == "Individual"


def test_a_move_into_a_non_object_replaces_it_and_a_missing_one_is_skipped() -> None:
    rule = Rule.of({"moved": {"a": "b.c"}})
    doc: dict[str, Any] = {"a": 1, "b": "scalar"}
    rule.outward(doc)
    assert doc == {"b": {"c": 1}}
    untouched: dict[str, Any] = {"z": 1, "b": "scalar"}
    rule.outward(untouched)
    rule.inward(untouched)
    assert untouched == {"z": 1, "b": "scalar"}


def test_a_renamed_attribute_moves_both_ways() -> None:
    rule = Rule.of({"moved": {"fullName": "name"}})
    doc = {"fullName": "Ada Lovelace", "givenName": "Ada"}
    rule.outward(doc)
    assert doc == {"name": "Ada Lovelace", "givenName": "Ada"}
    rule.inward(doc)
    assert doc == {"fullName": "Ada Lovelace", "givenName": "Ada"}


def test_a_rule_gives_the_stored_head_of_a_face_path() -> None:
    assert RELATED.stored_path(("partyOrPartyRole", "id")) == (("id",), 2)
    assert RELATED.stored_path(("partyOrPartyRole", "@referredType", "x")) == (("@referredType",), 2)
    assert RELATED.stored_path(("role",)) == (("role",), 1)
    assert RELATED.stored_path(("partyOrPartyRole",)) == (("partyOrPartyRole",), 1)


def test_a_list_of_one_object_collapses_to_its_key() -> None:
    two = [{"id": "x"}, {"id": "y"}]
    assert collapsed([{"id": "x"}], "id") == "x" and collapsed(two, "id") == two
    assert collapsed("x", "id") == "x" and collapsed([{"id": "x", "owner": "o"}], "id") == [{"id": "x", "owner": "o"}]
