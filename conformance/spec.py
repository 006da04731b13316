"""What the checks need to know about an API, read from its OpenAPI spec: resources, operations, schemas.

A resource is a collection path ``/x`` offering GET and POST, usually with an item path ``/x/{id}``;
``/hub`` and ``/listener/...`` are the notification endpoints, not resources (TMF630 Part 1 §10).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.openapi import (
    Documents,
    Schema,
    SpecError,
    class_of,
    flatten,
    json_media,
    ref_name,
    schema_type,
)

METHODS = ("get", "put", "post", "delete", "patch")

# Attributes a client never sets: identity and polymorphism markers (TMF630 Part 1 §2.3, Part 2).
RESERVED = frozenset({"id", "href", "@type", "@baseType", "@schemaLocation", "@referredType"})

# Preferred attributes for tagging test data: free text that every TMF API echoes back unchanged.
TAG_PREFERENCE = (
    "description",
    "externalId",
    "name",
    "category",
    "notificationContact",
    "cancellationReason",
    "specificProblem",
    "alarmDetails",
)

__all__ = ["Api", "Resource", "SpecError", "load_api"]


@dataclass
class Resource:
    """One TMF resource: its paths, the methods the spec defines there and its schemas."""

    name: str
    collection_path: str
    item_path: str | None
    collection_methods: frozenset[str]
    item_methods: frozenset[str]
    create_schema: Any
    resource_schema: Any
    patch_schema: Any = None
    patch_media_types: tuple[str, ...] = ()
    class_name: str = ""
    string_attrs: tuple[str, ...] = ()
    date_attrs: tuple[str, ...] = ()

    @property
    def is_task(self) -> bool:
        """A task resource is created and read, never patched nor deleted (TMF630 Part 1 §8)."""
        return "patch" not in self.item_methods and "delete" not in self.item_methods

    def has(self, method: str, on_item: bool = True) -> bool:
        """Whether the spec defines ``method`` on the item path (or the collection path)."""
        methods = self.item_methods if on_item else self.collection_methods
        return method.lower() in methods

    def lower_camel(self) -> str:
        """The payload key of this resource in events (``event.productOrder``)."""
        return self.class_name[:1].lower() + self.class_name[1:]


@dataclass
class Api:
    """The API described by one spec file."""

    path: Path
    docs: Documents
    title: str
    server_url: str
    resources: list[Resource]
    hub_path: str | None
    hub_schema: Any
    type_required: bool  # the v5 style: every class, Error included, requires @type

    @property
    def version(self) -> int | None:
        """The major version of the API (``info.version`` 4.0.0 → 4), when the spec says."""
        match = re.match(r"\s*v?(\d+)", str((self.docs.root.get("info") or {}).get("version", "")))
        return int(match.group(1)) if match else None

    def resource(self, name: str) -> Resource:
        """The resource called ``name``; raises ``KeyError`` when the spec has none."""
        for res in self.resources:
            if res.name == name:
                return res
        raise KeyError(name)

    def api_root(self, base_url: str) -> str:
        """The API root: ``base_url``, plus the spec's server path when ``base_url`` has no path."""
        base = base_url.rstrip("/")
        if urlsplit(base).path in ("", "/") and self.server_url.startswith("/"):
            return base + self.server_url.rstrip("/")
        return base


def load_api(path: Path) -> Api:
    """Read the spec at ``path`` and discover its resources and hub."""
    docs = Documents(path)
    paths: dict[str, Any] = docs.root.get("paths") or {}
    if not paths:
        raise SpecError(f"{path} defines no paths.")
    resources = [res for p in sorted(paths) if (res := _resource(docs, paths, p)) is not None]
    hub_path, hub_schema = _hub(docs, paths)
    servers = docs.root.get("servers") or [{}]
    server_url = str(servers[0].get("url", "")) if docs.root.get("openapi") else str(docs.root.get("basePath", ""))
    error_schema = flatten(docs, _find_error_schema(docs, paths))
    return Api(
        path=path,
        docs=docs,
        title=str((docs.root.get("info") or {}).get("title", path.stem)),
        server_url=server_url,
        resources=resources,
        hub_path=hub_path,
        hub_schema=hub_schema,
        type_required="@type" in (error_schema.get("required") or []),
    )


def _methods(item: Any) -> frozenset[str]:
    return frozenset(m for m in METHODS if isinstance(item, dict) and m in item)


