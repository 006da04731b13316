"""PATCH checks: merge patch, JSON Patch, immutable attributes, media types (TMF630 Part 1 §6)."""

from __future__ import annotations

from typing import Any

from conformance.checks.base import Check, ResourceCheck
from conformance.checks.common import expect_error, missing_from
from conformance.client import body_of, excerpt
from conformance.context import Context, Skip, expect
from conformance.openapi import flatten
from conformance.spec import Resource

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def patch_target(ctx: Context, res: Resource) -> str:
    """A free-text attribute the patch schema accepts; skips when the resource has no PATCH."""
    if not res.has("patch"):
        raise Skip(f"the spec defines no PATCH on {res.item_path}")
    patchable = flatten(ctx.api.docs, res.patch_schema).get("properties") or {}
    for name in res.string_attrs:
        if not patchable or name in patchable:
            return name
    raise Skip(f"{res.name} has no free-text attribute that PATCH accepts")


def merge_body(ctx: Context, res: Resource, changes: dict[str, Any]) -> dict[str, Any]:
    """A merge-patch body; v5 ``_MVO`` schemas require an (unchanged) ``@type`` in it."""
    if "@type" in (flatten(ctx.api.docs, res.patch_schema).get("required") or []):
        return {"@type": ctx.payload(res).get("@type", res.class_name), **changes}
    return changes


def _patch(ctx: Context, path: str, body: Any, media: str) -> tuple[Any, Any]:
    response = ctx.client.request("PATCH", path, json_body=body, content_type=media)
    return response, body_of(response)


def _applied(ctx: Context, res: Resource, media: str, ops: Any, sent: dict[str, Any], expected: dict[str, Any]) -> str:
    """PATCH ``ops`` on a resource created from ``sent``; expect 200 and the whole, changed resource."""
    created = ctx.post_valid(res, sent)
    path = ctx.item_path(res, created["id"])
    response, body = _patch(ctx, path, ops, media)
    what = f"PATCH {path} ({media})"
    expect(
        response.status_code == 200 and isinstance(body, dict),
        f"{what}: expected 200, got {excerpt(response)}",
    )
    # PATCH answers the full resource, not just the changed attributes (TMF630 Part 1 §6; v4/v5 OAS 200).
    unchanged = {k: v for k, v in sent.items() if k not in expected and k != "@type"}
    absent = missing_from(body, {"id": created["id"], **unchanged})
    expect(not absent, f"{what}: the response must be the whole resource; missing or changed: {absent}")
    changed = missing_from(body, expected)
    expect(not changed, f"{what}: change to {changed} not applied, got {excerpt(response)}")
    stored = body_of(ctx.client.get(path))
    expect(
        isinstance(stored, dict) and not missing_from(stored, expected),
        f"GET {path} after {what}: change not stored",
    )
    return f"{what} → 200 with the change applied"


def merge_patch(ctx: Context, res: Resource) -> str:
    """application/merge-patch+json → 200 with the whole resource (merge patch is mandatory, TMF630 §6)."""
    attr = patch_target(ctx, res)
    value = ctx.tag("merge")
    return _applied(
        ctx,
        res,
        MERGE,
        merge_body(ctx, res, {attr: value}),
        {**ctx.payload(res), attr: ctx.tag()},
        {attr: value},
    )


def json_merge(ctx: Context, res: Resource) -> str:
    """Plain application/json is read as a merge patch (v4 specs declare only application/json)."""
    attr = patch_target(ctx, res)
    value = ctx.tag("json")
    return _applied(
        ctx,
        res,
        "application/json",
        merge_body(ctx, res, {attr: value}),
        {**ctx.payload(res), attr: ctx.tag()},
        {attr: value},
    )


def _json_patch_target(ctx: Context, res: Resource) -> str:
    attr = patch_target(ctx, res)
    if res.patch_media_types and JSON_PATCH not in res.patch_media_types:
        raise Skip(f"the spec declares no {JSON_PATCH} for PATCH (JSON Patch is optional, TMF630 §6)")
    return attr


def json_patch_replace(ctx: Context, res: Resource) -> str:
    """application/json-patch+json ``replace`` changes the attribute."""
    attr = _json_patch_target(ctx, res)
    value = ctx.tag("replace")
    ops = [{"op": "replace", "path": f"/{attr}", "value": value}]
    return _applied(ctx, res, JSON_PATCH, ops, {**ctx.payload(res), attr: ctx.tag()}, {attr: value})


