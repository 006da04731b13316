"""A parsed query written back as TMF630 parameters parses to the same query at the upstream."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import pytest

from backends.errors import Unsupported
from backends.queries import Condition, Op, Query, ValueType
from backends.upstream.params import parameters
from tmfgate.query import parse_query
from tmfgate.runtime import load_apis

RESOURCE = next(api for api in load_apis() if api.name == "tmf639_resource_inventory").resources["resource"]


def parsed(raw: str) -> Query:
    return parse_query(raw, attribute_kind=RESOURCE.attribute_kind, attribute_known=RESOURCE.attribute_known)


@pytest.mark.parametrize(
    "raw",
    [
        "name=olt-1",
        "category=olt,ont&resourceStatus.ne=reserved",
        'name="a,b"',
        "name.regex=^olt-[0-9]+$",
        "startOperatingDate.gte=2025-01-10T08:00:00Z&startOperatingDate.lt=2025-02-01",
        "startOperatingDate=2025-01-10",
        "relatedParty.id=p1&sort=-name,category&offset=20&limit=10",
        "fields=name,category",
        "fields=none",
    ],
)
def test_a_query_written_back_parses_to_the_same_query(raw: str) -> None:
    query = parsed(raw)
    again = parsed(urlencode(parameters(query)))
    assert again == query and again.fields == query.fields


def test_values_are_written_as_the_server_reads_them() -> None:
    query = Query(
        conditions=(
            Condition(("isBundle",), Op.EQ, ValueType.BOOLEAN, (True,)),
            Condition(("price",), Op.GT, ValueType.NUMBER, (Decimal("10.50"),)),
            Condition(("name",), Op.EQ, ValueType.STRING, ("a,b", "c")),
        )
    )
    assert parameters(query) == [("isBundle", "true"), ("price.gt", "10.50"), ("name", '"a,b",c')]


def test_an_empty_query_sends_no_parameter() -> None:
    assert parameters(Query()) == []


def test_a_json_path_filter_is_not_passed_on() -> None:
    # An upstream need not evaluate JSON Path (TMF630 Part 6 makes it optional): refused, not dropped.
    with pytest.raises(Unsupported, match="JSON Path"):
        parameters(parsed("state=a&filter=note[?(@.author=='x')]"))
