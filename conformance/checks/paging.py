"""Paging checks: the pages of a list agree with each other and with their headers (TMF630 Part 1 §4.5)."""

from __future__ import annotations

import re
from typing import Any

from conformance.checks.base import Check, ResourceCheck
from conformance.checks.common import ids_of, list_items, q
from conformance.client import excerpt
from conformance.context import Context, Skip, expect
from conformance.spec import Resource

PAGE = 2
MAX_PAGES = 50
READ_ONLY_PAGES = 3
_NEXT = re.compile(r'<([^>]*)>\s*;[^,]*rel="?next"?', re.I)


def _number(response: Any, name: str) -> int | None:
    value = response.headers.get(name)
    return int(value) if value is not None and value.strip().isdigit() else None


def _page(ctx: Context, res: Resource, base: str, offset: int, total: int | None) -> tuple[list[str], int, str | None]:
    """GET one page; fails on a header or status that disagrees with the page. Returns ids, total, next link."""
    query = f"{base}&offset={offset}&limit={PAGE}" if base else f"offset={offset}&limit={PAGE}"
    response, items = list_items(ctx, res, query, statuses=(200, 206))
    what = f"GET {res.collection_path}?{query}"
    page_total = _number(response, "X-Total-Count")
    expect(
        page_total is not None, f"{what}: X-Total-Count must be a number, got {response.headers.get('X-Total-Count')!r}"
    )
    assert page_total is not None
    expect(total is None or page_total == total, f"{what}: X-Total-Count is {page_total}, the first page said {total}")
    result = _number(response, "X-Result-Count")
    expect(result == len(items), f"{what}: X-Result-Count is {result}, the page holds {len(items)} item(s)")
    expected = max(0, min(PAGE, page_total - offset))
    expect(len(items) == expected, f"{what}: {len(items)} item(s), expected {expected} of {page_total}")
    status = 200 if len(items) >= page_total else 206
    expect(response.status_code == status, f"{what}: status {response.status_code}, expected {status}")
    link = _NEXT.search(response.headers.get("Link") or "")
    return ids_of(items), page_total, link.group(1) if link else None


def consistent(ctx: Context, res: Resource) -> str:
    """Walking limit=2 pages: one total on every page, counts match, no id twice, the union is the whole set."""
    if ctx.options.read_only:
        base, created = "", None
    else:
        (attr,) = ctx.require_tag_attr(res)
        tag = ctx.tag("pages")
        created = ids_of(ctx.create_many(res, [{attr: tag}] * 5))
        base = f"{attr}={q(tag)}"
    seen: list[str] = []
    offset, total, links = 0, -1, 0
    # On a live collection (--read-only) a few pages tell enough; walking millions of rows would not.
    pages = READ_ONLY_PAGES if created is None else MAX_PAGES
    while (total < 0 or offset < total) and offset // PAGE < pages:
        ids, total, following = _page(ctx, res, base, offset, None if total < 0 else total)
        twice = sorted(set(ids) & set(seen))
        expect(not twice, f"offset={offset}: id(s) {twice} already on an earlier page")
        seen += ids
        offset += PAGE
        if following is not None:
            links += 1
            expect(offset < total, f"offset={offset - PAGE}: a Link rel=next on the last page: {following}")
    if created is None and total < PAGE + 1:
        raise Skip(f"the collection holds {total} resource(s): too few to page through without creating any")
    if offset < total:
        return f"the first {pages} pages of {PAGE} agree on {total} resource(s)"
    expect(len(seen) == total, f"the pages held {len(seen)} resource(s), X-Total-Count said {total}")
    if created is not None:
        expect(sorted(seen) == sorted(created), f"the pages held {sorted(seen)}, created {sorted(created)}")
    beyond = ctx.client.get(res.collection_path, f"{base}&offset={total}&limit={PAGE}".lstrip("&"))
    expect(
        beyond.status_code == 416 or (beyond.status_code in (200, 206) and beyond.content.strip() == b"[]"),
        f"GET {res.collection_path} past the last page: expected an empty list or 416, got {excerpt(beyond)}",
    )
    linked = f", {links} next link(s)" if links else ""
    return f"{-(-total // PAGE)} page(s) of {PAGE} agree on {total} resource(s){linked}"


CHECKS: list[Check] = [ResourceCheck("paging.consistent", consistent, reads_only=True)]
