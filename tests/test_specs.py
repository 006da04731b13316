"""Checks that each spec in specs/ covers its official TM Forum v4 Swagger file.

Names, paths, operationIds, tags, parameters, schemas, properties, types, formats, enums and required
lists must match the official file; descriptions are ours. A read-only API (the catalogs, served
from a file) covers the GET operations of the resources it serves and every definition they reach.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import OpenAPIV30SpecValidator, validate

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
OFFICIAL_DIR = ROOT.parent / "shared" / "tmf-specs"
COMMON_PREFIX = "tmf_common.yaml#/components/schemas/"
LOCAL_PREFIX = "#/components/schemas/"
BODY_METHODS = {"post", "patch"}


@dataclass(frozen=True)
class Api:
    """One of our specs and the official file it must cover."""

    spec: str
    official: str
    title: str
    servers: tuple[str, ...]
    # Read-only APIs: the resources served (first path segment) and only their GET operations.
    read_only: frozenset[str] | None = None
    # Fixes of defects of the official file: values our enums add; names our required lists drop;
    # types we give instead ("Schema.property" -> our type).
    enum_fixes: dict[str, set[str]] = field(default_factory=dict)
    required_fixes: dict[str, set[str]] = field(default_factory=dict)
    type_fixes: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.spec.removesuffix(".yaml")


APIS = [
    # TMF622 lists "aborted " with a trailing space.
    Api(
        "tmf622_product_ordering.yaml",
        "TMF622-v4.0.0.swagger.json",
        "TMF622 Product Ordering Management",
        ("/tmf-api/productOrderingManagement/v4",),
        enum_fixes={"ProductStatusType": {"aborted"}},
    ),
    Api(
        "tmf641_service_ordering.yaml",
        "TMF641-v4.0.0.swagger.json",
        "TMF641 Service Ordering",
        ("/tmf-api/serviceOrdering/v4",),
    ),
    Api(
        "tmf638_service_inventory.yaml",
        "TMF638-v4.0.0.swagger.json",
        "TMF638 Service Inventory Management",
        ("/tmf-api/serviceInventory/v4",),
    ),
    Api(
        "tmf640_service_activation.yaml",
        "TMF640-v4.0.0.swagger.json",
        "TMF640 Service Activation and Configuration",
        ("/tmf-api/serviceActivationAndConfiguration/v4",),
    ),
    # TMF639 requires id and href in Resource_Create, which the server sets (no create could succeed).
    Api(
        "tmf639_resource_inventory.yaml",
        "TMF639-v4.0.0.swagger.json",
        "TMF639 Resource Inventory Management",
        ("/tmf-api/resourceInventoryManagement/v4",),
        required_fixes={"Resource_Create": {"href", "id"}},
    ),
    Api(
        "tmf620_product_catalog.yaml",
        "TMF620-v4.0.0.swagger.json",
        "TMF620 Product Catalog Management",
        ("/tmf-api/productCatalogManagement/v4",),
        read_only=frozenset({"productOffering", "productOfferingPrice", "productSpecification"}),
    ),
    Api(
        "tmf633_service_catalog.yaml",
        "TMF633-v4.0.0.swagger.json",
        "TMF633 Service Catalog Management",
        ("/tmf-api/serviceCatalogManagement/v4",),
        read_only=frozenset({"serviceSpecification"}),
    ),
    # TMF642 makes alarm ids integers, unlike every other TMF id (and TMF642 v5).
    Api(
        "tmf642_alarm.yaml",
        "TMF642-v4.0.0.swagger.json",
        "TMF642 Alarm Management",
        ("/tmf-api/alarmManagement/v4", "/tmf-api/alarm/v4"),
        type_fixes={"Alarm.id": "string", "AlarmRefOrValue.id": "string"},
    ),
    Api(
        "tmf629_customer.yaml",
        "TMF629-v4.0.0.swagger.json",
        "TMF629 Customer Management",
        ("/tmf-api/customerManagement/v4",),
    ),
    Api(
        "tmf678_bill.yaml",
        "TMF678-v4.0.0.swagger.json",
        "TMF678 Customer Bill Management",
        ("/tmf-api/customerBillManagement/v4",),
    ),
    # TMF637 lists "aborted " with a trailing space, as TMF622 does.
    Api(
        "tmf637_product_inventory.yaml",
        "TMF637-v4.0.0.swagger.json",
        "TMF637 Product Inventory Management",
        ("/tmf-api/productInventory/v4",),
        enum_fixes={"ProductStatusType": {"aborted"}},
    ),
    # TMF632 spells deceased "deceaded" (v5 spells it right).
    Api(
        "tmf632_party.yaml",
        "TMF632-v4.0.0.swagger.json",
        "TMF632 Party Management",
        ("/tmf-api/party/v4",),
        enum_fixes={"IndividualStateType": {"deceased"}},
    ),
]

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Schema = dict[str, Any]


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=Loader)


def bundle(spec: Any, common: Schema) -> Any:
    """Return `spec` with the schemas of tmf_common.yaml copied in and the refs to them made local."""

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(COMMON_PREFIX):
                return {**node, "$ref": LOCAL_PREFIX + ref[len(COMMON_PREFIX) :]}
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    bundled = rewrite(spec)
    schemas = bundled.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in common["components"]["schemas"].items():
        schemas.setdefault(name, schema)  # a spec's own definition wins over the common one
    return bundled


@pytest.fixture(scope="module")
def common() -> Any:
    return load_yaml(SPECS / "tmf_common.yaml")


@pytest.fixture(scope="module", params=APIS, ids=str)
def api(request: pytest.FixtureRequest) -> Api:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def ours(api: Api, common: Schema) -> Any:
    return bundle(load_yaml(SPECS / api.spec), common)


@pytest.fixture(scope="module")
def official(api: Api) -> Any:
    path = OFFICIAL_DIR / api.official
    if not path.is_file():
        pytest.skip(f"official TM Forum specs not found at {OFFICIAL_DIR}")
    return json.loads(path.read_text(encoding="utf-8"))


def served_paths(api: Api, official: Schema) -> dict[str, Schema]:
    """The official operations we serve, by path: all but the client-hosted /listener callbacks."""
    served: dict[str, Schema] = {}
    for path, operations in official["paths"].items():
        if path.startswith("/listener/"):
            continue
        if api.read_only is not None:
            if path.strip("/").split("/")[0] not in api.read_only:
                continue
            operations = {m: o for m, o in operations.items() if m == "get"}
        served[path] = operations
    return served


def served_definitions(api: Api, official: Schema) -> dict[str, Schema]:
    """Every official definition, or for a read-only API those its served operations reach."""
    definitions: dict[str, Schema] = official["definitions"]
    if api.read_only is None:
        return definitions
    reached: set[str] = set()
    pending = [served_paths(api, official)]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/definitions/"):
                name = ref.rsplit("/", 1)[-1]
                if name not in reached:
                    reached.add(name)
                    pending.append(definitions[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return {name: definitions[name] for name in sorted(reached)}


def ref_name(schema: Schema) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def resolve(spec: Any, node: Schema) -> Schema:
    """Follow a local `#/components/...` ref (parameters, responses) to its target."""
    while "$ref" in node:
        target = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def compare(where: str, official: Schema, ours: Schema, enum_extra: set[str]) -> list[str]:
    """List how `ours` differs from `official` in ref target, type, format, enum or array items."""
    if ref_name(official) or ref_name(ours):
        same = ref_name(official) == ref_name(ours)
        return [] if same else [f"{where}: ref {ref_name(ours)!r}, official {ref_name(official)!r}"]
    problems = [
        f"{where}: {key} {ours.get(key)!r}, official {official.get(key)!r}"
        for key in ("type", "format")
        if official.get(key) != ours.get(key)
    ]
    if "enum" in official:
        extra = set(ours.get("enum", [])) - set(official["enum"])
        if not set(official["enum"]) <= set(ours.get("enum", [])) or not extra <= enum_extra:
            problems.append(f"{where}: enum {ours.get('enum')!r}, official {official['enum']!r}")
    if "items" in official:
        problems += compare(f"{where}[]", official["items"], ours.get("items", {}), set())
    return problems


def test_bundled_spec_is_valid_openapi_30(api: Api, common: Schema, ours: Schema) -> None:
    validate(common, cls=OpenAPIV30SpecValidator)
    assert "tmf_common.yaml" not in json.dumps(ours), "a ref into tmf_common.yaml is not a schema ref"
    validate(ours, cls=OpenAPIV30SpecValidator)
    assert ours["openapi"] == "3.0.3"
    assert ours["info"]["title"] == api.title
    assert ours["info"]["version"] == "4.0.0"
    assert ours["servers"] == [{"url": url} for url in api.servers]


def test_spec_text_follows_project_rules(ours: Schema) -> None:
    text = json.dumps(ours)
    assert "additionalProperties" not in text, "TMF allows extension attributes"
    assert "charset" not in text, "connexion answers 415 to media types with parameters"
    for name, schema in ours["components"]["schemas"].items():
        if name.endswith("_Update"):
            assert "required" not in schema, f"{name}: TMF630 does not enforce _Update required lists"
    for path, item in ours["paths"].items():
        assert set(item) <= {"parameters", "get", "post", "patch", "delete"}, path
        if "patch" not in item:
            continue
        patch = item["patch"]["requestBody"]
        assert patch["required"] is True
        assert set(patch["content"]) == {
            "application/json",
            "application/merge-patch+json",
            "application/json-patch+json",
        }, path
        assert patch["content"]["application/json-patch+json"]["schema"] == {
            "$ref": LOCAL_PREFIX + "JsonPatchOperations"
        }, path


def test_operations_cover_official(api: Api, official: Schema, ours: Schema) -> None:
    served = served_paths(api, official)
    methods = {(path, method) for path, item in ours["paths"].items() for method in item if method != "parameters"}
    assert methods == {(path, method) for path, item in served.items() for method in item}
    for path, operations in served.items():
        assert path in ours["paths"], path
        ours_item = ours["paths"][path]
        for method, operation in operations.items():
            assert method in ours_item, f"{method.upper()} {path}"
            mine = ours_item[method]
            where = f"{method.upper()} {path}"
            assert mine["operationId"] == operation["operationId"], where
            assert mine["tags"] == operation["tags"], where
            params = [resolve(ours, p) for p in ours_item.get("parameters", []) + mine.get("parameters", [])]
            names = {(p["name"], p["in"]) for p in params}
            for param in operation.get("parameters", []):
                if param["in"] == "body":
                    assert mine["requestBody"]["required"] is True, where
                    assert set(mine["requestBody"]["content"]) >= {"application/json"}, where
                else:
                    assert (param["name"], param["in"]) in names, f"{where}: parameter {param['name']}"
            expected = set(operation["responses"]) | {"503"} | ({"415"} if method in BODY_METHODS else set())
            assert expected <= set(mine["responses"]), f"{where}: {sorted(expected - set(mine['responses']))}"
            for code, response in mine["responses"].items():
                body = resolve(ours, response).get("content", {})
                assert set(body) <= {"application/json"}, f"{where} {code}"
                if code.startswith(("4", "5")):
                    assert body["application/json"]["schema"] == {"$ref": LOCAL_PREFIX + "Error"}, where


def test_definitions_cover_official(api: Api, official: Schema, ours: Schema) -> None:
    schemas = ours["components"]["schemas"]
    problems: list[str] = []
    for name, definition in served_definitions(api, official).items():
        if name not in schemas:
            problems.append(f"{name}: missing")
            continue
        mine = schemas[name]
        top_level = {key: value for key, value in definition.items() if key != "properties"}
        problems += compare(name, top_level, mine, api.enum_fixes.get(name, set()))
        for prop, prop_schema in definition.get("properties", {}).items():
            if prop not in mine.get("properties", {}):
                problems.append(f"{name}.{prop}: missing")
            else:
                fixed = api.type_fixes.get(f"{name}.{prop}")
                expected = {**prop_schema, "type": fixed} if fixed else prop_schema
                problems += compare(f"{name}.{prop}", expected, mine["properties"][prop], set())
        required = mine.get("required", [])
        official_required = [n for n in definition.get("required", []) if n not in api.required_fixes.get(name, ())]
        if not name.endswith("_Update") and sorted(required) != sorted(official_required):
            problems.append(f"{name}: required {required!r}, official {official_required!r}")
    assert not problems, "\n".join(problems)
