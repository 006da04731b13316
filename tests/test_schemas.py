"""Validators compiled from a spec's schemas, and their errors as sentences a client can act on."""

from __future__ import annotations

import json

import pytest

from tmfgate.errors import BadRequest, ConfigurationError
from tmfgate.schemas import check, compile_schema

DOCUMENT = {
    "components": {
        "schemas": {
            "Ref": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
        }
    }
}
SCHEMA = {
    "type": "object",
    "required": ["name", "state"],
    "properties": {
        "name": {"type": "string"},
        "state": {"type": "string", "enum": ["a", "b"]},
        "party": {"type": "array", "items": {"$ref": "#/components/schemas/Ref"}},
        "count": {"type": "integer", "minimum": 0},
    },
}
VALIDATOR = compile_schema(SCHEMA, DOCUMENT)


def test_a_valid_body_passes() -> None:
    check(VALIDATOR, {"name": "n", "state": "a", "party": [{"id": "1"}]})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "The request body is missing the required attributes name, state."),
        ({"name": "n", "state": "c"}, 'Invalid request body: state is "c", which is not one of "a", "b".'),
        ({"name": 1, "state": "a"}, "Invalid request body: name must be of type string, not 1."),
        ({"name": "n", "state": "a", "party": [{}]}, "missing the required attribute party[0].id."),
        ({"name": "n", "state": "a", "count": -1}, "Invalid request body: count is not valid (-1 is less than"),
        ([], "Invalid request body: the body must be of type object, not []."),
    ],
)
def test_a_bad_body_is_a_400_that_says_what_is_wrong(body: object, message: str) -> None:
    with pytest.raises(BadRequest) as raised:
        check(VALIDATOR, body)
    assert message in raised.value.message


def test_many_problems_are_listed_up_to_five() -> None:
    many = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(8)}}
    with pytest.raises(BadRequest, match="and 3 more"):
        check(compile_schema(many, {}), {f"p{i}": "x" for i in range(8)}, what="patched resource")


def test_a_schema_that_cannot_compile_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="cannot be compiled"):
        compile_schema({"type": "object", "pattern": "("}, {})


def test_a_schema_is_compiled_once_for_its_text_and_components() -> None:
    same = compile_schema(json.loads(json.dumps(SCHEMA)), json.loads(json.dumps(DOCUMENT)))
    assert same is VALIDATOR  # another app's copy of the same text
    strict = {"components": {"schemas": {"Ref": {"type": "object", "required": ["id", "role"]}}}}
    other = compile_schema(SCHEMA, strict)
    assert other is not VALIDATOR
    body = {"name": "n", "state": "a", "party": [{"id": "1"}]}
    assert VALIDATOR.is_valid(body) and not other.is_valid(body)
