"""Run a query on the memory store's JSON bytes: filter with :mod:`backends.matching`, sort, page."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from ..matching import candidates, elements_hold, matches, stored_number
from ..queries import Page, Query, SortKey


def run_query(documents: dict[str, bytes], query: Query) -> Page:
    """Filter, sort and page stored documents, parsing only those that must be evaluated."""
    # Synchronous throughout: no commit can interleave, so the dict needs no copy.
    stored = documents.values()
    # islice takes no index past sys.maxsize, and a client may page that far (TMF630 allows it).
    start = min(query.offset, sys.maxsize)
    stop = None if query.limit is None else min(query.offset + query.limit, sys.maxsize)
    if not query.conditions and not query.elements and not query.sort:
        return Page(total=len(stored), items=list(itertools.islice(stored, start, stop)))
    if not query.sort:
        matching = [raw for raw, doc in _parsed(stored) if _holds(query, doc)]
        return Page(total=len(matching), items=matching[query.offset : stop])
    parsed = [(raw, doc) for raw, doc in _parsed(stored) if _holds(query, doc)]
    raw_of = {id(doc): raw for raw, doc in parsed}
    ordered = sort_documents([doc for _, doc in parsed], query.sort)
    window = ordered[query.offset : stop]
    # sort_documents returns the same dicts; fall back to re-encoding should it ever copy them.
    items = [raw_of.get(id(doc)) or orjson.dumps(doc) for doc in window]
    return Page(total=len(parsed), items=items)


def _holds(query: Query, doc: Any) -> bool:
    return matches(query.conditions, doc) and elements_hold(query.elements, doc)


def _parsed(stored: Iterable[bytes]) -> Iterator[tuple[bytes, Any]]:
    return ((raw, orjson.loads(raw)) for raw in stored)


def sort_value(doc: Mapping[str, Any], path: Sequence[str]) -> tuple[int, Any] | None:
    """The first value at the path, ranked numbers < strings < booleans; None when not a scalar."""
    stored = next(candidates(doc, path), None)
    if isinstance(stored, bool):
        return 2, stored
    number = stored_number(stored)
    if number is not None:
        return 0, number
    return (1, stored) if isinstance(stored, str) else None


def sort_documents(docs: list[dict[str, Any]], sort: Sequence[SortKey]) -> list[dict[str, Any]]:
    """Stable sort by the keys; documents without a value for a key come last in both directions."""
    ordered = list(docs)
    for key in reversed(sort):
        keyed = [(sort_value(doc, key.path), doc) for doc in ordered]
        present = [(value, doc) for value, doc in keyed if value is not None]
        present.sort(key=lambda pair: pair[0], reverse=key.descending)
        ordered = [doc for _, doc in present] + [doc for value, doc in keyed if value is None]
    return ordered


__all__ = ["run_query", "sort_documents", "sort_value"]
