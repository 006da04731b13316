"""The rule each check enforces: where it is written (TMF630 part and section, or the RFC) and a link to it.

The TMF630 parts are published by TM Forum as documents without anchors, so their links go to the
guidelines' page; HTTP and patch rules link to the RFC section itself.
"""

from __future__ import annotations

from dataclasses import dataclass

TMF630 = "https://www.tmforum.org/resources/specification/tmf630-rest-api-design-guidelines-4-2-0/"
RFC9110 = "https://www.rfc-editor.org/rfc/rfc9110.html"


@dataclass(frozen=True)
class Rule:
    """A rule: its reference, what it asks in one sentence, and where to read it."""

    ref: str
    text: str
    url: str


def _tmf(section: str, text: str) -> Rule:
    return Rule(f"TMF630 {section}", text, TMF630)


def _rfc(ref: str, text: str, url: str) -> Rule:
    return Rule(ref, text, url)


_CREATE = _tmf("Part 1 §2.3, §1.8", "POST answers 201 with id, an absolute href and a Location header equal to it.")
_LIST = _tmf("Part 1 §4.5", "A list is a JSON array with X-Total-Count and X-Result-Count headers.")
_FILTER = _tmf("Part 1 §4.4", "Attribute filters select exactly the matching resources, ANDed across attributes.")
_DATES = _tmf("Part 1 §4.4", "Date filters compare chronologically, with .gt/.gte/.lt/.lte or the literal operators.")
_PAGING = _tmf("Part 1 §4.5", "offset and limit page through the matches; a partial page answers 206.")
_MERGE = _rfc(
    "RFC 7396; TMF630 Part 1 §6",
    "PATCH with a merge patch answers 200 with the whole resource.",
    "https://www.rfc-editor.org/rfc/rfc7396",
)
_JSON_PATCH = _rfc(
    "RFC 6902; TMF630 Part 1 §6",
    "JSON Patch operations apply in order; a failed test changes nothing.",
    "https://www.rfc-editor.org/rfc/rfc6902",
)
_ERROR = _tmf("Part 1 §3.3", "A refused request answers its 4xx status with a TMF Error body (code, reason).")
_HUB = _tmf("Part 1 §10", "POST /hub registers a listener (201, Location); DELETE /hub/{id} removes it (204).")
_EVENTS = _tmf(
    "Part 1 §10", "Each change is notified to subscribed listeners with an eventId, eventTime and eventType."
)

RULES: dict[str, Rule] = {
    "lifecycle.create": _CREATE,
    "lifecycle.retrieve": _tmf("Part 1 §2.2", "GET /{resource}/{id} answers 200 with the resource as created."),
    "lifecycle.href-resolves": _tmf("Part 1 §2.3", "A resource's href is a link: GET on it answers the resource."),
    "lifecycle.delete": _rfc(
        "RFC 9110 §9.3.5; TMF630 Part 1 §2.2",
        "DELETE answers 204 with no body; the resource is gone.",
        f"{RFC9110}#section-9.3.5",
    ),
    "lifecycle.default-type": _tmf(
        "Part 2 §1", "Every resource carries @type, set by the server when the client left it out."
    ),
    "queries.list": _LIST,
    "queries.trailing-slash": _tmf("Part 1 §4.2", "The collection answers with and without a trailing slash."),
    "queries.count-headers": _LIST,
    "queries.paging": _PAGING,
    "queries.sort": _tmf("Part 1 §4.7", "sort=x orders ascending, sort=-x descending."),
    "queries.unknown-sort": _tmf(
        "Part 1 §4.7", "Sorting on an attribute the resource does not have is refused with 400."
    ),
    "queries.fields": _tmf("Part 1 §4.3", "fields=x returns x plus id and href, and nothing else."),
    "queries.fields-dotted": _tmf("Part 1 §4.3", "fields=a.b selects b inside a."),
    "queries.filter-equality": _FILTER,
    "queries.filter-comma-or": _FILTER,
    "queries.filter-repeated-or": _FILTER,
    "queries.filter-and": _FILTER,
    "queries.filter-quoted": _FILTER,
    "queries.filter-date-gt": _DATES,
    "queries.filter-date-gte": _DATES,
    "queries.filter-date-lt": _DATES,
    "queries.filter-date-lte": _DATES,
    "queries.filter-date-literal": _DATES,
    "queries.filter-date-only": _DATES,
    "queries.unknown-filter-operator": _tmf(
        "Part 1 §4.4", "A filter operator outside the guidelines' list is refused with 400."
    ),
    "queries.unknown-filter-attribute": _tmf(
        "Part 1 §4.4",
        "A filter on an attribute no resource has is refused (400) or matches nothing; it is never ignored.",
    ),
    "paging.consistent": _PAGING,
    "patch.merge-patch": _MERGE,
    "patch.json-merge": _MERGE,
    "patch.json-patch-replace": _JSON_PATCH,
    "patch.json-patch-add": _JSON_PATCH,
    "patch.json-patch-test": _JSON_PATCH,
    "patch.immutable-id-href": _tmf("Part 1 §6", "id and href cannot be patched: the request is refused with 400."),
    "patch.unsupported-media-type": _rfc(
        "RFC 9110 §15.5.16", "A PATCH body of an unsupported media type answers 415.", f"{RFC9110}#section-15.5.16"
    ),
    "patch.partial-update": _tmf("Part 1 §6", "A PATCH carries only what changes; nothing else is required."),
    "errors.unknown-id": _ERROR,
    "errors.unknown-path": _ERROR,
    "errors.method-not-allowed": _ERROR,
    "errors.malformed-json": _ERROR,
    "errors.missing-required": _ERROR,
    "errors.wrong-type": _ERROR,
    "methods.allow-header": _rfc(
        "RFC 9110 §15.5.6", "A 405 answer lists in Allow the methods the path supports.", f"{RFC9110}#section-15.5.6"
    ),
    "root.api-root": _tmf("Part 1 §2.1", "The API root answers a GET itself, without a redirect loop."),
    "etag.if-none-match": _rfc(
        "RFC 9110 §13.1.2", "GET with If-None-Match of the current ETag answers 304.", f"{RFC9110}#section-13.1.2"
    ),
    "etag.if-match": _rfc(
        "RFC 9110 §13.1.1", "PATCH with a stale If-Match answers 412 and changes nothing.", f"{RFC9110}#section-13.1.1"
    ),
    "links.hrefs": _tmf("Part 1 §2.3", "Every href the server returns for its own resources answers a GET."),
    "hub.subscribe": _HUB,
    "hub.unsubscribe": _HUB,
    "hub.relative-callback": _HUB,
    "hub.notifications.create-event": _EVENTS,
    "hub.notifications.change-event": _EVENTS,
    "hub.notifications.delete-event": _EVENTS,
    "hub.notifications.event-type-filter": _tmf("Part 1 §10", "A hub query eventType=X delivers X and nothing else."),
    "hub.notifications.envelope": _EVENTS,
    "polymorphism.subtypes": _tmf("Part 2 §1", "A subclass named in @type is stored and returned as that subclass."),
}


def rule_for(name: str) -> Rule | None:
    """The rule of a check, from its full name (``queries.paging[productOrder]``); None for kit assertions."""
    return RULES.get(name.split("[", 1)[0])
