"""Lifecycle checks: create, retrieve and delete one resource (TMF630 Part 1 §2-3, checklist 1)."""

from __future__ import annotations

from conformance.checks.base import Check, ResourceCheck
from conformance.checks.common import expect_error, representation_problems
from conformance.client import body_of, excerpt
from conformance.context import Context, Skip, expect
from conformance.openapi import flatten
from conformance.spec import Resource


def create(ctx: Context, res: Resource) -> str:
    """POST → 201: id, absolute href ending in the id, Location = href, @type, server-set attributes."""
    payload = ctx.payload(res)
    response = ctx.client.post(res.collection_path, payload)
    body = body_of(response)
    expect(
        response.status_code == 201 and isinstance(body, dict),
        f"POST {res.collection_path}: expected 201 Created with the resource, got {excerpt(response)}",
    )
    if isinstance(body.get("id"), str):
        ctx.remember(ctx.item_path(res, body["id"]))
    problems = representation_problems(ctx, res, body, payload)
    # "Server MUST use Location header for POST-created resources" (TMF630 Part 1 §1.8).
    location = response.headers.get("Location")
    if location != body.get("href"):
        problems.append(f"Location header {location!r} must equal href {body.get('href')!r}")
    expect(not problems, f"POST {res.collection_path}: " + "; ".join(problems))
    return f"201 with id {body['id']!r}, href, Location and @type {body['@type']!r}"


def retrieve(ctx: Context, res: Resource) -> str:
    """GET /x/{id} → 200 with the resource as created."""
    if not res.has("get"):
        raise Skip(f"the spec defines no GET on {res.item_path}")
    payload = ctx.payload(res)
    created = ctx.post_valid(res, payload)
    path = ctx.item_path(res, created["id"])
    response = ctx.client.get(path)
    body = body_of(response)
    expect(
        response.status_code == 200 and isinstance(body, dict),
        f"GET {path}: expected 200, got {excerpt(response)}",
    )
    problems = representation_problems(ctx, res, body, payload)
    for name in ("id", "href", "@type"):
        if body.get(name) != created.get(name):
            problems.append(f"{name} is {body.get(name)!r}, POST returned {created.get(name)!r}")
    expect(not problems, f"GET {path}: " + "; ".join(problems))
    return f"GET {path} returned the created resource"


def href_resolves(ctx: Context, res: Resource) -> str:
    """GET on the returned href → 200 with the same resource (hrefs are links, TMF630 Part 1 §2.3)."""
    created = ctx.create(res)
    href = str(created.get("href"))
    expect(href.startswith(("http://", "https://")), f"href {href!r} is not an absolute URL")
    response = ctx.client.get(href)
    body = body_of(response)
    expect(
        response.status_code == 200 and isinstance(body, dict) and body.get("id") == created["id"],
        f"GET {href}: expected 200 with id {created['id']!r}, got {excerpt(response)}",
    )
    return f"GET {href} returned the resource"


def delete(ctx: Context, res: Resource) -> str:
    """DELETE /x/{id} → 204 with no body, then GET → 404."""
    if not res.has("delete"):
        raise Skip(f"the spec defines no DELETE on {res.item_path}")
    created = ctx.create(res)
    path = ctx.item_path(res, created["id"])
    response = ctx.client.delete(path)
    expect(
        response.status_code == 204 and not response.content,
        f"DELETE {path}: expected 204 with no body, got {excerpt(response)}",
    )
    if res.has("get"):
        expect_error(ctx, ctx.client.get(path), 404, f"GET {path} after DELETE")
    return f"DELETE {path} gave 204, then GET gave 404"


def default_type(ctx: Context, res: Resource) -> str:
    """POST without @type → 201 and the server fills @type in (the TMF RI and CTK expect it set)."""
    required = flatten(ctx.api.docs, res.create_schema).get("required") or []
    if "@type" in required:
        raise Skip("the spec requires @type on create")
    payload = {k: v for k, v in ctx.payload(res).items() if k != "@type"}
    response = ctx.client.post(res.collection_path, payload)
    body = body_of(response)
    expect(
        response.status_code == 201 and isinstance(body, dict),
        f"POST {res.collection_path} without @type: expected 201, got {excerpt(response)}",
    )
    if isinstance(body.get("id"), str):
        ctx.remember(ctx.item_path(res, body["id"]))
    expect(
        isinstance(body.get("@type"), str) and body["@type"],
        f"POST {res.collection_path} without @type: the response must carry @type, got {excerpt(response)}",
    )
    return f"@type defaulted to {body['@type']!r}"


CHECKS: list[Check] = [
    ResourceCheck("lifecycle.create", create),
    ResourceCheck("lifecycle.retrieve", retrieve),
    ResourceCheck("lifecycle.href-resolves", href_resolves),
    ResourceCheck("lifecycle.delete", delete),
    ResourceCheck("lifecycle.default-type", default_type),
]
