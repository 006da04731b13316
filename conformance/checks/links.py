"""Link checks: every href the server returns for its own resources answers a GET (TMF630 Part 1 §2.3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from conformance.checks.base import Check, ResourceCheck
from conformance.checks.common import list_items
from conformance.client import body_of, excerpt
from conformance.context import Context, Skip, expect
from conformance.spec import Resource

MAX_LINKS = 20


def hrefs(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every ``href`` string in a JSON value, with the JSON path it sits at."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}" if where else key
            if key == "href" and isinstance(value, str):
                yield path, value
            else:
                yield from hrefs(value, path)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from hrefs(value, f"{where}[{index}]")


def _bodies(ctx: Context, res: Resource) -> list[dict[str, Any]]:
    if ctx.options.read_only:
        _, items = list_items(ctx, res, "limit=3", statuses=(200, 206))
        if not items:
            raise Skip(f"the collection {res.collection_path} is empty")
        return items
    created = ctx.create(res)
    body = body_of(ctx.client.get(ctx.item_path(res, created["id"]))) if res.has("get") else None
    return [body if isinstance(body, dict) else created]


def resolvable(ctx: Context, res: Resource) -> str:
    """The hrefs of a resource (its own and its references') that point at this server answer 200."""
    server = urlsplit(ctx.client.api_root)
    found = [(path, href) for body in _bodies(ctx, res) for path, href in hrefs(body)]
    own = [(p, h) for p, h in found if urlsplit(h)[:2] == server[:2]]
    others = len(found) - len(own)
    unique: dict[str, str] = {}
    for path, href in own:
        unique.setdefault(href, path)
    broken, dangling = [], 0
    for href, path in list(unique.items())[:MAX_LINKS]:
        response = ctx.client.get(href)
        if response.status_code == 200 and isinstance(body_of(response), dict):
            continue
        if ctx.options.read_only and "." in path and response.status_code in (404, 410):
            dangling += 1  # live data may refer to a resource deleted since; only fresh data must not
            continue
        broken.append(f"{path} = {href} → {excerpt(response, 80)}")
    expect(not broken, "href(s) that do not resolve: " + "; ".join(broken))
    elsewhere = f"; {others} on other hosts not followed" if others else ""
    gone = f"; {dangling} reference(s) to resources deleted since" if dangling else ""
    return f"{min(len(unique), MAX_LINKS) - dangling} href(s) on this server answered 200{elsewhere}{gone}"


CHECKS: list[Check] = [ResourceCheck("links.hrefs", resolvable, reads_only=True)]
