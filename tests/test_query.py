"""Parsing TMF630 query strings into a Query, and the fields= projection."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from backends.base import Condition, ElementCondition, Instant, Op, Query, SortKey, ValueType
from tmfgate.errors import InvalidQuery
from tmfgate.query import MAX_CONDITIONS, MAX_DEPTH, MAX_VALUES, parameters, parse_query, project

SCHEMA: dict[tuple[str, ...], ValueType] = {
    ("state",): ValueType.STRING,
    ("orderDate",): ValueType.DATETIME,
    ("note", "date"): ValueType.DATETIME,
    ("amount",): ValueType.NUMBER,
    ("active",): ValueType.BOOLEAN,
}
UTC = dt.UTC


def parse(raw: str, max_limit: int | None = None) -> Query:
    return parse_query(raw, attribute_kind=lambda path: SCHEMA.get(path), max_limit=max_limit)


def only(raw: str) -> Condition:
    (condition,) = parse(raw).conditions
    return condition


def rejected(raw: str, *fragments: str) -> str:
    with pytest.raises(InvalidQuery) as caught:
        parse(raw)
    message = caught.value.message
    assert message.endswith("."), message  # whole sentences
    for fragment in fragments:
        assert fragment in message, message
    return message


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micros: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC)


# --- reserved parameters -------------------------------------------------------------------------


def test_empty_query() -> None:
    assert parse("") == Query()
    assert parse("?") == Query()
    assert parse("&&") == Query()
    assert parse("").fields is None


def test_fields_are_trimmed_paths() -> None:
    assert parse("fields=id, state ,productOrderItem.state").fields == (
        ("id",),
        ("state",),
        ("productOrderItem", "state"),
    )
    assert parse("?fields=id,,state,").fields == (("id",), ("state",))


def test_fields_none_is_empty_and_repeats_merge() -> None:
    assert parse("fields=none").fields == ()
    assert parse("fields=none&fields=state").fields == (("state",),)
    assert parse("fields=id&fields=state,id").fields == (("id",), ("state",))


@pytest.mark.parametrize("raw", ["fields==id", "fields>id", "fields"])
def test_bad_fields(raw: str) -> None:
    rejected(raw, "fields")


def test_lenient_fields() -> None:
    # Any string is a schema-valid fields value: empty selects nothing, empty names are skipped.
    assert parse("fields=").fields is None
    assert parse("fields=,").fields is None
    assert parse("fields=a..b").fields == (("a", "b"),)
    assert parse("fields=.a").fields == (("a",),)


def test_sort_keys() -> None:
    assert parse("sort=-orderDate,%2Bid,priority,+note.date").sort == (
        SortKey(("orderDate",), descending=True),
        SortKey(("id",)),
        SortKey(("priority",)),
        SortKey(("note", "date")),
    )
    assert parse("sort=a&sort=-b").sort == (SortKey(("a",)), SortKey(("b",), True))


@pytest.mark.parametrize("raw", ["sort=", "sort=-", "sort=,", "sort=a..b", "sort=" + ",".join("abcdefghijk")])
def test_bad_sort(raw: str) -> None:
    rejected(raw, "sort")


def test_paging() -> None:
    query = parse("offset=20&limit=10")
    assert (query.offset, query.limit) == (20, 10)
    assert parse("limit=0").limit == 0
    assert parse("limit=500", max_limit=100).limit == 100
    assert parse("limit=5", max_limit=100).limit == 5
    assert parse("offset=3", max_limit=100).limit == 100
    assert parse("offset=3").limit is None
    assert parse("offset=9223372036854775807").offset == 2**63 - 1


@pytest.mark.parametrize(
    "raw",
    [
        "limit=-1",
        "limit=abc",
        "limit=",
        "offset=1.5",
        "offset=1e3",
        "limit=%D9%A1",
    ],
)
def test_bad_paging_values(raw: str) -> None:
    rejected(raw, "whole number")


@pytest.mark.parametrize("raw", ["limit=99999999999999999999", "limit=9223372036854775808", "offset=" + "9" * 5000])
def test_huge_paging_values_are_capped(raw: str) -> None:
    query = parse(raw)
    assert (query.limit or query.offset) == 2**63 - 1


def test_paging_given_twice() -> None:
    rejected("limit=1&limit=2", "more than once")


def test_a_json_path_filter_is_an_element_condition() -> None:
    query = parse("state=a&filter=note[?(@.author=='John Doe' && @.date>'2024-01-01' && @.n<=2)]&limit=3")
    assert query.limit == 3 and [c.path for c in query.conditions] == [("state",)]
    assert query.elements == (
        ElementCondition(
            ("note",),
            (
                Condition(("author",), Op.EQ, ValueType.STRING, ("John Doe",)),
                Condition(("date",), Op.GT, ValueType.DATETIME, (Instant(dt.datetime(2024, 1, 1, tzinfo=UTC), True),)),
                Condition(("n",), Op.LTE, ValueType.NUMBER, (Decimal(2),)),
            ),
        ),
    )


@pytest.mark.parametrize(
    ("text", "op", "kind", "value"),
    [
        ("@.a!='x'", Op.NE, ValueType.STRING, "x"),
        ("@.a==true", Op.EQ, ValueType.BOOLEAN, True),
        ("@.a>=-1.5", Op.GTE, ValueType.NUMBER, Decimal("-1.5")),
        ("@.a=~/^x/i", Op.REGEX, ValueType.STRING, "(?i)^x"),
        ("@.date<'soon'", Op.LT, ValueType.STRING, "soon"),  # not a date: compared as text
    ],
)
def test_json_path_comparisons(text: str, op: Op, kind: ValueType, value: object) -> None:
    (element,) = parse(f"filter=note[?({text})]").elements
    assert element.conditions == (Condition(element.conditions[0].path, op, kind, (value,)),)


def test_an_unencoded_and_stays_in_its_filter() -> None:
    raw = "filter=note[?(@.a=='1'&&@.b=='2')]&state=x"
    assert parameters(raw) == ["filter=note[?(@.a=='1'&&@.b=='2')]", "state=x"]
    query = parse(raw)
    assert len(query.elements[0].conditions) == 2 and query.conditions[0].values == ("x",)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("filter=note[?(@.a=='1' || @.b=='2')]", "||"),
        ("filter=note", "no [?(...)] filter"),
        ("filter=note[?(@.a=='1')].text", "must end"),
        ("filter=note[?(@.a=~/(a/)]", "regular expression"),
        ("filter=note[?(@.a=='1')", "needs ')]'"),
        ("filter", "filter=value"),
    ],
)
def test_a_json_path_filter_beyond_the_subset_is_a_400(raw: str, fragment: str) -> None:
    rejected(raw, fragment)


@pytest.mark.parametrize("raw", ["depth=2", "expand=relatedParty"])
def test_depth_and_expand_are_not_supported(raw: str) -> None:
    rejected(raw, raw.split("=")[0], "not supported")


# --- filters -------------------------------------------------------------------------------------


def test_equality_and_and() -> None:
    assert parse("state=acknowledged&category=B2B").conditions == (
        Condition(("state",), Op.EQ, ValueType.STRING, ("acknowledged",)),
        Condition(("category",), Op.EQ, ValueType.STRING, ("B2B",)),
    )


@pytest.mark.parametrize(
    "raw",
    ["state=a,b", "state=a&state=b", "state=a;state=b", "state=a%2Cb", "state.eq=a&state=b", "state=a,b,a"],
)
def test_or_forms_are_equivalent(raw: str) -> None:
    assert only(raw) == Condition(("state",), Op.EQ, ValueType.STRING, ("a", "b"))


def test_precedence_comma_then_and() -> None:
    # a=1,2&b=3 is (a=1 OR a=2) AND b=3 (TMF630 forum clarification)
    assert [condition.values for condition in parse("a=x,y&b=z").conditions] == [("x", "y"), ("z",)]


@pytest.mark.parametrize(
    ("raw", "op"),
    [
        ("amount.gt=5", Op.GT),
        ("amount>5", Op.GT),
        ("amount%3E5", Op.GT),
        ("amount.gte=5", Op.GTE),
        ("amount>=5", Op.GTE),
        ("amount%3E%3D5", Op.GTE),
        ("amount.lt=5", Op.LT),
        ("amount<5", Op.LT),
        ("amount%3C5", Op.LT),
        ("amount.lte=5", Op.LTE),
        ("amount<=5", Op.LTE),
        ("amount%3C%3D5", Op.LTE),
        ("amount.eq=5", Op.EQ),
        ("amount==5", Op.EQ),
        ("amount%3D%3D5", Op.EQ),
        ("amount=5", Op.EQ),
        ("amount.ne=5", Op.NE),
    ],
)
def test_operators(raw: str, op: Op) -> None:
    assert only(raw) == Condition(("amount",), op, ValueType.NUMBER, (Decimal(5),))


def test_literal_operator_without_equals_keeps_its_value() -> None:
    assert only("orderDate%3E2013-04-20").values == (Instant(at(2013, 4, 20), whole_day=True),)
    assert only("name>a=b").values == ("a=b",)


def test_dotted_paths_and_at_type() -> None:
    assert only("relatedParty.id=14").path == ("relatedParty", "id")
    assert only("relatedParty.partyOrPartyRole.id=1").path == ("relatedParty", "partyOrPartyRole", "id")
    assert only("@type=Individual").path == ("@type",)
    assert only("%40type=Individual").path == ("@type",)
    assert only("relatedParty.@referredType.regex=^Ind").path == ("relatedParty", "@referredType")


def test_repeated_key_with_other_operator_is_and() -> None:
    conditions = parse("amount.gt=1&amount.lt=9&amount.gt=0").conditions
    assert [(condition.op, condition.values) for condition in conditions] == [
        (Op.GT, (Decimal(1), Decimal(0))),
        (Op.LT, (Decimal(9),)),
    ]


def test_quoted_values() -> None:
    assert only('state="acknowledged"').values == ("acknowledged",)
    assert only('name="a,b"').values == ("a,b",)
    assert only('name="a,b",c').values == ("a,b", "c")
    assert only('name="a;b";name="c"').values == ("a;b", "c")
    assert only("name=%22a%2Cb%22").values == ("a,b",)
    assert only('name=""').values == ("",)
    assert only('name="say "hi""').values == ('say "hi"',)
    assert only('name=5"').values == ('5"',)
    assert only('name="a"b"').values == ('a"b',)


def test_values_are_decoded() -> None:
    assert only("name=John+Smith").values == ("John Smith",)
    assert only("name=O%27Brien%20%26%20Sons").values == ("O'Brien & Sons",)
    assert only("name=%C3%A9").values == ("é",)
    assert only("name=").values == ("",)
    assert only("name=a=b").values == ("a=b",)


def test_trailing_and_empty_semicolons_are_ignored() -> None:
    assert only("state=a;").values == ("a",)
    assert only(";state=a;;state=b").values == ("a", "b")


@pytest.mark.parametrize(
    ("raw", "fragments"),
    [
        ("=1", ("attribute name",)),
        ("%3E1", ("attribute name",)),
        (".gt=1", ("attribute name",)),
        ("a..b=1", ("empty name",)),
        (".a=1", ("empty name",)),
        ("a.=1", ("empty name",)),
        ("state", ("no operator", "state=value")),
        ("state=a;b", ("After ';' comes a whole condition", "state=a,b")),
        ("state=a;priority=1", ("';'", "different attributes")),
        ("amount.gt=1;amount.lt=5", ("';'",)),
        ("state=a;limit=5", ("';'",)),
        ("amount.gt>1", ("two operators",)),
        ("amount.eq==1", ("two operators",)),
        ('name="abc', ("double quote",)),
        ('name="a",b,"c', ("double quote",)),
        (".".join("abcdefghijk") + "=1", (f"deeper than {MAX_DEPTH}",)),
        ("state=%00", ("NUL",)),
        ("st%00ate=a", ("NUL",)),
        ("state=\ud800", ("NUL",)),
    ],
)
def test_malformed_filters(raw: str, fragments: tuple[str, ...]) -> None:
    rejected(raw, *fragments)


def test_size_limits() -> None:
    rejected("&".join(f"a{n}=1" for n in range(MAX_CONDITIONS + 1)), f"at most {MAX_CONDITIONS}")
    rejected("state=" + ",".join(str(n) for n in range(MAX_VALUES + 1)), f"at most {MAX_VALUES}")
    assert len(parse("state=" + ",".join(str(n) for n in range(MAX_VALUES))).conditions[0].values) == MAX_VALUES


# --- typing --------------------------------------------------------------------------------------


def test_schema_kinds_convert_values() -> None:
    assert only("amount=10.50").values == (Decimal("10.50"),)
    assert only('amount="7"').values == (Decimal(7),)
    assert only("active=true,FALSE").values == (True, False)
    assert only("state=1").value_type is ValueType.STRING
    assert only('orderDate="2017-09-21T12:00:00Z"').values == (Instant(at(2017, 9, 21, 12)),)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("orderDate.gt=notadate", "date"),
        ("orderDate=2019-02-29", "date"),
        ("orderDate=2019-13-01", "date"),
        ("orderDate=2019-04-30T24:00:00Z", "date"),
        ("orderDate=0001-01-01T00:00:00%2B01:00", "date"),
        ("orderDate=", "date"),
        ("amount=abc", "number"),
        ("amount=NaN", "number"),
        ("amount=Infinity", "number"),
        ("amount=1_000", "number"),
        ("amount=1e999", "number"),
        ("amount=%D9%A1", "number"),
        ("active=yes", "true or false"),
    ],
)
def test_values_that_do_not_fit_the_schema(raw: str, expected: str) -> None:
    attribute = raw.split("=")[0].split(".")[0]
    rejected(raw, f"'{attribute}'", expected)


@pytest.mark.parametrize(
    ("raw", "instant"),
    [
        ("orderDate=2019-04-30", Instant(at(2019, 4, 30), whole_day=True)),
        ("orderDate=2019-04-30T08:13:59.506Z", Instant(at(2019, 4, 30, 8, 13, 59, 506000))),
        ("orderDate=2019-04-30T08:13:59", Instant(at(2019, 4, 30, 8, 13, 59))),
        ("orderDate=2019-04-30T08:13", Instant(at(2019, 4, 30, 8, 13))),
        ("orderDate=2019-04-30T10:13:59%2B02:00", Instant(at(2019, 4, 30, 8, 13, 59))),
        ("orderDate=2019-04-30T10:13:59+02:00", Instant(at(2019, 4, 30, 8, 13, 59))),
        ("orderDate=2019-04-30T10:13:59+0200", Instant(at(2019, 4, 30, 8, 13, 59))),
        ("orderDate=2019-04-30T10:13:59%2B02", Instant(at(2019, 4, 30, 8, 13, 59))),
        ("orderDate=2019-04-30T06:13:59-02:00", Instant(at(2019, 4, 30, 8, 13, 59))),
        ("orderDate=2019-04-30+08:13:59Z", Instant(at(2019, 4, 30, 8, 13, 59))),
        ("orderDate=2019-04-30T08:13:59.1234567Z", Instant(at(2019, 4, 30, 8, 13, 59, 123456))),
        ("orderDate=2020-02-29", Instant(at(2020, 2, 29), whole_day=True)),
    ],
)
def test_dates(raw: str, instant: Instant) -> None:
    condition = only(raw)
    assert condition.value_type is ValueType.DATETIME
    assert condition.values == (instant,)
    assert isinstance(condition.values[0], Instant)
    assert condition.values[0].at.tzinfo is not None


@pytest.mark.parametrize(
    ("raw", "kind", "values"),
    [
        ("x=abc", ValueType.STRING, ("abc",)),
        ("x=42", ValueType.STRING, ("42",)),  # equality as text also finds a stored 42
        ("x=true", ValueType.STRING, ("true",)),
        ("x.gt=42", ValueType.NUMBER, (Decimal(42),)),
        ("x.lte=-1.5e3", ValueType.NUMBER, (Decimal("-1.5e3"),)),
        ("x.gt=false", ValueType.BOOLEAN, (False,)),
        ("x=2019-04-30", ValueType.DATETIME, (Instant(at(2019, 4, 30), whole_day=True),)),
        ("x.ne=2019-04-30T08:00:00Z", ValueType.DATETIME, (Instant(at(2019, 4, 30, 8)),)),
        ('x.gt="42"', ValueType.STRING, ("42",)),
        ('x="2019-04-30"', ValueType.STRING, ("2019-04-30",)),
        ("x.gt=1,abc", ValueType.STRING, ("1", "abc")),
        ("x=2019-02-29", ValueType.STRING, ("2019-02-29",)),
        ("x.gt=NaN", ValueType.STRING, ("NaN",)),
    ],
)
def test_inferred_kinds(raw: str, kind: ValueType, values: tuple[object, ...]) -> None:
    condition = only(raw)
    assert (condition.value_type, condition.values) == (kind, values)


def test_regex_conditions() -> None:
    assert only("state.regex=^ack").value_type is ValueType.STRING
    assert only("amount.regex=^1").values == ("^1",)
    assert only('name.regex="a{1,3}"').values == ("a{1,3}",)
    assert only("name.regex=(?i)^a,b$").values == ("(?i)^a", "b$")


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("(", "unclosed"),
        ("a)", "unbalanced"),
        ("%5Cb", "escape"),
        ("(a%2B)%2B", "nests repetitions"),
        ("a{300}", "255"),
        ("(%3FP<n>a)", "(?...)"),
        ("[[:alpha:]]", "character class"),
        ("a" * 300, "longer than"),
        ("[a--b]", "not a valid regular expression"),
    ],
)
def test_invalid_regex(pattern: str, fragment: str) -> None:
    rejected(f'name.regex="{pattern}"', "'name'", fragment)


def test_invalid_query_is_a_400() -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse("amount=abc")
    assert caught.value.status == 400
    assert caught.value.body()["code"] == "28"


# --- projection ----------------------------------------------------------------------------------

ORDER = {
    "id": "42",
    "href": "/productOrder/42",
    "@type": "ProductOrder",
    "state": "acknowledged",
    "note": {"text": "hi", "author": "Ann"},
    "productOrderItem": [{"id": "1", "state": "a", "qty": 1}, {"id": "2", "qty": 2}, "odd"],
    "relatedParty": [{"id": "7", "role": "customer"}],
}


def test_projection_keeps_always_and_selected_in_document_order() -> None:
    projected = project(ORDER, (("state",), ("id",)))
    assert projected == {"id": "42", "href": "/productOrder/42", "state": "acknowledged"}
    assert list(projected) == ["id", "href", "state"]


def test_projection_none_and_custom_always() -> None:
    assert project(ORDER, ()) == {"id": "42", "href": "/productOrder/42"}
    assert list(project(ORDER, (("state",),), always=("id", "href", "@type"))) == [
        "id",
        "href",
        "@type",
        "state",
    ]
    assert project(ORDER, (("state",),), always=()) == {"state": "acknowledged"}


def test_projection_into_objects_and_arrays() -> None:
    projected = project(ORDER, (("productOrderItem", "state"), ("note", "author")), always=())
    assert projected == {"note": {"author": "Ann"}, "productOrderItem": [{"state": "a"}, {}]}


def test_projection_whole_attribute_wins_over_nested() -> None:
    expected = {"note": ORDER["note"]}
    assert project(ORDER, (("note", "text"), ("note",)), always=()) == expected
    assert project(ORDER, (("note",), ("note", "text")), always=()) == expected


def test_projection_of_missing_or_scalar_paths() -> None:
    assert project(ORDER, (("missing",), ("state", "x"), ("note", "missing"), ("relatedParty", "x")), always=()) == {}
    assert project({"id": "1"}, (("state",),)) == {"id": "1"}


def test_projection_of_parsed_fields() -> None:
    fields = parse("fields=productOrderItem.id, state").fields
    assert fields is not None
    assert project(ORDER, fields) == {
        "id": "42",
        "href": "/productOrder/42",
        "state": "acknowledged",
        "productOrderItem": [{"id": "1"}, {"id": "2"}],
    }


KNOWN = {("state",), ("orderDate",), ("amount",), ("active",), ("note",), ("note", "text")}


def strict(raw: str) -> Query:
    return parse_query(raw, attribute_kind=lambda path: SCHEMA.get(path), attribute_known=lambda path: path in KNOWN)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("orderDate.ge=2026-01-01", "'ge' is not a filter operator"),
        ("state.neq=failed", "'neq' is not a filter operator"),
        ("state.in=a,b", "use state.eq, .ne"),
        ("state!=failed", "'!=' in 'state!=' is not a TMF630 operator"),
        ("orderDate~=x", "'~=' in 'orderDate~=' is not a TMF630 operator"),
        ("sort=-nope", "Cannot sort by 'nope': the resource has no such attribute"),
        ("sort=note", "Cannot sort by 'note': it is not a single value"),
        ("fields=nope,zzz", "names no attribute of the resource: 'nope', 'zzz'"),
    ],
)
def test_what_means_nothing_for_the_resource_is_refused(raw: str, fragment: str) -> None:
    with pytest.raises(InvalidQuery, match=re.escape(fragment)):
        strict(raw)


def test_what_the_resource_may_hold_is_accepted() -> None:
    # Attributes beyond the schema may be stored (TMF extensibility): filtering on them is no error.
    for raw in ("x.y=z", "state.gte=a", "note.text.regex=a", "sort=-orderDate,state", "fields=state,nope"):
        strict(raw)
