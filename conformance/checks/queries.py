"""List checks: arrays, count headers, paging, sorting and attribute selection (TMF630 Part 1 §4.3-4.7)."""

from __future__ import annotations

import json
from typing import Any

from conformance.checks.base import Check, ResourceCheck
from conformance.checks.common import allowed_projection, expect_ids, ids_of, list_items, q
from conformance.client import body_of, excerpt
from conformance.context import Context, Skip, expect
from conformance.spec import Resource


def _count_headers(response: Any, total: int | None, result: int) -> list[str]:
    """Problems with ``X-Total-Count``/``X-Result-Count`` (``total`` None: only check it is a number)."""
    problems = []
    for name, want in (("X-Total-Count", total), ("X-Result-Count", result)):
        value = response.headers.get(name)
        if value is None or not value.strip().isdigit():
            problems.append(f"{name} must be a number, got {value!r}")
        elif want is not None and int(value) != want:
            problems.append(f"{name} is {value}, expected {want}")
    return problems


def list_array(ctx: Context, res: Resource) -> str:
    """GET /x → a JSON array of resources with id and href, and both count headers."""
    if not ctx.options.read_only:
        ctx.create(res)
    response, items = list_items(ctx, res, "", statuses=(200, 206))
    problems = _count_headers(response, None, len(items))
    if not items and not ctx.options.read_only:
        problems.append("the list is empty although a resource was just created")
    if any(not isinstance(i.get("id"), str) or not isinstance(i.get("href"), str) for i in items):
        problems.append("every item must carry a string id and href")
    expect(not problems, f"GET {res.collection_path}: " + "; ".join(problems))
    return f"{len(items)} item(s), X-Total-Count {response.headers.get('X-Total-Count')}"


def trailing_slash(ctx: Context, res: Resource) -> str:
    """GET /x/ is the same collection as GET /x (the TMF CTK calls the collection with a trailing slash)."""
    if not ctx.options.read_only:
        ctx.create(res)
    path = res.collection_path + "/"
    response = ctx.client.get(path)
    expect(
        response.status_code in (200, 206) and isinstance(body_of(response), list),
        f"GET {path}: expected 200 with a JSON array, got {excerpt(response)}",
    )
    return f"GET {path} returned the collection"


def count_headers(ctx: Context, res: Resource) -> str:
    """A filtered list carries X-Total-Count and X-Result-Count equal to the number of matches (§4.5)."""
    (attr,) = ctx.require_tag_attr(res)
    tag = ctx.tag("count")
    created = ctx.create_many(res, [{attr: tag}] * 3)
    query = f"{attr}={q(tag)}"
    response, items = list_items(ctx, res, query)
    problems = _count_headers(response, 3, 3)
    if sorted(ids_of(items)) != sorted(ids_of(created)):
        problems.append(f"expected ids {ids_of(created)}, got {ids_of(items)}")
    expect(not problems, f"GET {res.collection_path}?{query}: " + "; ".join(problems))
    return "X-Total-Count 3 and X-Result-Count 3 on 3 matches"


def _page(ctx: Context, res: Resource, query: str, status: int, total: int, size: int) -> list[str]:
    response, items = list_items(ctx, res, query, statuses=(200, 206))
    problems = [f"status is {response.status_code}, expected {status}"] if response.status_code != status else []
    if len(items) != size:
        problems.append(f"{len(items)} item(s), expected {size}")
    problems += _count_headers(response, total, len(items))
    expect(not problems, f"GET {res.collection_path}?{query}: " + "; ".join(problems))
    return ids_of(items)


def paging(ctx: Context, res: Resource) -> str:
    """limit/offset page through matches: 206 on a partial page, 200 when the page is the whole set (§4.5)."""
    (attr,) = ctx.require_tag_attr(res)
    tag = ctx.tag("page")
    created = ctx.create_many(res, [{attr: tag}] * 3)
    base = f"{attr}={q(tag)}"
    first = _page(ctx, res, f"{base}&limit=2", 206, 3, 2)
    second = _page(ctx, res, f"{base}&offset=2&limit=2", 206, 3, 1)
    _page(ctx, res, f"{base}&offset=0&limit=3", 200, 3, 3)
    _page(ctx, res, f"{base}&limit=10", 200, 3, 3)
    expect(
        sorted(first + second) == sorted(ids_of(created)),
        f"pages limit=2 and offset=2&limit=2 must hold ids {ids_of(created)}, got {first} + {second}",
    )
    return "limit=2 → 206 (2 of 3), offset=2 → 206 (1 of 3), limit=3 and limit=10 → 200"


def _sort_values(ctx: Context, res: Resource, tag: str) -> tuple[str, list[str]]:
    """An attribute to sort on and three distinct values for it, given in sorted order."""
    if res.date_attrs:
        return res.date_attrs[0], ["2031-02-01T10:00:00Z", "2031-03-01T10:00:00Z", "2031-04-01T10:00:00Z"]
    if len(res.string_attrs) > 1:
        return res.string_attrs[1], [f"{tag}-a", f"{tag}-b", f"{tag}-c"]
    raise Skip(f"{res.name} has no second attribute to sort on")