def _resource(docs: Documents, paths: dict[str, Any], path: str) -> Resource | None:
    segments = [s for s in path.split("/") if s]
    if len(segments) != 1 or "{" in path or segments[0] in ("hub", "listener"):
        return None
    collection = paths[path]
    methods = _methods(collection)
    if not {"get", "post"} <= methods:
        return None
    item_path = next((p for p in paths if _is_item_of(p, path)), None)
    item = paths.get(item_path) if item_path else None
    create = request_schema(docs, collection["post"])
    resource_schema = _response_schema(docs, item["get"] if item and "get" in item else None, "200")
    if resource_schema is None:
        resource_schema = _response_schema(docs, collection["post"], "201") or create
    patch_op = item.get("patch") if item else None
    res = Resource(
        name=segments[0],
        collection_path=path.rstrip("/"),
        item_path=item_path,
        collection_methods=methods,
        item_methods=_methods(item),
        create_schema=create,
        resource_schema=resource_schema,
        patch_schema=request_schema(docs, patch_op) if patch_op else None,
        patch_media_types=_media_types(docs, patch_op) if patch_op else (),
        class_name=_class_name(resource_schema, segments[0]),
    )
    res.string_attrs, res.date_attrs = _attributes(docs, create, resource_schema)
    return res


def _is_item_of(candidate: str, collection: str) -> bool:
    head, _, tail = candidate.rstrip("/").rpartition("/")
    return head == collection.rstrip("/") and tail.startswith("{") and tail.endswith("}")


def _class_name(schema: Any, name: str) -> str:
    found = ref_name(schema)
    return class_of(found) if found else name[:1].upper() + name[1:]


def request_schema(docs: Documents, operation: Any) -> Any:
    """The JSON request body schema of an operation (OAS 3 ``requestBody`` or a Swagger 2 body parameter)."""
    if not isinstance(operation, dict):
        return None
    body = docs.resolve(operation.get("requestBody"))
    if isinstance(body, dict):
        media = dict(json_media(body.get("content") or {}))
        return (
            media.get("application/json")
            or media.get("application/merge-patch+json")
            or next(iter(media.values()), None)
        )
    for param in operation.get("parameters") or []:
        param = docs.resolve(param)
        if isinstance(param, dict) and param.get("in") == "body":
            return param.get("schema")
    return None


def _media_types(docs: Documents, operation: dict[str, Any]) -> tuple[str, ...]:
    body = docs.resolve(operation.get("requestBody"))
    if isinstance(body, dict):
        return tuple(str(m).split(";")[0].strip() for m in body.get("content") or {})
    return tuple(str(m).split(";")[0].strip() for m in operation.get("consumes") or docs.root.get("consumes") or [])


def _response_schema(docs: Documents, operation: Any, status: str) -> Any:
    if not isinstance(operation, dict):
        return None
    response = docs.resolve((operation.get("responses") or {}).get(status))
    if not isinstance(response, dict):
        return None
    if "schema" in response:  # Swagger 2
        return response["schema"]
    return next((schema for _, schema in json_media(response.get("content") or {})), None)


def _find_error_schema(docs: Documents, paths: dict[str, Any]) -> Any:
    for item in paths.values():
        for method in METHODS:
            operation = item.get(method) if isinstance(item, dict) else None
            for status in ("404", "400", "default"):
                schema = _response_schema(docs, operation, status)
                if schema is not None:
                    return schema
    return None


def _hub(docs: Documents, paths: dict[str, Any]) -> tuple[str | None, Any]:
    for path, item in paths.items():
        if path.rstrip("/").endswith("/hub") and path.count("/") == 1 and "post" in _methods(item):
            return path.rstrip("/"), request_schema(docs, item["post"])
    return None, None


def _attributes(docs: Documents, create: Any, resource: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Client-settable top-level free-text and date-time attributes that the resource echoes back."""
    create_props: dict[str, Any] = flatten(docs, create).get("properties") or {}
    resource_props: dict[str, Any] = flatten(docs, resource).get("properties") or {}
    strings: list[str] = []
    dates: list[str] = []
    for name, prop in create_props.items():
        if name in RESERVED or (resource_props and name not in resource_props):
            continue
        flat: Schema = flatten(docs, prop)
        if schema_type(docs, prop) != "string" or "enum" in flat or flat.get("pattern"):
            continue
        fmt = flat.get("format")
        if fmt == "date-time":
            dates.append(name)
        elif fmt in (None, "") and not name.lower().endswith(("state", "status", "date", "time", "update")):
            strings.append(name)  # not a lifecycle value or a time the spec left free text (TMF642 ackState)
    rank = {n: i for i, n in enumerate(TAG_PREFERENCE)}
    strings.sort(key=lambda n: (rank.get(n, len(rank)), n))
    # Requested dates are plain client data; others (cancellationDate...) may carry server meaning.
    dates.sort(key=lambda n: (not n.startswith("requested"), "creation" in n.lower(), n))
    return tuple(strings), tuple(dates)
