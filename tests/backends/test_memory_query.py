"""The memory store's list queries: the shared sort table, and filters, sorting and paging on stored bytes."""

from __future__ import annotations

import sys

import orjson
import pytest

from backends.base import Page, Query
from backends.memory.query import run_query, sort_value
from tests.backends.cases import CASES, DOCS, ELEMENT_CASES, SORTS, Reference, parse

REFERENCE = Reference()
STORED = {doc["id"]: orjson.dumps(doc) for doc in sorted(DOCS, key=lambda doc: doc["id"])}


@pytest.mark.parametrize(("raw", "expected"), SORTS, ids=[raw for raw, _ in SORTS])
def test_sort(raw: str, expected: list[str]) -> None:
    assert REFERENCE.ordered(parse(raw)) == expected


def ids(page: Page) -> list[str]:
    return [orjson.loads(item)["id"] for item in page.items]


@pytest.mark.parametrize(("raw", "expected"), CASES[:20], ids=[raw or "<empty>" for raw, _ in CASES[:20]])
def test_a_page_holds_the_stored_bytes_of_the_matches(raw: str, expected: set[str]) -> None:
    page = run_query(STORED, parse(raw))
    assert page.total == len(expected) and set(ids(page)) == expected
    assert all(item is STORED[orjson.loads(item)["id"]] for item in page.items)  # not re-encoded


@pytest.mark.parametrize(("raw", "expected"), ELEMENT_CASES, ids=[raw for raw, _ in ELEMENT_CASES])
def test_json_path_filters_select_by_element(raw: str, expected: set[str]) -> None:
    page = run_query(STORED, parse(raw))
    assert page.total == len(expected) and set(ids(page)) == expected


@pytest.mark.parametrize(("raw", "expected"), SORTS, ids=[raw for raw, _ in SORTS])
def test_sorted_pages(raw: str, expected: list[str]) -> None:
    query = parse(raw)
    for offset, limit in ((0, None), (2, 3), (7, 5), (20, 1)):
        window = Query(query.conditions, query.sort, offset=offset, limit=limit)
        page = run_query(STORED, window)
        stop = None if limit is None else offset + limit
        assert page.total == len(DOCS) and ids(page) == expected[offset:stop]


def test_an_offset_past_any_index_is_an_empty_page() -> None:
    assert run_query(STORED, Query(offset=sys.maxsize + 1, limit=sys.maxsize)) == Page(total=len(DOCS), items=[])
    assert run_query(STORED, Query(offset=1, limit=sys.maxsize + 5)).items == list(STORED.values())[1:]


def test_sort_values_rank_numbers_strings_booleans() -> None:
    assert sort_value({"a": 2}, ("a",)) == (0, 2)
    assert sort_value({"a": "x"}, ("a",)) == (1, "x")
    assert sort_value({"a": False}, ("a",)) == (2, False)
    assert sort_value({"a": None}, ("a",)) is None and sort_value({"a": {"b": 1}}, ("a",)) is None
