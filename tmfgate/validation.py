"""Request validation from the spec: media type, typed query parameters and body, per operation.

Connexion's own validation builds its validators for every request and validates with jsonschema;
here each operation gets its validators once, at start-up, parses the body once with orjson and
hands it to the endpoint in the ASGI scope (``tmfgate.calls.BODY``), within the body limits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tmfgate import codec
from tmfgate.calls import BODY, MEDIA_TYPE
from tmfgate.errors import BadRequest, InvalidQuery, PayloadTooLarge, UnsupportedMediaType
from tmfgate.model import ApiModel, OperationModel
from tmfgate.schemas import check, compile_schema
from tmfgate.settings import Settings


class OperationValidator:
    """Validates one operation's media type, query parameters and body, then calls the next app."""

    def __init__(self, next_app: ASGIApp, api: ApiModel, model: OperationModel, settings: Settings) -> None:
        self.next_app = next_app
        self.max_body = settings.max_body_size
        self.max_depth = settings.max_json_depth
        self.required = model.body_required
        self.bodies = {media: compile_schema(s, api.spec.document) for media, s in model.bodies.items()}
        self.merge_patch = model.verb == "patch"
        self.params = _param_checks(api, model)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.params and scope.get("query_string"):
            self._check_params(scope["query_string"].decode("latin-1"))
        if self.bodies:
            await self._check_body(scope, receive)
        await self.next_app(scope, receive, send)

    async def _check_body(self, scope: Scope, receive: Receive) -> None:
        media = _media_type(scope)
        if media is None:
            # A body without a Content-Type is no JSON a client declared: a browser sends one
            # cross-site without a CORS preflight (F-18), so it is refused rather than guessed.
            raw = await read_body(receive, self.max_body, _content_length(scope))
            if raw.strip():
                raise UnsupportedMediaType(f"A request body needs a Content-Type; use {', '.join(self.bodies)}.")
        else:
            validator = self.bodies.get(media)
            if validator is None:
                accepted = ", ".join(self.bodies)
                raise UnsupportedMediaType(f"The media type {media} is not accepted here; use {accepted}.")
            raw = await read_body(receive, self.max_body, _content_length(scope))
        if not raw.strip():
            if self.required:
                raise BadRequest("A request body is required.", code="21", reason="Missing body")
            return
        media = media or ""
        try:
            body = codec.loads(raw, max_depth=self.max_depth)
        except codec.JSONDecodeError as exc:
            raise BadRequest(f"The request body is not valid JSON: {exc}.") from None
        # RFC 7396: in a merge patch null removes an attribute, so nulls are not typed values;
        # the patched resource is validated as a whole afterwards.
        if b"\\u0000" in raw and has_nul(body):
            raise BadRequest("The request body holds a NUL character (\\u0000), which cannot be stored.")
        check(self.bodies[media], without_nulls(body) if self.merge_patch and "json-patch" not in media else body)
        scope[BODY] = body
        scope[MEDIA_TYPE] = media

    def _check_params(self, query: str) -> None:
        for name, value in parse_qsl(query, keep_blank_values=True):
            test = self.params.get(name)
            if test is not None:
                test(value)


def has_nul(value: Any) -> bool:
    """Whether a NUL character appears in any key or string (PostgreSQL JSONB cannot store one)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in key or has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    return False


def without_nulls(value: Any) -> Any:
    """A merge patch without the null members that remove attributes (RFC 7396): in objects only, as an
    array replaces the stored one whole and a null inside it is a value like any other."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return value


def _media_type(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"content-type":
            media: str = value.decode("latin-1")
            return media.split(";", 1)[0].strip().lower()
    return None


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def read_body(receive: Receive, limit: int | None = None, declared: int | None = None) -> bytes:
    """The whole request body from the ASGI receive channel; 413 past ``limit`` bytes, read no further."""
    if limit is not None and declared is not None and declared > limit:
        raise _too_large(limit)
    message = _received(await receive())
    if not message.get("more_body", False):  # the usual case: one message holds it all
        body: bytes = message.get("body", b"")
        if limit is not None and len(body) > limit:
            raise _too_large(limit)
        return body
    chunks = [message.get("body", b"")]
    size = len(chunks[0])
    while message.get("more_body", False):
        message = _received(await receive())
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if limit is not None and size > limit:
            raise _too_large(limit)
    return b"".join(chunks)


def _received(message: Message) -> Message:
    """A part of the body; a client gone before the end (or timed out) sent no request to serve."""
    if message["type"] == "http.disconnect":
        raise BadRequest("The client went away before sending the whole body.")
    return message


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than this gateway takes ({limit} bytes).")


def _param_checks(api: ApiModel, model: OperationModel) -> dict[str, Callable[[str], None]]:
    """Converters for the declared typed query parameters (``offset``, ``limit``)."""
    operation = api.spec.document["paths"][model.path][model.method]
    checks: dict[str, Callable[[str], None]] = {}
    for parameter in operation.get("parameters", []):
        parameter = api.schemas.resolve(parameter)
        schema = parameter.get("schema", {})
        if parameter.get("in") == "query" and schema.get("type") == "integer":
            checks[parameter["name"]] = _integer_check(parameter["name"], schema.get("minimum"))
    return checks


def _integer_check(name: str, minimum: int | None) -> Callable[[str], None]:
    def test(value: str) -> None:
        try:
            number = int(value)
        except ValueError:
            raise InvalidQuery(f"The query parameter {name} must be an integer, not {value!r}.") from None
        if minimum is not None and number < minimum:
            raise InvalidQuery(f"The query parameter {name} must be at least {minimum}.")

    return test