def sort(ctx: Context, res: Resource) -> str:
    """sort=x orders ascending, sort=-x descending (TMF630 Part 1 §4.7)."""
    (attr,) = ctx.require_tag_attr(res)
    tag = ctx.tag("sort")
    key, values = _sort_values(ctx, res, tag)
    b, c, a = ctx.create_many(
        res, [{attr: tag, key: values[1]}, {attr: tag, key: values[2]}, {attr: tag, key: values[0]}]
    )
    base = f"{attr}={q(tag)}"
    expect_ids(ctx, res, f"{base}&sort={key}", [a, b, c], ordered=True)
    expect_ids(ctx, res, f"{base}&sort=-{key}", [c, b, a], ordered=True)
    return f"sort={key} ascending and sort=-{key} descending"


def _projection_problems(ctx: Context, item: dict[str, Any], wanted: str) -> list[str]:
    keys = set(item)
    problems = [f"{name} is missing" for name in ("id", "href", wanted) if name not in keys]
    extra = keys - allowed_projection(ctx) - {wanted}
    if extra:
        problems.append(f"unrequested attribute(s) {sorted(extra)} returned")
    return problems


def fields(ctx: Context, res: Resource) -> str:
    """fields=x returns exactly id, href and x, in a list and by id (TMF630 Part 1 §4.3)."""
    (attr,) = ctx.require_tag_attr(res)
    tag = ctx.tag("fields")
    created = ctx.create(res, **{attr: tag})
    query = f"{attr}={q(tag)}&fields={attr}"
    _, items = list_items(ctx, res, query)
    expect(len(items) == 1, f"GET {res.collection_path}?{query}: expected 1 item, got {len(items)}")
    problems = _projection_problems(ctx, items[0], attr)
    expect(not problems, f"GET {res.collection_path}?{query}: " + "; ".join(problems))
    path = ctx.item_path(res, created["id"])
    response = ctx.client.get(path, f"fields={attr}")
    body = body_of(response)
    expect(
        response.status_code == 200 and isinstance(body, dict),
        f"GET {path}?fields={attr}: got {excerpt(response)}",
    )
    problems = _projection_problems(ctx, body, attr)
    expect(not problems, f"GET {path}?fields={attr}: " + "; ".join(problems))
    return f"fields={attr} gave exactly {sorted(body)}"


def _nested_path(payload: dict[str, Any]) -> tuple[str, str, Any] | None:
    """A ``top.leaf`` pair from the payload whose leaf is a scalar in an object or in objects of an array."""
    for top, value in payload.items():
        element = value[0] if isinstance(value, list) and value else value
        if top.startswith("@") or not isinstance(element, dict):
            continue
        leaves = [k for k, v in element.items() if not k.startswith("@") and not isinstance(v, dict | list)]
        if leaves:
            leaf = next((k for k in leaves if k != "id"), leaves[0])
            return top, leaf, element[leaf]
    return None


def fields_dotted(ctx: Context, res: Resource) -> str:
    """fields=a.b returns id, href and a holding only b (nested selection, TMF630 §4.3, used by the CTK)."""
    payload = ctx.payload(res)
    nested = _nested_path(payload)
    if nested is None:
        raise Skip(f"the create payload of {res.name} has no nested attribute to select")
    top, leaf, value = nested
    created = ctx.post_valid(res, payload)
    path = ctx.item_path(res, created["id"])
    response = ctx.client.get(path, f"fields={top}.{leaf}")
    body = body_of(response)
    what = f"GET {path}?fields={top}.{leaf}"
    expect(
        response.status_code == 200 and isinstance(body, dict),
        f"{what}: expected 200, got {excerpt(response)}",
    )
    problems = _projection_problems(ctx, body, top)
    inner = body.get(top)
    elements = inner if isinstance(inner, list) else [inner]
    if not elements or not all(isinstance(e, dict) and e.get(leaf) == value for e in elements):
        problems.append(f"{top} must hold {leaf}={value!r}, got {inner!r}")
    elif any(set(e) - {leaf, "@type"} for e in elements):
        problems.append(f"{top} must hold only {leaf}, got {inner!r}")
    expect(not problems, f"{what}: " + "; ".join(problems))
    return f"fields={top}.{leaf} gave {json.dumps(body)[:120]}"


CHECKS: list[Check] = [
    ResourceCheck("queries.list", list_array, reads_only=True),
    ResourceCheck("queries.trailing-slash", trailing_slash, reads_only=True),
    ResourceCheck("queries.count-headers", count_headers),
    ResourceCheck("queries.paging", paging),
    ResourceCheck("queries.sort", sort),
    ResourceCheck("queries.fields", fields),
    ResourceCheck("queries.fields-dotted", fields_dotted),
]
