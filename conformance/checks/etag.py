"""Conditional request checks, where the server sends an ETag: If-None-Match and If-Match (RFC 9110 §13).

TMF630 does not ask for ETags; a server that sends none is reported as not supporting them (SKIP).
"""

from __future__ import annotations

from conformance.checks.base import Check, ResourceCheck
from conformance.checks.common import list_items
from conformance.checks.patch import MERGE, merge_body, patch_target
from conformance.client import body_of, excerpt
from conformance.context import Context, Skip, expect
from conformance.spec import Resource


def _etag(ctx: Context, path: str) -> str:
    response = ctx.client.get(path)
    expect(response.status_code == 200, f"GET {path}: expected 200, got {excerpt(response)}")
    etag = response.headers.get("ETag")
    if not etag:
        raise Skip(f"not supported by the server: GET {path} sent no ETag")
    return etag


def _some_item(ctx: Context, res: Resource) -> str:
    """An existing instance under --read-only, a created one otherwise."""
    if not res.has("get"):
        raise Skip(f"the spec defines no GET on {res.item_path}")
    if not ctx.options.read_only:
        return ctx.item_path(res, ctx.create(res)["id"])
    _, items = list_items(ctx, res, "limit=1", statuses=(200, 206))
    if not items or not isinstance(items[0].get("id"), str):
        raise Skip(f"the collection {res.collection_path} is empty")
    return ctx.item_path(res, items[0]["id"])


def if_none_match(ctx: Context, res: Resource) -> str:
    """GET with If-None-Match of the current ETag → 304 with no body."""
    path = _some_item(ctx, res)
    etag = _etag(ctx, path)
    for _ in range(3):  # a resource the server works on (an order being fulfilled) may change meanwhile
        response = ctx.client.get(path, headers={"If-None-Match": etag})
        current = response.headers.get("ETag") if response.status_code == 200 else etag
        if not current or current == etag:
            break
        etag = current  # a 200 because it did change is right: ask again with its new version
    expect(
        response.status_code == 304 and not response.content,
        f"GET {path} with If-None-Match {etag}: expected 304 with no body, got {excerpt(response)}",
    )
    return f"If-None-Match {etag} → 304"


def if_match(ctx: Context, res: Resource) -> str:
    """PATCH with a stale If-Match → 412 and no change; with the current one → 200 and a new ETag."""
    attr = patch_target(ctx, res)
    created = ctx.create(res)
    path = ctx.item_path(res, created["id"])
    etag = _etag(ctx, path)
    stale = '"cf-stale-etag"'
    response = ctx.client.request(
        "PATCH",
        path,
        json_body=merge_body(ctx, res, {attr: ctx.tag("stale")}),
        content_type=MERGE,
        headers={"If-Match": stale},
    )
    expect(response.status_code == 412, f"PATCH {path} with If-Match {stale}: expected 412, got {excerpt(response)}")
    stored = body_of(ctx.client.get(path))
    expect(
        isinstance(stored, dict) and stored.get(attr) == created.get(attr),
        f"PATCH {path} with a stale If-Match was refused but {attr} changed",
    )
    for _ in range(3):  # a resource the server works on (an order being fulfilled) may change meanwhile
        response = ctx.client.request(
            "PATCH",
            path,
            json_body=merge_body(ctx, res, {attr: ctx.tag("fresh")}),
            content_type=MERGE,
            headers={"If-Match": etag},
        )
        current = _etag(ctx, path) if response.status_code == 412 else etag
        if current == etag:
            break
        etag = current  # a 412 because it did change is right: try again with its new version
    expect(response.status_code == 200, f"PATCH {path} with If-Match {etag}: expected 200, got {excerpt(response)}")
    after = ctx.client.get(path).headers.get("ETag")
    expect(after != etag, f"PATCH {path} changed the resource but its ETag stayed {etag}")
    return f"stale If-Match → 412, current If-Match → 200, ETag {etag} → {after}"


CHECKS: list[Check] = [
    ResourceCheck("etag.if-none-match", if_none_match, reads_only=True),
    ResourceCheck("etag.if-match", if_match),
]
