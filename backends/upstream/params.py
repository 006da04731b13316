"""A parsed :class:`Query` written back as TMF630 query parameters, for a remote TMF server."""

from __future__ import annotations

from decimal import Decimal

from backends.errors import Unsupported
from backends.queries import Condition, Instant, Op, Query, Value


def parameters(query: Query) -> list[tuple[str, str]]:
    """Filters, ``sort``, ``fields``, ``offset`` and ``limit`` as the server parses them back."""
    if query.elements:
        # TMF630 Part 6 makes JSON Path optional, so an upstream may not evaluate it: say so rather
        # than answer with the documents the dotted filters alone select.
        raise Unsupported(
            "A JSON Path filter (filter=) cannot be passed to the upstream server; use attribute filters."
        )
    params = [_filter(condition) for condition in query.conditions]
    if query.sort:
        params.append(("sort", ",".join(("-" if key.descending else "") + ".".join(key.path) for key in query.sort)))
    if query.fields is not None:
        params.append(("fields", ",".join(".".join(path) for path in query.fields) or "none"))
    if query.offset:
        params.append(("offset", str(query.offset)))
    if query.limit is not None:
        params.append(("limit", str(query.limit)))
    return params


def _filter(condition: Condition) -> tuple[str, str]:
    key = ".".join(condition.path)
    if condition.op is not Op.EQ:
        key += "." + condition.op.value
    return key, ",".join(_value(value) for value in condition.values)


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Instant):
        return value.at.date().isoformat() if value.whole_day else value.at.isoformat()
    # Quoted, a value is text whatever it looks like, and may hold commas (TMF630 Part 1).
    return f'"{value}"' if "," in value else value
