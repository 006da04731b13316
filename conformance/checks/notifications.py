"""Notification checks: events reach a subscribed listener (TMF630 Part 1 §10, checklist 10).

They form the group ``hub.notifications`` so that ``--skip hub.notifications`` leaves them out, for a
server that does not deliver events yet.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from conformance.checks.base import Check, ResourceCheck
from conformance.checks.hub import hub_path, subscription
from conformance.checks.patch import merge_body, patch_target
from conformance.context import Context, Skip, expect
from conformance.spec import Resource

GRACE = 2.0  # seconds to wait for events that must not arrive


def _resource_id(event: Any, res: Resource) -> Any:
    """The id of the resource an event carries under ``event.{lowerCamelResource}``."""
    payload = event.get("event") if isinstance(event, dict) else None
    inner = payload.get(res.lower_camel()) if isinstance(payload, dict) else None
    return inner.get("id") if isinstance(inner, dict) else None


def _summary(ctx: Context, path: str) -> str:
    received = ctx.get_listener().received(path)
    if not received:
        return "nothing was delivered"
    kinds = [d.body.get("eventType") if isinstance(d.body, dict) else repr(d.body)[:40] for d in received]
    return f"received {len(received)} event(s): {kinds}"


def _await(ctx: Context, path: str, res: Resource, types: tuple[str, ...], id: str) -> dict[str, Any]:
    """Wait for an event of one of ``types`` about ``id``; fails with what did arrive when none does."""
    timeout = ctx.options.event_timeout
    delivery = ctx.get_listener().wait_for(
        path,
        lambda b: isinstance(b, dict) and b.get("eventType") in types and _resource_id(b, res) == id,
        timeout,
    )
    expect(
        delivery is not None,
        f"expected {' or '.join(types)} about {res.name} {id!r} at the callback within {timeout:g}s; "
        f"{_summary(ctx, path)}",
    )
    assert delivery is not None
    event = dict(delivery.body)
    expect(not _envelope_problems(event), f"{event.get('eventType')}: " + "; ".join(_envelope_problems(event)))
    return event


def _envelope_problems(event: dict[str, Any]) -> list[str]:
    """The minimum envelope: eventId, eventTime (ISO 8601) and eventType (v5 user guides, TMF688)."""
    problems = []
    if not isinstance(event.get("eventId"), str) or not event["eventId"]:
        problems.append(f"eventId must be a non-empty string, got {event.get('eventId')!r}")
    try:
        dt.datetime.fromisoformat(str(event.get("eventTime")).replace("Z", "+00:00"))
    except ValueError:
        problems.append(f"eventTime must be an ISO 8601 date-time, got {event.get('eventTime')!r}")
    return problems


def create_event(ctx: Context, res: Resource) -> str:
    """POST of a resource → {Resource}CreateEvent carrying it under event.{resource}."""
    hub_path(ctx)
    with subscription(ctx, None) as path:
        created = ctx.create(res)
        event = _await(ctx, path, res, (f"{res.class_name}CreateEvent",), created["id"])
    return f"{event['eventType']} {event['eventId']!r} arrived"


def change_event(ctx: Context, res: Resource) -> str:
    """PATCH → {Resource}AttributeValueChangeEvent (or StateChangeEvent when the state changed); a spec
    that defines only {Resource}ChangeEvent for changes (TMF633) names that one."""
    hub_path(ctx)
    attr = patch_target(ctx, res)
    types: tuple[str, ...] = (f"{res.class_name}AttributeValueChangeEvent", f"{res.class_name}StateChangeEvent")
    schemas = (ctx.api.docs.root.get("components") or {}).get("schemas") or {}
    if f"{res.class_name}ChangeEvent" in schemas and types[0] not in schemas:
        types = (f"{res.class_name}ChangeEvent",)
    with subscription(ctx, None) as path:
        created = ctx.create(res)
        item = ctx.item_path(res, created["id"])
        body = merge_body(ctx, res, {attr: ctx.tag("changed")})
        ctx.client.request("PATCH", item, json_body=body, content_type="application/merge-patch+json")
        event = _await(ctx, path, res, types, created["id"])
    return f"{event['eventType']} {event['eventId']!r} arrived"


def delete_event(ctx: Context, res: Resource) -> str:
    """DELETE → {Resource}DeleteEvent."""
    hub_path(ctx)
    if not res.has("delete"):
        raise Skip(f"the spec defines no DELETE on {res.item_path}")
    with subscription(ctx, None) as path:
        created = ctx.create(res)
        ctx.client.delete(ctx.item_path(res, created["id"]))
        event = _await(ctx, path, res, (f"{res.class_name}DeleteEvent",), created["id"])
    return f"{event['eventType']} {event['eventId']!r} arrived"


def _envelope_rules(ctx: Context, res: Resource, event: dict[str, Any], id: str) -> list[str]:
    """What the version's envelope asks beyond the minimum: the payload, and in v5 the event's @type."""
    problems = []
    payload = (event.get("event") or {}).get(res.lower_camel()) if isinstance(event.get("event"), dict) else None
    if not isinstance(payload, dict) or payload.get("id") != id or not isinstance(payload.get("href"), str):
        problems.append(f"event.{res.lower_camel()} must be the resource with its id {id!r} and href")
    if ctx.api.type_required and event.get("@type") != event.get("eventType"):
        # v5 events are Extensible: @type names the event class, the same name as eventType.
        problems.append(f"@type must be {event.get('eventType')!r} (a v5 event), got {event.get('@type')!r}")
    if not ctx.api.type_required and "timeOccurred" in event and "timeOcurred" not in event:
        problems.append("a v4 event spells the time attribute timeOcurred (the v4 schema's spelling)")
    return problems


def envelope(ctx: Context, res: Resource) -> str:
    """A CreateEvent has the version's envelope: eventId, eventTime, eventType, event.{resource} (+ v5 @type)."""
    hub_path(ctx)
    with subscription(ctx, None) as path:
        created = ctx.create(res)
        event = _await(ctx, path, res, (f"{res.class_name}CreateEvent",), created["id"])
    problems = _envelope_rules(ctx, res, event, created["id"])
    expect(not problems, f"{event.get('eventType')}: " + "; ".join(problems))
    version = "v5" if ctx.api.type_required else "v4"
    return f"{event['eventType']} has the {version} envelope"


