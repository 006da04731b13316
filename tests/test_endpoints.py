"""The innermost ASGI step: the operation's function called with a Call, its Reply sent as one response."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import Message

from tmfgate import codec, model, specs
from tmfgate.calls import Call, Reply
from tmfgate.endpoints import Endpoint, not_found, send_reply
from tmfgate.errors import Conflict
from tmfgate.gateway import Gateway
from tmfgate.settings import Settings

pytestmark = pytest.mark.anyio

API = model.build(specs.load(specs.specs_dir() / "tmf629_customer.yaml"))
GATEWAY = Gateway(Settings(database_url="memory://"), [API])


class Sent:
    """An ASGI send that keeps the messages."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)


async def nothing() -> Message:
    raise AssertionError("no body is read here")


async def serve(function: Any) -> list[Message]:
    sent = Sent()
    endpoint = Endpoint(GATEWAY, API, API.operations["retrieveCustomer"], function)
    await endpoint({"type": "http", "headers": [], "path_params": {"id": "7"}}, nothing, sent)
    return sent.messages


async def test_the_function_s_reply_is_sent_as_json_with_its_length() -> None:
    async def retrieve(call: Call) -> Reply:
        return Reply.json(200, {"id": call.id}, [(b"x-total-count", b"1")])

    start, body = await serve(retrieve)
    assert start == {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"10"), (b"x-total-count", b"1")],
    }
    assert body == {"type": "http.response.body", "body": b'{"id":"7"}'}


async def test_an_api_error_becomes_its_tmf_error_reply() -> None:
    async def refuse(call: Call) -> Reply:
        raise Conflict("Not now.")

    start, body = await serve(refuse)
    assert start["status"] == 409 and codec.loads(body["body"])["message"] == "Not now."


async def test_a_reply_without_a_body_has_no_content_type() -> None:
    sent = Sent()
    await send_reply(sent, Reply(204))
    assert sent.messages[0]["headers"] == [] and sent.messages[1]["body"] == b""


async def test_an_unknown_path_is_a_404_that_names_it() -> None:
    sent = Sent()
    await not_found({"type": "http", "path": "/tmf-api/nope"}, nothing, sent)
    assert sent.messages[0]["status"] == 404
    assert codec.loads(sent.messages[1]["body"])["message"].startswith("There is no resource at /tmf-api/nope")
