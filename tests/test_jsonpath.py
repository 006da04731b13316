"""The JSON Path subset of TMF630 Part 6: what is read, how it is written back, and what is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tmfgate.errors import InvalidQuery
from tmfgate.jsonpath import Comparison, JsonPath, parse, render, with_paths


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("note[?(@.author=='John Doe')]", JsonPath(("note",), (Comparison(("author",), "==", "John Doe"),))),
        (
            "$.productCharacteristic[?(@.name=='Rufnummer' && @.value=='0176')]",
            JsonPath(
                ("productCharacteristic",),
                (Comparison(("name",), "==", "Rufnummer"), Comparison(("value",), "==", "0176")),
            ),
        ),
        # The TMF639 v5 file's own example leaves out the dot after @.
        ("attachment[?(@size==300)]", JsonPath(("attachment",), (Comparison(("size",), "==", Decimal(300)),))),
        ("$['a b'][*][?(@[\"c\"]!=false)]", JsonPath(("a b",), (Comparison(("c",), "!=", False),))),
        ("$.a.b[?( @.x =~ /^a\\/b\\d/i )]", JsonPath(("a", "b"), (Comparison(("x",), "=~", "(?i)^a/b\\d", True),))),
        (
            "a[?(@.n>=-2.5e3 && @.m<1)]",
            JsonPath(("a",), (Comparison(("n",), ">=", Decimal("-2.5e3")), Comparison(("m",), "<", Decimal(1)))),
        ),
        ("a[?(@.s=='it\\'s')]", JsonPath(("a",), (Comparison(("s",), "==", "it's"),))),
    ],
)
def test_read_and_written_back(text: str, expected: JsonPath) -> None:
    parsed = parse(text)
    assert parsed == expected
    assert parse(render(parsed)) == parsed


def test_a_selection_may_go_on_after_its_filter_or_have_none() -> None:
    assert parse("$.note[?(@.author=='x')].text", selection=True).rest == ("text",)
    assert parse("$.postcode", selection=True) == JsonPath(("postcode",))
    assert render(JsonPath(("postcode",))) == "$.postcode"


def test_paths_are_replaced_in_order() -> None:
    parsed = parse("a[?(@.x=='1' && @.y>2)].z", selection=True)
    renamed = with_paths(parsed, ("b",), [("p", "q"), ("r",)], ("s",))
    assert render(renamed) == "$.b[?(@.p.q=='1' && @.r>2)].s"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("$", "names no attribute"),
        ("a[?(@.x=='1' || @.y=='2')]", "||"),
        ("a..b[?(@.x==1)]", "'..'"),
        ("a[?(@.x)]", "no comparison operator"),
        ("a[?(!@.x)]", "not an @-path"),
        ("a[?(@.x==null)]", "not a 'text'"),
        ("a[?(@.x=~'s')]", "=~ takes a /regex/"),
        ("a[?(@.x==/s/)]", "=~ takes a /regex/"),
        ("a[?(@.x=='1')].b", "must end"),
        ("a", "no [?(...)] filter"),
        ("a[0]", "cannot be read"),
        ("a[?(@.x=='1)]", "never closes"),
        ("a[?(@.x=~/1)]", "never closes"),
        ("a.[?(@.x==1)]", "needs a name"),
        ("a[?(" + " && ".join(["@.x==1"] * 21) + ")]", "at most 20"),
        ("a" * 2001, "at most 2000"),
    ],
)
def test_beyond_the_subset_is_refused(text: str, fragment: str) -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse(text)
    assert fragment in caught.value.message
