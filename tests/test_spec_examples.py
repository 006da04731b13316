"""The v5 texts against the official v5 examples, and their polymorphism.

Every example an official v5 file gives for a create or patch body passes our compiled request validator
(but the declared bad ones), spoiled variants of a create example are refused, every oneOf is decided by
@type alone, and openapi-core's validator ends on our texts where it recurses on the official ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
import pytest
from openapi_schema_validator import OAS30Validator

from tests.shared import HOW
from tests.test_specs import APIS, OFFICIAL_DIR, SPECS, Api, Schema, bundle, flatten, load_yaml, ref_name, resolve
from tmfgate.schemas import compile_schema
from tmfgate.specs import load
from tmfgate.validation import without_nulls

V5 = [api for api in APIS if api.version == 5]


@dataclass(frozen=True)
class Example:
    """One official example of a request body, and the operation and media type it is sent to."""

    name: str
    path: str
    method: str
    media: str
    value: Any


def request_examples(official: Schema) -> Iterator[Example]:
    """Every example the official file gives for a create (POST on a collection) or patch body."""
    for path, item in official["paths"].items():
        for method, operation in item.items():
            creates = method == "post" and path.count("/") == 1 and path not in ("/hub",)
            if not (creates or method == "patch") or "requestBody" not in operation:
                continue
            for media, body in resolve(official, operation["requestBody"])["content"].items():
                for name, example in body.get("examples", {}).items():
                    yield Example(name, path, method, media, resolve(official, example)["value"])


def validator(ours: Schema, path: str, method: str, media: str) -> Any:
    return compile_schema(ours["paths"][path][method]["requestBody"]["content"][media]["schema"], ours)


def refusal(validate: Any, body: Any) -> str | None:
    """Why the validator refuses the body, or None when it accepts it."""
    try:
        validate.validate(body)
    except jsonschema_rs.ValidationError as exc:
        return f"{'/'.join(map(str, exc.instance_path))}: {exc.message[:300]}"
    return None


def sent(example: Example) -> Any:
    """The body as the gateway validates it: a merge patch without its nulls (RFC 7396 removals)."""
    merge = example.method == "patch" and "json-patch" not in example.media
    return without_nulls(example.value) if merge else example.value


@pytest.fixture(scope="module", params=V5, ids=str)
def api5(request: pytest.FixtureRequest) -> Api:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def ours5(api5: Api) -> Any:
    return load(SPECS / api5.spec).document


@pytest.fixture(scope="module")
def text5(ours5: Schema) -> Any:
    """The bundled text plus the common schemas no operation refers to."""
    return bundle(ours5, load_yaml(SPECS / "v5" / "tmf_common.yaml"))


@pytest.fixture(scope="module")
def official5(api5: Api) -> Any:
    path = OFFICIAL_DIR / api5.official
    if not path.is_file():
        pytest.skip(f"official TM Forum specs not found at {OFFICIAL_DIR} ({HOW})")
    return load_yaml(path)


def test_official_request_examples_are_accepted(api5: Api, ours5: Schema, official5: Schema) -> None:
    examples = list(request_examples(official5))
    assert examples, "the official file has no create or patch example"
    refused = {}
    for example in examples:
        reason = refusal(validator(ours5, example.path, example.method, example.media), sent(example))
        if reason:
            refused[example.name] = f"{example.method.upper()} {example.path} {example.media}: {reason}"
    assert set(refused) == api5.bad_examples, "\n".join(f"{n}: {m}" for n, m in refused.items())


def creates(official: Schema) -> list[Example]:
    """The official create examples, in file order."""
    return [e for e in request_examples(official) if e.method == "post"]


def chosen(schema: Schema, at_type: Any) -> Schema | None:
    """The oneOf branch of our text that a value of this @type goes to."""
    for branch in schema["oneOf"]:
        rule = branch["properties"]["@type"]
        if at_type in rule.get("enum", []) or ("not" in rule and at_type not in rule["not"]["enum"]):
            return branch  # type: ignore[no-any-return]
    return None


def polymorphic(
    spec: Any, schema: Schema, value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[Any, Schema]]:
    """(path, schema with a oneOf on @type) of every polymorphic attribute in a body, following the schema."""
    schema = resolve(spec, schema)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from polymorphic(spec, schema["items"], item, (*path, index))
        return
    if not isinstance(value, dict):
        return
    if "oneOf" in schema:
        yield path, schema
    if "discriminator" in schema:
        branch = chosen(schema, value.get("@type"))
        if branch is not None:
            yield from polymorphic(spec, branch["allOf"][0], value, path)
        return
    properties, _ = flatten(spec, schema)
    for name, item in value.items():
        if name in properties:
            yield from polymorphic(spec, properties[name], item, (*path, name))


def replaced(body: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A deep copy of `body` with the value at `path` replaced."""
    copy = json.loads(json.dumps(body))
    if not path:
        return value
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return copy


