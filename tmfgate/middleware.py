"""The outermost ASGI layer: whatever goes wrong below becomes a TMF ``Error`` body with the right
status, and never a stack trace (TMF630 error resource)."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from backends.base import Refused, StorageUnavailable, UnstorableDocument, Unsupported
from tmfgate.calls import Reply
from tmfgate.endpoints import send_reply
from tmfgate.errors import (
    ApiError,
    BadRequest,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    UnsupportedMediaType,
)

log = logging.getLogger("tmfgate")

_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    404: NotFound,
    405: MethodNotAllowed,
    415: UnsupportedMediaType,
}


def as_api_error(exc: Exception) -> tuple[ApiError, list[tuple[bytes, bytes]]]:
    """The TMF error for any exception, with extra headers (``Allow`` on a 405)."""
    if isinstance(exc, ApiError):
        return exc, list(exc.headers)
    if isinstance(exc, HTTPException):
        cls = _BY_STATUS.get(exc.status_code, ApiError)
        detail = str(exc.detail or "")
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            detail = f"This method is not defined for this path; allowed: {allowed or 'none'}."
        error = cls(detail or "The request cannot be served.")
        if cls is ApiError:
            error.status = exc.status_code  # type: ignore[misc]
        headers = [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
        return error, headers
    if isinstance(exc, UnstorableDocument):
        # The driver's text names the DBMS and echoes the request (F-19): logged, never answered.
        log.warning("unstorable document: %s", exc)
        return BadRequest("The request holds a value that this store cannot keep."), []
    if isinstance(exc, StorageUnavailable | Refused | Unsupported):
        return _storage_error(exc)
    log.exception("unexpected error")
    return ApiError("The gateway met an unexpected error; it has been logged."), []


def _storage_error(exc: StorageUnavailable | Refused | Unsupported) -> tuple[ApiError, list[tuple[bytes, bytes]]]:
    """A store's refusal or outage with its status: a remote store's 4xx kept, 501, 502, 503, 504."""
    if isinstance(exc, Refused):
        error = ApiError(str(exc), code=str(exc.status), reason=exc.reason or "Refused by the upstream system")
        error.status = exc.status  # type: ignore[misc]
        return error, []
    if isinstance(exc, Unsupported):
        error = ApiError(str(exc), code="1", reason="Not implemented")
        error.status = 501  # type: ignore[misc]
        return error, []
    log.error("store unavailable: %s", exc)
    if not exc.told:
        return ServiceUnavailable("The store is unavailable; try again shortly."), []
    error = ServiceUnavailable(str(exc), reason={502: "Bad gateway", 504: "Gateway timeout"}.get(exc.status))
    error.status = exc.status  # type: ignore[misc]
    retry = [] if exc.retry_after is None else [(b"retry-after", str(max(1, round(exc.retry_after))).encode())]
    return error, retry


class ErrorMiddleware:
    """Turns every exception into a TMF ``Error`` response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except Exception as exc:  # noqa: BLE001 - this is the last line of defence
            error, headers = as_api_error(exc)
            try:
                await send_reply(send, Reply(error.status, orjson.dumps(error.body()), headers))
            except Exception:  # noqa: BLE001 - ASGI servers refuse a second start: the response had begun
                # Too late for an error body; the connection just ends. (Asking the server rather
                # than wrapping ``send`` to track it keeps a closure off every request.)
                log.error("error after the response started: %r", exc)
