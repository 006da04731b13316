"""Queries that mean nothing are refused: unknown filter operators, filter attributes and sort keys (400)."""

from __future__ import annotations

from conformance.checks.base import Check, ResourceCheck
from conformance.checks.common import expect_error, list_items
from conformance.client import body_of, excerpt
from conformance.context import Context, Skip, expect
from conformance.spec import Resource


def _refused(ctx: Context, res: Resource, query: str, why: str) -> str:
    response = ctx.client.get(res.collection_path, query)
    # A server that ignores the condition answers every resource: the client would act on a wrong list.
    expect_error(ctx, response, 400, f"GET {res.collection_path}?{query} ({why})")
    return f"?{query} → 400 with an Error body"


def unknown_operator(ctx: Context, res: Resource) -> str:
    """attr.op=v with an operator outside .gt/.gte/.lt/.lte/.eq/.regex → 400 (TMF630 Part 1 §4.4)."""
    attr = next(iter(res.date_attrs or res.string_attrs), "id")
    return _refused(ctx, res, f"{attr}.notAnOperator=2031-01-01", "an unknown operator")


def unknown_attribute(ctx: Context, res: Resource) -> str:
    """A filter on an attribute no resource has → 400, or an empty list; never the unfiltered list.

    Resources may carry extension attributes outside the spec (TMF630 Part 2, ``@schemaLocation``), so
    such a filter may be applied and match nothing; ignoring it is the defect (the client acts on a list
    that was not filtered)."""
    if not ctx.options.read_only:
        ctx.create(res)
    _, everything = list_items(ctx, res, "limit=1", statuses=(200, 206))
    if not everything:
        raise Skip(f"the collection {res.collection_path} is empty: an ignored filter would not show")
    query = f"{ctx.tag('noSuchAttribute')}=x"
    response = ctx.client.get(res.collection_path, query)
    if response.status_code == 400:
        expect_error(ctx, response, 400, f"GET {res.collection_path}?{query}")
        return f"?{query} → 400 with an Error body"
    body = body_of(response)
    expect(
        response.status_code in (200, 206) and body == [],
        f"GET {res.collection_path}?{query}: expected 400, or an empty list as no resource has the attribute; "
        f"got {excerpt(response)} (the filter was ignored)",
    )
    return f"?{query} → {response.status_code} [] (the filter applied, matching nothing)"


def unknown_sort(ctx: Context, res: Resource) -> str:
    """sort on an attribute the resource does not have → 400 (TMF630 Part 1 §4.7)."""
    return _refused(ctx, res, f"sort={ctx.tag('noSuchAttribute')}", "sort on an attribute the resource does not have")


CHECKS: list[Check] = [
    ResourceCheck("queries.unknown-filter-operator", unknown_operator, reads_only=True),
    ResourceCheck("queries.unknown-filter-attribute", unknown_attribute, reads_only=True),
    ResourceCheck("queries.unknown-sort", unknown_sort, reads_only=True),
]
