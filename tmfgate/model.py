"""What the gateway learns from a spec: its resources and operations, and the verb of each.

The spec is the router: each operation is classified by its method and path shape (``GET /x`` list,
``POST /x`` create, ``GET /x/{id}`` retrieve, ``PATCH`` patch, ``DELETE`` delete, ``/hub`` the
notification hub), and each resource learns from its schemas which attributes the server owns
(those of the resource schema missing from its ``_Create`` schema) and the type of every attribute
path, which the query parser uses to compare numbers, booleans and dates as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backends.base import ValueType
from tmfgate.errors import ConfigurationError
from tmfgate.schemas import Checks, compile_schema
from tmfgate.specs import ApiSpec

HTTP_METHODS = ("get", "post", "patch", "put", "delete")
# TMF630 / IG1353: identity is never patchable, nor the type; @baseType and @schemaLocation are
# when the API's update schema has them (the TMF622 v4 ProductOrder_Update does).
ALWAYS_FIXED = frozenset({"id", "href", "@type"})
_WRITES = frozenset({"create", "patch", "delete"})


@dataclass(frozen=True)
class Schemas:
    """Resolution of ``#/components/schemas/...`` references inside one bundled document."""

    document: dict[str, Any]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema:
            ref = schema["$ref"]
            node: Any = self.document
            for part in ref.lstrip("#/").split("/"):
                node = node[part]
            schema = node
            seen += 1
            if seen > 50:
                raise ConfigurationError(f"The reference {ref} loops.")
        return schema

    def properties(self, schema: dict[str, Any]) -> dict[str, Any]:
        """All properties of a schema, following ``$ref`` and ``allOf``."""
        schema = self.resolve(schema)
        merged: dict[str, Any] = {}
        for part in schema.get("allOf", []):
            merged.update(self.properties(part))
        merged.update(schema.get("properties", {}))
        return merged

    def node_at(self, schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
        """The schema of the attribute at a dotted path (arrays looked through), None when unknown."""
        node: dict[str, Any] | None = schema
        for name in path:
            node = self._items(node) if node is not None else None
            props = self.properties(node) if node is not None else {}
            node = props.get(name)
            if node is None:
                return None
        return self._items(node) if node is not None else None

    def kind_at(self, schema: dict[str, Any], path: tuple[str, ...]) -> ValueType | None:
        """The comparison kind of the attribute at a dotted path, None when it is unknown or not a value."""
        node = self.node_at(schema, path) or {}
        kind_by_type = {"number": ValueType.NUMBER, "integer": ValueType.NUMBER, "boolean": ValueType.BOOLEAN}
        if node.get("type") == "string":
            return ValueType.DATETIME if node.get("format") == "date-time" else ValueType.STRING
        return kind_by_type.get(str(node.get("type")))

    def _items(self, node: dict[str, Any]) -> dict[str, Any]:
        node = self.resolve(node)
        while node.get("type") == "array" and "items" in node:
            node = self.resolve(node["items"])
        return node


@dataclass
class ResourceModel:
    """A managed resource (``productOrder``) of one API, as its schemas describe it."""

    kind: str
    type_name: str
    schema: dict[str, Any] | None = None
    create_schema: dict[str, Any] | None = None
    update_schema: dict[str, Any] | None = None
    server_owned: frozenset[str] = frozenset({"id", "href"})
    fixed_on_patch: frozenset[str] = ALWAYS_FIXED
    schemas: Schemas | None = field(default=None, repr=False)
    # The whole-resource schema of a patchable resource: a patched document must still be a valid
    # resource (a merge patch may null out a required attribute).
    validator: Checks | None = field(default=None, repr=False)

    def attribute_kind(self, path: tuple[str, ...]) -> ValueType | None:
        if path in (("id",), ("href",)):
            return ValueType.STRING
        if self.schema is None or self.schemas is None:
            return None
        return self.schemas.kind_at(self.schema, path)

    def attribute_known(self, path: tuple[str, ...]) -> bool | None:
        """Whether the resource's schema describes the attribute at ``path``; None without a schema."""
        if path in (("id",), ("href",)):
            return True
        if self.schema is None or self.schemas is None:
            return None
        return self.schemas.node_at(self.schema, path) is not None


@dataclass(frozen=True)
class OperationModel:
    """One operation of the spec: its verb, resource and request body schemas by media type."""

    api: str
    operation_id: str
    method: str
    path: str
    verb: str
    resource: ResourceModel
    bodies: dict[str, dict[str, Any]]
    body_required: bool


@dataclass
class ApiModel:
    """Everything the gateway serves for one spec."""

    spec: ApiSpec
    schemas: Schemas
    resources: dict[str, ResourceModel]
    operations: dict[str, OperationModel]
    # The API's other versions served over the same store, by major version (tmfgate.versions),
    # and on such a version's own model, its Face.
    faces: dict[str, ApiModel] = field(default_factory=dict)
    face: Any = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def base_path(self) -> str:
        return self.spec.base_path


def build(spec: ApiSpec) -> ApiModel:
    """Classify every operation of a spec and describe its resources."""
    schemas = Schemas(spec.document)
    resources: dict[str, ResourceModel] = {}
    operations: dict[str, OperationModel] = {}
    for path, item in spec.document.get("paths", {}).items():
        segments = [s for s in path.split("/") if s]
        if not segments or len(segments) > 2:
            raise ConfigurationError(f"{spec.name}: the path {path} is not /resource or /resource/{{id}}.")
        kind = segments[0]
        resource = resources.get(kind) or ResourceModel(kind=kind, type_name=kind[:1].upper() + kind[1:])
        resources[kind] = resource
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation = item[method]
            verb = _verb(method, len(segments) == 2, kind == "hub")
            if verb is None:
                raise ConfigurationError(f"{spec.name}: {method.upper()} {path} has no generic meaning.")
            _learn(resource, schemas, verb, operation)
            op_id = operation.get("operationId")
            if not op_id:
                raise ConfigurationError(f"{spec.name}: {method.upper()} {path} has no operationId.")
            content = operation.get("requestBody", {}).get("content", {})
            operations[op_id] = OperationModel(
                api=spec.name,
                operation_id=op_id,
                method=method,
                path=path,
                verb=verb,
                resource=resource,
                bodies={m: c.get("schema", {}) for m, c in content.items()},
                body_required=bool(operation.get("requestBody", {}).get("required")),
            )
    for resource in resources.values():
        _derive_owned(resource, schemas)
    for op in operations.values():
        if op.verb == "patch" and op.resource.schema is not None and op.resource.validator is None:
            op.resource.validator = compile_schema(op.resource.schema, spec.document)
    return ApiModel(spec=spec, schemas=schemas, resources=resources, operations=operations)


SHARED = "x-tmfgate-shared"  # the spec info's mark of an API every partner reads, whoever writes it


def read_only_kinds(apis: list[ApiModel]) -> frozenset[str]:
    """The kinds every partner reads: those no API lets a client create, patch or delete, and those of
    the APIs whose spec says ``x-tmfgate-shared: true`` in its info (the catalogs, the provider's own)."""
    written = {op.resource.kind for api in apis for op in api.operations.values() if op.verb in _WRITES}
    shared = {kind for api in apis if api.spec.document.get("info", {}).get(SHARED) is True for kind in api.resources}
    return frozenset(kind for api in apis for kind in api.resources if kind not in written or kind in shared)


def _verb(method: str, by_id: bool, hub: bool) -> str | None:
    table = {
        ("get", False): "list",
        ("post", False): "create",
        ("get", True): "retrieve",
        ("patch", True): "patch",
        ("delete", True): "delete",
    }
    verb = table.get((method, by_id))
    if hub and verb is not None:
        return {"create": "register", "delete": "unregister", "retrieve": "subscription"}.get(verb)
    return verb


def _learn(resource: ResourceModel, schemas: Schemas, verb: str, operation: dict[str, Any]) -> None:
    """Take the resource, create and update schemas from the operations that carry them."""
    content = operation.get("requestBody", {}).get("content", {})
    if verb == "create" and content:
        resource.create_schema = next(iter(content.values())).get("schema")
    if verb == "patch":
        for media, body in content.items():
            if "json-patch" not in media:
                resource.update_schema = body.get("schema")
    if verb in ("retrieve", "create", "register"):
        for status in ("200", "201"):
            response = operation.get("responses", {}).get(status, {})
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if schema:
                resource.schema = schema
                ref = schema.get("$ref", "")
                if ref and verb != "register":
                    resource.type_name = ref.rsplit("/", 1)[-1]
                break
    resource.schemas = schemas


def _derive_owned(resource: ResourceModel, schemas: Schemas) -> None:
    if resource.schema is None:
        return
    full = set(schemas.properties(resource.schema))
    if resource.create_schema is not None:
        resource.server_owned = frozenset(full - set(schemas.properties(resource.create_schema))) | {"id", "href"}
    if resource.update_schema is not None:
        resource.fixed_on_patch = ALWAYS_FIXED | (full - set(schemas.properties(resource.update_schema)))
