"""Request validation per operation: media type, typed query parameters and body, before the endpoint runs."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from tmfgate import model, specs
from tmfgate.calls import BODY, MEDIA_TYPE
from tmfgate.errors import BadRequest, InvalidQuery, PayloadTooLarge, UnsupportedMediaType
from tmfgate.settings import Settings
from tmfgate.validation import OperationValidator, has_nul, read_body, without_nulls

pytestmark = pytest.mark.anyio

API = model.build(specs.load(specs.specs_dir() / "tmf622_product_ordering.yaml"))
SETTINGS = Settings()
ORDER = {"productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "po"}}]}


class Endpoint:
    """The next app: records the scope it was called with."""

    def __init__(self) -> None:
        self.scope: Scope | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope


def receiving(*chunks: bytes) -> Receive:
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive() -> Message:
        return messages.pop(0)

    return receive


async def send(message: Message) -> None:
    raise AssertionError("the validator sends nothing")


async def validate(
    operation: str,
    body: bytes = b"",
    media: str | None = "application/json",
    query: str = "",
    settings: Settings = SETTINGS,
) -> Scope:
    endpoint = Endpoint()
    validator = OperationValidator(endpoint, API, API.operations[operation], settings)
    headers = [(b"content-type", media.encode())] if media else []
    scope: dict[str, Any] = {"type": "http", "headers": headers, "query_string": query.encode()}
    await validator(scope, receiving(body), send)
    assert endpoint.scope is scope
    return scope


async def test_a_valid_body_reaches_the_endpoint_parsed_with_its_media_type() -> None:
    scope = await validate("createProductOrder", b'{"productOrderItem": [{"id": "1", "action": "add"}]}')
    assert scope[BODY] == {"productOrderItem": [{"id": "1", "action": "add"}]}
    assert scope[MEDIA_TYPE] == "application/json"


@pytest.mark.parametrize(
    ("body", "media", "error", "message"),
    [
        (b"", None, BadRequest, "A request body is required."),
        (b"{nope", "application/json", BadRequest, "The request body is not valid JSON"),
        (b'{"productOrderItem": "x"}', "application/json", BadRequest, "productOrderItem must be of type array"),
        (b"{}", "text/plain", UnsupportedMediaType, "The media type text/plain is not accepted here"),
        (b"{}", None, UnsupportedMediaType, "A request body needs a Content-Type"),
        (b'{"description": "a\\u0000b", "productOrderItem": []}', "application/json", BadRequest, "NUL character"),
        (b'{"a": NaN}', "application/json", BadRequest, "not valid JSON"),
        (b'{"a": ' + b"[" * 65 + b"]" * 65 + b"}", "application/json", BadRequest, "nest more than 64 levels"),
    ],
)
async def test_a_bad_request_is_refused_before_the_endpoint(
    body: bytes, media: str | None, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await validate("createProductOrder", body, media)


async def test_a_merge_patch_may_null_out_attributes_a_json_patch_is_checked_as_operations() -> None:
    scope = await validate("patchProductOrder", b'{"description": null}', "application/merge-patch+json")
    assert scope[BODY] == {"description": None}
    with pytest.raises(BadRequest):
        await validate("patchProductOrder", b'{"op": "remove"}', "application/json-patch+json")


@pytest.mark.parametrize(("query", "message"), [("limit=x", "must be an integer"), ("offset=-1", "at least 0")])
async def test_typed_query_parameters_are_checked(query: str, message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        await validate("listProductOrder", query=query)
    await validate("listProductOrder", query="limit=2&offset=0")


async def test_a_body_in_several_messages_is_read_whole() -> None:
    assert await read_body(receiving(b'{"a"', b": 1", b"}")) == b'{"a": 1}'


def test_nul_characters_and_merge_patch_nulls() -> None:
    assert has_nul({"a": ["x", {"b\x00": 1}]}) and has_nul("\x00") and not has_nul({"a": [1, None, "x"]})
    assert without_nulls({"a": None, "b": {"c": None, "d": [None]}}) == {"b": {"d": [None]}}


async def test_a_body_past_the_limit_is_refused_as_it_arrives() -> None:
    assert await read_body(receiving(b"12", b"34"), limit=4) == b"1234"
    with pytest.raises(PayloadTooLarge, match="4 bytes"):
        await read_body(receiving(b"12", b"34", b"5"), limit=4)
    with pytest.raises(PayloadTooLarge):
        await read_body(receiving(b"1"), limit=4, declared=5)  # a Content-Length past it: nothing read
    with pytest.raises(PayloadTooLarge):
        await validate("createProductOrder", b"{}" + b" " * 10, settings=Settings(max_body_size=8))
