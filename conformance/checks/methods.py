"""Method checks: a 405 answer names in ``Allow`` exactly the methods the spec gives the path (RFC 9110)."""

from __future__ import annotations

from conformance.checks.base import Check, ResourceCheck
from conformance.client import excerpt
from conformance.context import Context, Skip, expect
from conformance.spec import Resource

# HEAD and OPTIONS come with GET in most HTTP stacks; a server may list them without the spec saying so.
IMPLIED = frozenset({"HEAD", "OPTIONS"})
ALL = frozenset({"put", "patch", "delete", "post"})


def _allow_problem(ctx: Context, path: str, methods: frozenset[str]) -> str | None:
    """Send a method the spec leaves out on ``path``; what is wrong with the answer's Allow, or None."""
    wanted = {m.upper() for m in methods}
    method = next((m for m in ("PUT", "PATCH", "DELETE", "POST") if m not in wanted), None)
    if method is None:
        return None
    response = ctx.client.request(method, path, json_body=None if method == "DELETE" else {})
    if response.status_code != 405:
        return f"{method} {path}: expected 405, got {excerpt(response)}"
    allow = response.headers.get("Allow")
    if allow is None:
        return f"{method} {path}: the 405 answer has no Allow header (the spec gives {sorted(wanted)})"
    got = {m.strip().upper() for m in allow.split(",") if m.strip()} - IMPLIED
    if got != wanted:
        return f"{method} {path}: Allow is {allow!r}, the spec gives the path {', '.join(sorted(wanted))}"
    return None


def allow_header(ctx: Context, res: Resource) -> str:
    """405 answers on the collection and item paths carry an Allow listing the spec's methods there."""
    if res.collection_methods >= ALL and (res.item_path is None or res.item_methods >= ALL):
        raise Skip("the spec allows every method on these paths: no 405 to ask for")
    paths = [(res.collection_path, res.collection_methods)]
    if res.item_path is not None and res.item_methods:
        paths.append((ctx.item_path(res, ctx.create(res)["id"]), res.item_methods))
    problems = [p for path, methods in paths if (p := _allow_problem(ctx, path, methods))]
    expect(not problems, "; ".join(problems))
    return f"Allow matches the spec on {', '.join(p for p, _ in paths)}"


CHECKS: list[Check] = [ResourceCheck("methods.allow-header", allow_header)]