def event_type_filter(ctx: Context, res: Resource) -> str:
    """A hub with query eventType=X receives X and nothing else (TMF630 hub query, MEF R59/R60)."""
    hub_path(ctx)
    wanted = f"{res.class_name}CreateEvent"
    with subscription(ctx, f"eventType={wanted}") as path:
        created = ctx.create(res)
        item = ctx.item_path(res, created["id"])
        if res.has("patch") and res.string_attrs:
            body = merge_body(ctx, res, {res.string_attrs[0]: ctx.tag("changed")})
            ctx.client.request("PATCH", item, json_body=body, content_type="application/merge-patch+json")
        if res.has("delete"):
            ctx.client.delete(item)
        _await(ctx, path, res, (wanted,), created["id"])
        ctx.get_listener().wait_for(path, lambda b: isinstance(b, dict) and b.get("eventType") != wanted, GRACE)
        kinds = [
            d.body.get("eventType") if isinstance(d.body, dict) else None for d in ctx.get_listener().received(path)
        ]
    others = [k for k in kinds if k != wanted]
    expect(not others, f"query eventType={wanted}: other events arrived too: {others}")
    return f"only {wanted} arrived"


CHECKS: list[Check] = [
    ResourceCheck("hub.notifications.create-event", create_event),
    ResourceCheck("hub.notifications.change-event", change_event),
    ResourceCheck("hub.notifications.delete-event", delete_event),
    ResourceCheck("hub.notifications.envelope", envelope),
    ResourceCheck("hub.notifications.event-type-filter", event_type_filter),
]
