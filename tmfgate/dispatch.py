"""The innermost ASGI app: calls the function resolved for the routed operation.

Each request becomes a :class:`Call` (what the client asked, plus the gateway's services) and each
function returns a :class:`Reply` of stored JSON bytes, sent with two ASGI messages. No request or
response objects are built on the hot path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from connexion.middleware.abstract import RoutedAPI
from connexion.operations import AbstractOperation
from starlette.types import Receive, Scope, Send

from tmfgate.errors import ApiError, NotFound
from tmfgate.ids import new_id
from tmfgate.model import ApiModel, OperationModel, ResourceModel
from tmfgate.routed import TableRoutedMiddleware
from tmfgate.validation import BODY, MEDIA_TYPE

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

JSON = (b"content-type", b"application/json")


@dataclass(slots=True)
class Reply:
    """What an operation answers: a status, a JSON body already encoded, and extra headers."""

    status: int
    body: bytes | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, value: Any, headers: list[tuple[bytes, bytes]] | None = None) -> Reply:
        return cls(status, orjson.dumps(value), headers or [])

    @classmethod
    def error(cls, error: ApiError) -> Reply:
        return cls(error.status, orjson.dumps(error.body()))


class Call:
    """One API call: the operation, the request's parts, and the gateway serving it."""

    __slots__ = ("gateway", "api", "operation", "scope", "body", "media_type", "_host", "_correlation")

    def __init__(self, gateway: Gateway, api: ApiModel, operation: OperationModel, scope: Scope) -> None:
        self.gateway = gateway
        self.api = api
        self.operation = operation
        self.scope = scope
        self.body: Any = scope.get(BODY)
        self.media_type: str | None = scope.get(MEDIA_TYPE)
        self._host: str | None = None
        self._correlation: str | None = None

    @property
    def resource(self) -> ResourceModel:
        return self.operation.resource

    @property
    def id(self) -> str:
        return str(self.scope["path_params"]["id"])  # path params are strings in every spec

    @property
    def correlation_id(self) -> str:
        """The client's ``X-Correlation-ID`` (or ``X-Request-ID``), else one id for this call's events."""
        return self._correlation or self._read_headers()[1]

    @property
    def query_string(self) -> str:
        raw: bytes = self.scope.get("query_string", b"")
        return raw.decode("latin-1")

    def base_url(self) -> str:
        """Scheme, host and base path of this API as the client reached it (for absolute hrefs)."""
        scope = self.scope
        host = self._host or self._read_headers()[0]
        return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{self.api.base_path}"

    def href(self, kind: str, id: str) -> str:
        return f"{self.base_url()}/{kind}/{id}"

    def _read_headers(self) -> tuple[str, str]:
        """Host and correlation id in one pass over the headers: a call that needs one (a create, a
        change) needs the other too, or is a read that needs neither."""
        host = correlation = None
        for key, value in self.scope["headers"]:
            if key == b"host":
                if host is None:
                    host = value.decode("latin-1")
            elif key in (b"x-correlation-id", b"x-request-id") and correlation is None:
                correlation = value.decode("latin-1")[:200]
        if host is None:
            server = self.scope.get("server") or ("localhost", 80)
            host = f"{server[0]}:{server[1]}"
        self._host, self._correlation = host, new_id() if correlation is None else correlation
        return self._host, self._correlation


Function = Callable[[Call], Awaitable[Reply]]


class Endpoint:
    """A resolved operation: its function and model, ready to serve requests."""

    def __init__(self, gateway: Gateway, api: ApiModel, model: OperationModel, function: Function) -> None:
        self.gateway, self.api, self.model, self.function = gateway, api, model, function

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            reply = await self.function(Call(self.gateway, self.api, self.model, scope))
        except ApiError as error:
            reply = Reply.error(error)
        await send_reply(send, reply)


async def send_reply(send: Send, reply: Reply) -> None:
    """Send a reply as one ASGI response."""
    headers = reply.headers
    if reply.body is not None:
        headers = [JSON, (b"content-length", str(len(reply.body)).encode()), *headers]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body or b""})


class DispatchApi(RoutedAPI[Endpoint]):
    """The endpoints of one API."""

    def __init__(self, *args: Any, model: ApiModel, gateway: Gateway, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.model, self.gateway = model, gateway
        self.add_paths()

    def make_operation(self, operation: AbstractOperation) -> Endpoint:
        model = self.model.operations[operation.operation_id]
        return Endpoint(self.gateway, self.model, model, operation.function)


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """Paths the specs do not define (TMF630: unknown path is a 404 with an Error body)."""
    if scope["type"] == "http":
        error = NotFound(f"There is no resource at {scope.get('path', '')}; check the path and the API version.")
        await send_reply(send, Reply.error(error))


class Dispatcher(TableRoutedMiddleware[DispatchApi]):
    """Innermost app of the connexion stack: routes by operationId to the endpoints."""

    api_cls = DispatchApi

    def __init__(self) -> None:
        super().__init__(not_found)
