"""Hub checks: register and unregister a listener (TMF630 Part 1 §10, checklist 9)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from conformance.checks.base import ApiCheck, Check
from conformance.checks.common import expect_error
from conformance.client import body_of, excerpt
from conformance.context import Context, Skip, expect
from conformance.openapi import flatten
from conformance.payloads import type_value


def hub_path(ctx: Context) -> str:
    """The spec's ``/hub`` path; skips the check when the API has none."""
    if ctx.api.hub_path is None:
        raise Skip("the spec defines no POST /hub")
    return ctx.api.hub_path


def hub_body(ctx: Context, callback: str, query: str | None) -> dict[str, Any]:
    """``{callback, query}``, with ``@type`` only when the spec's hub input requires it (v5 ``Hub_FVO``)."""
    body: dict[str, Any] = {"callback": callback}
    if query is not None:
        body["query"] = query
    if "@type" in (flatten(ctx.api.docs, ctx.api.hub_schema).get("required") or []):
        body["@type"] = type_value(ctx.api.docs, ctx.api.hub_schema)
    return body


def register(ctx: Context, query: str | None) -> tuple[requests.Response, dict[str, Any], str]:
    """POST /hub for a fresh listener path; fails unless 201 with an id. Returns the sent body, the path."""
    path = f"/listener/{ctx.tag('sub')}"
    body = hub_body(ctx, ctx.get_listener().callback(path), query)
    response = ctx.client.post(hub_path(ctx), body)
    created = body_of(response)
    expect(
        response.status_code == 201 and isinstance(created, dict) and isinstance(created.get("id"), str),
        f"POST {hub_path(ctx)} {body}: expected 201 with the subscription and its id, got {excerpt(response)}",
    )
    return response, body, path


@contextmanager
def subscription(ctx: Context, query: str | None) -> Iterator[str]:
    """A registered listener for the duration of the block; yields its listener path."""
    response, _, path = register(ctx, query)
    try:
        yield path
    finally:
        ctx.client.delete(f"{hub_path(ctx)}/{body_of(response)['id']}")


def subscribe(ctx: Context) -> str:
    """POST /hub {callback, query} → 201 with id, callback, query and a Location header."""
    resource = ctx.api.resources[0].class_name if ctx.api.resources else "Entity"
    query = f"eventType={resource}CreateEvent"
    response, sent, _ = register(ctx, query)
    body = body_of(response)
    try:
        problems = [f"{k} is {body.get(k)!r}, sent {v!r}" for k, v in sent.items() if body.get(k) != v]
        if ctx.api.type_required and not body.get("@type"):
            problems.append("a v5 Hub is an Entity: the answer must carry @type")
        location = response.headers.get("Location") or ""
        if not location.rstrip("/").endswith(f"{hub_path(ctx)}/{body['id']}"):
            problems.append(f"Location must point to {hub_path(ctx)}/{body['id']}, got {location!r}")
        expect(not problems, f"POST {hub_path(ctx)}: " + "; ".join(problems))
    finally:
        ctx.client.delete(f"{hub_path(ctx)}/{body['id']}")
    return f"201 with id {body['id']!r}, callback, query and Location {location}"


def unsubscribe(ctx: Context) -> str:
    """DELETE /hub/{id} → 204; a second DELETE → 404 with an Error body."""
    response, _, _ = register(ctx, None)
    path = f"{hub_path(ctx)}/{body_of(response)['id']}"
    response = ctx.client.delete(path)
    expect(response.status_code == 204, f"DELETE {path}: expected 204, got {excerpt(response)}")
    expect_error(ctx, ctx.client.delete(path), 404, f"DELETE {path} a second time")
    return "DELETE → 204, DELETE again → 404"


def relative_callback(ctx: Context) -> str:
    """A callback that is not an absolute URL → 400: the server could never deliver to it."""
    response = ctx.client.post(hub_path(ctx), hub_body(ctx, "/listener", None))
    created = body_of(response)
    if response.status_code == 201 and isinstance(created, dict) and "id" in created:
        ctx.client.delete(f"{hub_path(ctx)}/{created['id']}")
    expect_error(ctx, response, 400, f"POST {hub_path(ctx)} with callback '/listener'")
    return "relative callback → 400"


CHECKS: list[Check] = [
    ApiCheck("hub.subscribe", subscribe),
    ApiCheck("hub.unsubscribe", unsubscribe),
    ApiCheck("hub.relative-callback", relative_callback),
]