def body_schema(ours: Schema, example: Example) -> Schema:
    return ours["paths"][example.path][example.method]["requestBody"]["content"][example.media]["schema"]  # type: ignore[no-any-return]


def spoiled(spec: Any, union: Schema, node: Any) -> Iterator[tuple[str, Any]]:
    """Values of a polymorphic attribute that the branch their @type names must refuse."""
    node = node if isinstance(node, dict) else {}
    if "discriminator" in union:
        options = [
            (key, flatten(spec, {"$ref": target})[1]) for key, target in union["discriminator"]["mapping"].items()
        ]
    else:
        options = [
            (key, set(b["required"])) for b in union["oneOf"] for key in b["properties"]["@type"].get("enum", [])
        ]
    for key, required in options:
        needed = sorted(required - {"@type"})
        # the branch @type names is the one that validates: another branch's @type, or the node's own
        # @type without an attribute its branch requires
        if needed and (node.get("@type") != key or needed[0] in node):
            without = {name: value for name, value in node.items() if name != needed[0]}
            yield f"as {key} without {needed[0]}", {**without, "@type": key}
    if all("enum" in branch["properties"]["@type"] for branch in union["oneOf"]):
        yield "of unknown @type", {**node, "@type": "NoSuchType"}


def planted(spec: Any, schema: Schema) -> Iterator[tuple[tuple[str | int, ...], Any, Schema]]:
    """Where a polymorphic attribute can sit in a body: (path, value holding it, oneOf schema)."""
    for name, prop in flatten(spec, schema)[0].items():
        prop = resolve(spec, prop)
        many = "items" in prop
        inner = resolve(spec, prop["items"]) if many else prop
        if "oneOf" in inner:
            yield (name, 0) if many else (name,), {}, inner
            continue
        properties, required = flatten(spec, inner)
        for sub, sub_schema in properties.items():
            union = resolve(spec, sub_schema)
            if "oneOf" in union:
                holder = {r: "x" for r in required if resolve(spec, properties[r]).get("type") == "string"}
                yield ((name, 0, sub) if many else (name, sub)), holder, union


def invalid_bodies(ours: Schema, example: Example) -> Iterator[tuple[str, Any]]:
    """Deliberately invalid variants of a valid create body, each with what is wrong with it."""
    schema = body_schema(ours, example)
    properties, required = flatten(ours, schema)
    body = example.value
    missing = sorted(required - {"@type"}) or ["@type"]
    yield f"without {missing[0]}", {k: v for k, v in body.items() if k != missing[0]}
    text = next(n for n, p in properties.items() if resolve(ours, p).get("type") == "string" and n[0] != "@")
    yield f"{text} a number", {**body, text: 12345}
    found = list(polymorphic(ours, schema, body))
    for path, union in found:
        node = body
        for step in path:
            node = node[step]
        for what, value in spoiled(ours, union, node):
            yield f"{'/'.join(map(str, path))} {what}", replaced(body, path, value)
    if found:
        return
    # no polymorphic attribute in the example: plant one where the schema allows it, if it allows one (a
    # TMF666 bill format has none, and its account examples are declared bad)
    place = next(planted(ours, schema), None)
    if place is None:
        return
    path, holder, union = place
    base = {
        r: "x" for r, p in flatten(ours, union)[0].items() if r in flatten(ours, union)[1] and p.get("type") == "string"
    }
    for what, value in spoiled(ours, union, base):
        outer: Any = value
        if len(path) > 1 and isinstance(path[-1], str):
            outer = {**holder, path[-1]: value}
        if 0 in path:
            outer = [outer]
        yield f"{path[0]}: {'/'.join(map(str, path))} {what}", {**body, str(path[0]): outer}


