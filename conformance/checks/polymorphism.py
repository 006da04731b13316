"""Polymorphism checks (v5): a subclass named in ``@type`` round-trips as that subclass (TMF630 Part 2)."""

from __future__ import annotations

from typing import Any

from conformance.checks.base import Check, ResourceCheck
from conformance.client import body_of, excerpt
from conformance.context import Context, Skip, expect
from conformance.openapi import class_of, flatten
from conformance.payloads import build_payload
from conformance.spec import Resource

MAX_SUBCLASSES = 3


def subclasses(ctx: Context, res: Resource) -> list[tuple[str, Any]]:
    """The ``@type`` values the create schema offers besides the class itself, each with its schema."""
    flat = flatten(ctx.api.docs, res.create_schema)
    found: dict[str, Any] = {}
    for branch in flat.get("oneOf") or flat.get("anyOf") or []:
        type_prop = flatten(ctx.api.docs, (flatten(ctx.api.docs, branch).get("properties") or {}).get("@type"))
        for name in type_prop.get("enum") or []:
            found.setdefault(str(name), branch)
    # The oneOf branches are what a body must match; a mapping alone may name classes they leave out.
    for name, target in ((flat.get("discriminator") or {}).get("mapping") or {}).items() if not found else ():
        found.setdefault(str(name), {"$ref": target})
    return [(n, s) for n, s in found.items() if n != res.class_name and class_of(n) != res.class_name]


def _own_text(ctx: Context, res: Resource, schema: Any) -> str | None:
    """A free-text attribute the subclass adds to the base class, to see it stored."""
    base = flatten(ctx.api.docs, res.create_schema).get("properties") or {}
    for name, prop in (flatten(ctx.api.docs, schema).get("properties") or {}).items():
        flat = flatten(ctx.api.docs, prop)
        plain = flat.get("type") == "string" and not flat.get("enum") and not flat.get("format")
        if plain and name not in base and not name.startswith("@"):
            return str(name)
    return None


def subtypes(ctx: Context, res: Resource) -> str:
    """POST with @type of each subclass → 201 as that subclass; GET returns it with the subclass's attributes."""
    if not ctx.api.type_required:
        raise Skip("a v4 spec: subclasses by @type are checked on v5 APIs")
    found = subclasses(ctx, res)
    if not found:
        raise Skip(f"the spec names no @type subclass of {res.class_name}")
    checked = []
    for name, schema in found[:MAX_SUBCLASSES]:
        body = {**ctx.payload(res), **build_payload(ctx.api.docs, schema, name), "@type": name}
        own = _own_text(ctx, res, schema)
        if own is not None:
            body[own] = ctx.tag("sub")
        created = ctx.post_valid(res, body)
        expect(
            created.get("@type") == name,
            f"POST {res.collection_path} as {name}: @type came back {created.get('@type')!r}",
        )
        if res.has("get"):
            path = ctx.item_path(res, created["id"])
            response = ctx.client.get(path)
            stored = body_of(response)
            expect(
                isinstance(stored, dict) and stored.get("@type") == name,
                f"GET {path}: expected @type {name!r}, got {excerpt(response)}",
            )
            if own is not None:
                expect(stored.get(own) == body[own], f"GET {path}: the {name} attribute {own} was not kept")
        checked.append(name)
    return f"{', '.join(checked)} stored and returned as such"


CHECKS: list[Check] = [ResourceCheck("polymorphism.subtypes", subtypes)]
