"""Checks that specs/tmf622_product_ordering.yaml covers the official TMF622 v4.0.0 Swagger file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import OpenAPIV30SpecValidator, validate

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
OFFICIAL_DIR = ROOT.parent / "shared" / "tmf-specs"
OFFICIAL_FILE = OFFICIAL_DIR / "TMF622-v4.0.0.swagger.json"
COMMON_PREFIX = "tmf_common.yaml#/components/schemas/"
LOCAL_PREFIX = "#/components/schemas/"
BODY_METHODS = {"post", "patch"}
# Values our enums add to fix defects of the official file: it lists "aborted " with a trailing space.
ENUM_FIXES = {"ProductStatusType": {"aborted"}}

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


@pytest.fixture(scope="module")
def ours(common: Schema) -> Any:
    return bundle(load_yaml(SPECS / "tmf622_product_ordering.yaml"), common)


@pytest.fixture(scope="module")
def official() -> Any:
    if not OFFICIAL_FILE.is_file():
        pytest.skip(f"official TM Forum specs not found at {OFFICIAL_DIR}")
    return json.loads(OFFICIAL_FILE.read_text(encoding="utf-8"))


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


def test_bundled_spec_is_valid_openapi_30(common: Schema, ours: Schema) -> None:
    validate(common, cls=OpenAPIV30SpecValidator)
    assert "tmf_common.yaml" not in json.dumps(ours), "a ref into tmf_common.yaml is not a schema ref"
    validate(ours, cls=OpenAPIV30SpecValidator)
    assert ours["openapi"] == "3.0.3"
    assert ours["info"]["title"] == "TMF622 Product Ordering Management"
    assert ours["info"]["version"] == "4.0.0"
    assert ours["servers"] == [{"url": "/tmf-api/productOrderingManagement/v4"}]


def test_spec_text_follows_project_rules(ours: Schema) -> None:
    text = json.dumps(ours)
    assert "additionalProperties" not in text, "TMF allows extension attributes"
    assert "charset" not in text, "connexion answers 415 to media types with parameters"
    for name, schema in ours["components"]["schemas"].items():
        if name.endswith("_Update"):
            assert "required" not in schema, f"{name}: TMF630 does not enforce _Update required lists"
    patch = ours["paths"]["/productOrder/{id}"]["patch"]["requestBody"]
    assert patch["required"] is True
    assert set(patch["content"]) == {
        "application/json",
        "application/merge-patch+json",
        "application/json-patch+json",
    }
    assert patch["content"]["application/json-patch+json"]["schema"] == {
        "$ref": LOCAL_PREFIX + "JsonPatchOperations"
    }


def test_operations_cover_official(official: Schema, ours: Schema) -> None:
    for path, operations in official["paths"].items():
        if path.startswith("/listener/"):
            continue  # callbacks hosted by clients, not by this server
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


def test_definitions_cover_official(official: Schema, ours: Schema) -> None:
    schemas = ours["components"]["schemas"]
    problems: list[str] = []
    for name, definition in official["definitions"].items():
        if name not in schemas:
            problems.append(f"{name}: missing")
            continue
        mine = schemas[name]
        top_level = {key: value for key, value in definition.items() if key != "properties"}
        problems += compare(name, top_level, mine, ENUM_FIXES.get(name, set()))
        for prop, prop_schema in definition.get("properties", {}).items():
            if prop not in mine.get("properties", {}):
                problems.append(f"{name}.{prop}: missing")
            else:
                problems += compare(f"{name}.{prop}", prop_schema, mine["properties"][prop], set())
        required, official_required = mine.get("required", []), definition.get("required", [])
        if not name.endswith("_Update") and sorted(required) != sorted(official_required):
            problems.append(f"{name}: required {required!r}, official {official_required!r}")
    assert not problems, "\n".join(problems)