def test_invalid_bodies_are_refused(api5: Api, ours5: Schema, official5: Schema) -> None:
    good = [e for e in creates(official5) if e.name not in api5.bad_examples]
    # the first create example with a polymorphic attribute, else the first one
    example = next((e for e in good if any(polymorphic(ours5, body_schema(ours5, e), e.value))), good[0])
    validate = validator(ours5, example.path, "post", example.media)
    assert refusal(validate, example.value) is None
    variants = dict(invalid_bodies(ours5, example))
    schema = body_schema(ours5, example)
    if any(polymorphic(ours5, schema, example.value)) or next(planted(ours5, schema), None) is not None:
        assert any(" as " in what or "@type" in what for what in variants), "no polymorphic attribute to spoil"
    accepted = [what for what, body in variants.items() if refusal(validate, body) is None]
    assert not accepted, f"{example.name}: accepted {accepted}"


def test_oneof_branches_are_decided_by_type(text5: Schema) -> None:
    """Each @type value selects at most one branch of every oneOf; one branch at most takes the rest."""
    for name, schema in text5["components"]["schemas"].items():
        if "oneOf" not in schema:
            continue
        mapping = schema.get("discriminator", {"propertyName": "@type", "mapping": {}})["mapping"]
        assert schema.get("discriminator", {}).get("propertyName", "@type") == "@type", name
        taken: set[str] = set()
        for branch in schema["oneOf"]:
            rule = branch["properties"]["@type"]
            if "enum" in rule:
                assert "@type" in branch["required"], name
            for key in rule.get("enum", []):
                assert not mapping or mapping[key] == branch["allOf"][0]["$ref"], f"{name}: {key}"
            assert not taken & set(rule.get("enum", [])), f"{name}: two branches take one @type"
            taken |= set(rule.get("enum", []))
        rest = [b["properties"]["@type"]["not"]["enum"] for b in schema["oneOf"] if "not" in b["properties"]["@type"]]
        assert len(rest) <= 1, name
        for excluded in rest:  # the value branch of a RefOrValue, or the base itself, takes every other @type
            assert set(excluded) == taken, name
        assert set(mapping) >= taken or not mapping, name


def test_no_discriminator_maps_back_to_its_schema(text5: Schema) -> None:
    """openapi-core validates a discriminated value against the mapped schema: a cycle recurses forever."""
    schemas = text5["components"]["schemas"]

    def ancestors(name: str) -> set[str]:
        found: set[str] = set()
        for part in schemas[name].get("allOf", []):
            parent = ref_name(part) or ref_name(part.get("allOf", [{}])[0])
            if parent and parent not in found:
                found |= {parent} | ancestors(parent)
        return found

    for name, schema in schemas.items():
        for target in schema.get("discriminator", {}).get("mapping", {}).values():
            target_name = target.rsplit("/", 1)[-1]
            assert target_name != name and name not in ancestors(target_name), f"{name} -> {target_name}"


def test_openapi_schema_validator_does_not_recurse(api5: Api, ours5: Schema, official5: Schema) -> None:
    """openapi-core's validator follows discriminators: on our texts it ends, on the official ones it recurses."""
    examples = list(request_examples(official5))
    # A declared bad example may name a union by its own @type (TMF666's PartyRefOrPartyRoleRef), which the
    # validator's implicit mapping follows back into the union whatever the text says.
    for example in (e for e in examples if e.name not in api5.bad_examples):
        root = {"components": ours5["components"], **body_schema(ours5, example)}
        list(OAS30Validator(root).iter_errors(sent(example)))  # a RecursionError fails the test
    first = examples[0]
    official_body = resolve(official5, official5["paths"][first.path][first.method]["requestBody"])
    root = {"components": official5["components"], **official_body["content"][first.media]["schema"]}
    with pytest.raises(RecursionError):
        list(OAS30Validator(root).iter_errors(sent(first)))
