"""Error checks: 404, 405 and 400 answers with a TMF Error body, and no side effect of a rejected create."""

from __future__ import annotations

from typing import Any

from conformance.checks.base import ApiCheck, Check, ResourceCheck
from conformance.checks.common import expect_error, ids_of, list_items, q
from conformance.client import body_of
from conformance.context import Context, Skip, expect
from conformance.openapi import flatten, schema_type
from conformance.spec import Resource


def unknown_id(ctx: Context, res: Resource) -> str:
    """GET, PATCH and DELETE of an unknown id → 404 with an Error body (CTK "E1 Unknown identifier")."""
    path = ctx.item_path(res, ctx.tag("missing"))
    tried = []
    if res.has("get"):
        expect_error(ctx, ctx.client.get(path), 404, f"GET {path}")
        tried.append("GET")
    if res.has("patch") and not ctx.options.read_only:
        empty = {"@type": res.class_name} if (ctx.api.version or 4) >= 5 else {}  # v5: every body names its @type
        response = ctx.client.request("PATCH", path, json_body=empty, content_type="application/merge-patch+json")
        expect_error(ctx, response, 404, f"PATCH {path}")
        tried.append("PATCH")
    if res.has("delete") and not ctx.options.read_only:
        expect_error(ctx, ctx.client.delete(path), 404, f"DELETE {path}")
        tried.append("DELETE")
    if not tried:
        raise Skip(f"the spec defines no operation on {res.item_path}")
    return f"{', '.join(tried)} of an unknown id → 404 with an Error body"


def unknown_path(ctx: Context) -> str:
    """GET of a path the API does not have → 404 with an Error body."""
    path = f"/{ctx.tag('noSuchResource')}"
    expect_error(ctx, ctx.client.get(path), 404, f"GET {path}")
    return f"GET {path} → 404 with an Error body"


def method_not_allowed(ctx: Context, res: Resource) -> str:
    """A method the spec does not define on a path → 405 with an Error body (PUT; PATCH on a task)."""
    created = ctx.create(res)
    targets = [(res.collection_path, False), (ctx.item_path(res, created["id"]), True)]
    tried = []
    for path, on_item in targets:
        for method in ("PUT", "PATCH", "DELETE"):
            if res.has(method, on_item=on_item) or (on_item and res.item_path is None):
                continue
            response = ctx.client.request(method, path, json_body=None if method == "DELETE" else {})
            expect_error(ctx, response, 405, f"{method} {path} (not in the spec)")
            tried.append(f"{method} {'/{id}' if on_item else res.collection_path}")
    return f"405 with an Error body for {', '.join(tried)}"


Mark = tuple[str, str] | None  # the attribute and value a refused body carries, to look for afterwards


def _rejected_create(ctx: Context, res: Resource, what: str, mark: Mark, **request: Any) -> dict[str, Any]:
    """POST a bad body; expect 400 with an Error body, and no resource stored with the body's ``mark``.

    Looking for the tag, not at the collection's count, keeps the check right while other checks create
    resources in parallel (``--workers``)."""
    response = ctx.client.request("POST", res.collection_path, **request)
    created = body_of(response)
    if response.status_code < 300 and isinstance(created, dict) and isinstance(created.get("id"), str):
        ctx.remember(ctx.item_path(res, created["id"]))
    error = expect_error(ctx, response, 400, f"POST {res.collection_path} with {what}")
    if mark is not None:
        attr, tag = mark
        _, stored = list_items(ctx, res, f"{attr}={q(tag)}", statuses=(200, 206))
        expect(
            not stored,
            f"POST {res.collection_path} with {what} was refused but stored as {ids_of(stored)}",
        )
    return error


def _tagged(ctx: Context, res: Resource, body: dict[str, Any], avoid: str = "") -> tuple[dict[str, Any], Mark]:
    """``body`` with a fresh tag in a free-text attribute other than ``avoid``, when the resource has one."""
    attr = next((a for a in res.string_attrs if a != avoid), None)
    if attr is None:
        return body, None
    tag = ctx.tag("bad")
    return {**body, attr: tag}, (attr, tag)


def malformed_json(ctx: Context, res: Resource) -> str:
    """A body that is not JSON → 400 with an Error body, nothing created."""
    _, mark = _tagged(ctx, res, {})
    head = f'"{mark[0]}": "{mark[1]}", ' if mark else ""
    _rejected_create(ctx, res, "malformed JSON", mark, data="{" + head + '"broken": ', content_type="application/json")
    return "malformed JSON → 400, nothing stored"


def _required(ctx: Context, res: Resource) -> list[str]:
    # @type is left out: servers may default it, as the TMF RI does.
    return [r for r in flatten(ctx.api.docs, res.create_schema).get("required") or [] if r != "@type"]


def missing_required(ctx: Context, res: Resource) -> str:
    """A body lacking a required attribute → 400 naming it (CTK "E2 Missing mandatory parameter")."""
    required = _required(ctx, res)
    if not required:
        raise Skip("the create schema requires no attribute")
    for name in required:
        body, mark = _tagged(ctx, res, {k: v for k, v in ctx.payload(res).items() if k != name}, avoid=name)
        error = _rejected_create(ctx, res, f"no {name}", mark, json_body=body)
        text = f"{error.get('message', '')} {error.get('reason', '')}"
        expect(
            name in text,
            f"POST {res.collection_path} with no {name}: the Error message must name {name!r}, got {error}",
        )
    return f"missing {', '.join(required)} → 400 naming the attribute, nothing stored"


def _wrong_value(ctx: Context, schema: Any) -> Any:
    kind = schema_type(ctx.api.docs, schema)
    return 12345 if kind in ("string", None) else "not-a-" + str(kind)


def wrong_type(ctx: Context, res: Resource) -> str:
    """A body with an attribute of the wrong JSON type → 400, nothing created."""
    properties = flatten(ctx.api.docs, res.create_schema).get("properties") or {}
    candidates = _required(ctx, res) + [a for a in res.string_attrs if a not in _required(ctx, res)]
    name = next((c for c in candidates if c in properties), None)
    if name is None:
        raise Skip("the create schema has no typed attribute to break")
    value = _wrong_value(ctx, properties[name])
    body, mark = _tagged(ctx, res, ctx.payload(res), avoid=name)
    body[name] = value
    _rejected_create(ctx, res, f"{name}={value!r}", mark, json_body=body)
    return f"{name}={value!r} → 400, nothing stored"


CHECKS: list[Check] = [
    ResourceCheck("errors.unknown-id", unknown_id, reads_only=True),
    ApiCheck("errors.unknown-path", unknown_path, reads_only=True),
    ResourceCheck("errors.method-not-allowed", method_not_allowed),
    ResourceCheck("errors.malformed-json", malformed_json),
    ResourceCheck("errors.missing-required", missing_required),
    ResourceCheck("errors.wrong-type", wrong_type),
]