def json_patch_add(ctx: Context, res: Resource) -> str:
    """application/json-patch+json ``add`` sets an attribute the resource did not have."""
    attr = _json_patch_target(ctx, res)
    value = ctx.tag("add")
    ops = [{"op": "add", "path": f"/{attr}", "value": value}]
    return _applied(ctx, res, JSON_PATCH, ops, ctx.payload(res), {attr: value})


def json_patch_test(ctx: Context, res: Resource) -> str:
    """A passing ``test`` lets the patch apply; a failing one gives 4xx and changes nothing (RFC 6902)."""
    attr = _json_patch_target(ctx, res)
    old, new = ctx.tag("old"), ctx.tag("new")
    ops = [
        {"op": "test", "path": f"/{attr}", "value": old},
        {"op": "replace", "path": f"/{attr}", "value": new},
    ]
    _applied(ctx, res, JSON_PATCH, ops, {**ctx.payload(res), attr: old}, {attr: new})
    created = ctx.create(res, **{attr: old})
    path = ctx.item_path(res, created["id"])
    ops[0]["value"] = ctx.tag("wrong")
    response, _ = _patch(ctx, path, ops, JSON_PATCH)
    expect(
        400 <= response.status_code < 500,
        f"PATCH {path} with a failing test op: expected 4xx (400/409/422), got {excerpt(response)}",
    )
    stored = body_of(ctx.client.get(path))
    expect(
        isinstance(stored, dict) and stored.get(attr) == old,
        f"PATCH {path} with a failing test op changed {attr}",
    )
    return f"passing test → 200, failing test → {response.status_code} and no change"


def immutable(ctx: Context, res: Resource) -> str:
    """A merge patch changing id or href → 400, and the resource keeps its identity (TMF RI rule, IG1353)."""
    patch_target(ctx, res)
    created = ctx.create(res)
    path = ctx.item_path(res, created["id"])
    for name, value in (("id", ctx.tag("id")), ("href", f"{created.get('href')}-changed")):
        response, _ = _patch(ctx, path, merge_body(ctx, res, {name: value}), MERGE)
        expect_error(ctx, response, 400, f"PATCH {path} changing {name}")
        stored = body_of(ctx.client.get(path))
        expect(
            isinstance(stored, dict) and stored.get(name) == created.get(name),
            f"PATCH {path} changing {name} was refused but {name} changed to {stored!r}",
        )
    return "changing id → 400, changing href → 400"


def unsupported_media(ctx: Context, res: Resource) -> str:
    """PATCH with Content-Type text/plain → 415 Unsupported Media Type."""
    attr = patch_target(ctx, res)
    created = ctx.create(res)
    path = ctx.item_path(res, created["id"])
    response = ctx.client.request("PATCH", path, data=f"{attr}=x", content_type="text/plain")
    expect_error(ctx, response, 415, f"PATCH {path} as text/plain")
    return "text/plain → 415"


def partial_update(ctx: Context, res: Resource) -> str:
    """A PATCH lacking what the ``_Update`` (or, failing that, the create) schema requires still succeeds."""
    attr = patch_target(ctx, res)
    # v4 _Update schemas carry generator-made required lists (TMF622 productOrderItem); never enforced.
    required = [r for r in flatten(ctx.api.docs, res.patch_schema).get("required") or [] if r != "@type"]
    if not required:
        required = [r for r in flatten(ctx.api.docs, res.create_schema).get("required") or [] if r != "@type"]
    if not required or attr in required:
        raise Skip("neither the PATCH nor the create schema requires an attribute a patch could leave out")
    value = ctx.tag("partial")
    _applied(
        ctx,
        res,
        MERGE,
        merge_body(ctx, res, {attr: value}),
        {**ctx.payload(res), attr: ctx.tag()},
        {attr: value},
    )
    return f"a patch without {required} → 200"


CHECKS: list[Check] = [
    ResourceCheck("patch.merge-patch", merge_patch),
    ResourceCheck("patch.json-merge", json_merge),
    ResourceCheck("patch.json-patch-replace", json_patch_replace),
    ResourceCheck("patch.json-patch-add", json_patch_add),
    ResourceCheck("patch.json-patch-test", json_patch_test),
    ResourceCheck("patch.immutable-id-href", immutable),
    ResourceCheck("patch.unsupported-media-type", unsupported_media),
    ResourceCheck("patch.partial-update", partial_update),
]
