"""Helpers shared by the check families: Error bodies, list queries, representations."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import requests

from conformance.client import body_of, excerpt
from conformance.context import Context, Fail, expect
from conformance.openapi import flatten
from conformance.spec import Resource

# Attributes the server sets on create when the resource has them: the initial state and the creation
# date (TMF630 checklist 1; TMF622 v4 "Skipped properties: ... orderDate, state").
SERVER_SET = ("state", "creationDate", "orderDate")


def q(value: str) -> str:
    """A query-string value, percent-encoded."""
    return quote(value, safe="")


def error_problems(ctx: Context, response: requests.Response, status: int) -> list[str]:
    """What is wrong with ``response`` as a TMF ``Error`` answer with HTTP ``status``."""
    problems: list[str] = []
    if response.status_code != status:
        problems.append(f"expected status {status}")
    body = body_of(response)
    if not isinstance(body, dict):
        return [*problems, "the body is not a JSON Error object"]
    for name in ("code", "reason"):
        if not isinstance(body.get(name), str) or not body[name]:
            problems.append(f"Error.{name} must be a non-empty string")
    if "message" in body and not isinstance(body["message"], str):
        problems.append("Error.message must be a string")
    # The Error schema types status as a string, the HTTP code as text.
    if "status" in body and body["status"] != str(response.status_code):
        problems.append(f"Error.status must be the string {str(response.status_code)!r}, got {body['status']!r}")
    if ctx.api.type_required and body.get("@type") != "Error":
        problems.append("Error.@type must be 'Error' (the spec requires @type)")
    return problems


def expect_error(ctx: Context, response: requests.Response, status: int, what: str) -> dict[str, Any]:
    """Fail unless ``response`` is a TMF Error with ``status``; returns the Error body."""
    problems = error_problems(ctx, response, status)
    expect(
        not problems,
        f"{what}: expected {status} with a TMF Error body ({'; '.join(problems)}), got {excerpt(response)}",
    )
    return dict(body_of(response))


def list_items(
    ctx: Context, res: Resource, query: str, statuses: tuple[int, ...] = (200,)
) -> tuple[requests.Response, list[dict[str, Any]]]:
    """GET the collection with ``query``; fails unless a status in ``statuses`` and an array come back."""
    response = ctx.client.get(res.collection_path, query)
    body = body_of(response)
    expect(
        response.status_code in statuses and isinstance(body, list),
        f"GET {res.collection_path}?{query}: expected {' or '.join(map(str, statuses))} with a JSON array, "
        f"got {excerpt(response)}",
    )
    expect(
        all(isinstance(item, dict) for item in body),
        f"GET {res.collection_path}?{query}: not every item is an object",
    )
    return response, list(body)


def ids_of(items: list[dict[str, Any]]) -> list[str]:
    return [str(item.get("id")) for item in items]


def expect_ids(ctx: Context, res: Resource, query: str, expected: list[dict[str, Any]], ordered: bool = False) -> str:
    """Fail unless the list query returns exactly the ``expected`` resources (in order when ``ordered``)."""
    _, items = list_items(ctx, res, query)
    got, want = ids_of(items), ids_of(expected)
    same = got == want if ordered else sorted(got) == sorted(want)
    expect(same, f"GET {res.collection_path}?{query}: expected ids {want}, got {got}")
    return f"?{query} returned the {len(want)} expected resource(s)"


def total_count(ctx: Context, res: Resource) -> int:
    """How many resources the collection holds: ``X-Total-Count``, or the length of the full list."""
    response = ctx.client.get(res.collection_path, "limit=1")
    header = response.headers.get("X-Total-Count")
    if header is not None and header.strip().isdigit():
        return int(header)
    _, items = list_items(ctx, res, "", statuses=(200, 206))
    return len(items)


def contains(actual: Any, expected: Any) -> bool:
    """Whether ``actual`` holds all of ``expected``: objects may have more keys, arrays match by position."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(contains(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def missing_from(actual: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """The top-level attributes of ``expected`` that ``actual`` lacks or holds with another value."""
    return [k for k, v in expected.items() if k not in actual or not contains(actual[k], v)]


def representation_problems(ctx: Context, res: Resource, body: dict[str, Any], sent: dict[str, Any]) -> list[str]:
    """What is wrong with ``body`` as the representation of a resource created from ``sent``."""
    problems: list[str] = []
    id = body.get("id")
    href = body.get("href")
    if not isinstance(id, str) or not id:
        problems.append(f"id must be a non-empty string, got {id!r}")
    # Every TMF example href is absolute and ends with the id (TMF630 Part 1 §2.3).
    parts = urlsplit(href) if isinstance(href, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(f"href must be an absolute URL, got {href!r}")
    elif isinstance(id, str) and not str(href).rstrip("/").endswith(f"/{id}"):
        problems.append(f"href {href!r} must end with /{id}")
    if not isinstance(body.get("@type"), str) or not body["@type"]:
        problems.append("@type is missing")
    elif "@type" in sent and body["@type"] != sent["@type"]:
        problems.append(f"@type is {body['@type']!r}, the request sent {sent['@type']!r}")
    absent = [name for name in server_set(ctx, res) if body.get(name) in (None, "")]
    if absent:
        problems.append(f"server-set attribute(s) {absent} missing")
    changed = missing_from(body, {k: v for k, v in sent.items() if k != "@type"})
    if changed:
        problems.append(f"attribute(s) {changed} not returned as sent")
    return problems


def server_set(ctx: Context, res: Resource) -> list[str]:
    """The attributes of :data:`SERVER_SET` that the resource has and a client cannot send."""
    resource_props = flatten(ctx.api.docs, res.resource_schema).get("properties") or {}
    create_props = flatten(ctx.api.docs, res.create_schema).get("properties") or {}
    return [name for name in SERVER_SET if name in resource_props and name not in create_props]


def allowed_projection(ctx: Context) -> set[str]:
    """Attributes always present in a ``fields=`` projection: id and href, plus @type in v5 (TMF630 §3.4)."""
    return {"id", "href", "@type"} if ctx.api.type_required else {"id", "href"}


def fail(message: str) -> Fail:
    """A ``Fail`` to raise, for branches where ``expect`` reads worse."""
    return Fail(message)
