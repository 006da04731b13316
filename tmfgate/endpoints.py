"""The innermost ASGI step: call the function serving an operation and send its reply.

Each request becomes a :class:`~tmfgate.calls.Call` and each function returns a
:class:`~tmfgate.calls.Reply` of encoded bytes (JSON, unless it says), sent with two ASGI messages: no
request or response objects are built on the hot path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

from tmfgate.calls import Call, Function, Reply
from tmfgate.errors import ApiError, NotFound
from tmfgate.model import ApiModel, OperationModel
from tmfgate.security import idempotency

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

JSON = (b"content-type", b"application/json")


class Endpoint:
    """A resolved operation: its function and model, ready to serve requests."""

    __slots__ = ("api", "function", "gateway", "model", "post")

    def __init__(self, gateway: Gateway, api: ApiModel, model: OperationModel, function: Function) -> None:
        self.gateway, self.api, self.model, self.function = gateway, api, model, function
        self.post = model.method == "post"  # creates honour Idempotency-Key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            call = Call(self.gateway, self.api, self.model, scope)
            reply = await (idempotency.serve(call, self.function) if self.post else self.function(call))
        except ApiError as error:
            reply = Reply.error(error)
        await send_reply(send, reply)


class FacedEndpoint(Endpoint):
    """An operation of another version of an API (:mod:`tmfgate.versions`): served by the home
    version's operation, the request turned into the home version's terms and the reply back."""

    __slots__ = ("face", "shown")

    def __init__(self, gateway: Gateway, api: ApiModel, model: OperationModel, function: Function) -> None:
        home = api.face.operation(model)
        super().__init__(gateway, api.face.home if home else api, home or model, function)
        self.face, self.shown = (api.face if home else None), model

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        face = self.face
        if face is None:
            await super().__call__(scope, receive, send)
            return
        kind = self.model.resource.kind
        if scope.get("query_string"):
            scope["query_string"] = face.query(kind, scope["query_string"].decode("latin-1")).encode("latin-1")
        call = Call(self.gateway, self.api, self.model, scope)
        call.face = face
        if call.body is not None:
            call.body = face.inward(kind, call.body, call.media_type)
        try:
            # A create honours Idempotency-Key here too: the record keeps the home version's answer,
            # which a replay maps to this version as the first answer was.
            reply = await (idempotency.serve(call, self.function) if self.post else self.function(call))
        except ApiError as error:
            reply = Reply.error(error)
        await send_reply(send, face.reply(self.model, reply))


async def send_reply(send: Send, reply: Reply) -> None:
    """Send a reply as one ASGI response."""
    headers = reply.headers
    if reply.body is not None:
        kind = JSON if reply.media_type == JSON[1] else (b"content-type", reply.media_type)
        headers = [kind, (b"content-length", str(len(reply.body)).encode()), *headers]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body or b""})


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """Paths the specs do not define (TMF630: unknown path is a 404 with an Error body)."""
    if scope["type"] == "http":
        error = NotFound(f"There is no resource at {scope.get('path', '')}; check the path and the API version.")
        await send_reply(send, Reply.error(error))
