"""The ASGI middlewares of the gateway that are not connexion's: errors, paths, the docs UI.

:class:`ErrorMiddleware` is the outermost layer: whatever goes wrong below becomes a TMF ``Error``
body with the right status, and never a stack trace (TMF630 error resource).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
from connexion.middleware.abstract import ROUTING_CONTEXT
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from backends.base import StorageUnavailable, UnstorableDocument
from tmfgate.dispatch import Reply, send_reply
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
        return exc, []
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
        return BadRequest(f"The request holds a value that cannot be stored: {exc}"), []
    if isinstance(exc, StorageUnavailable):
        log.error("store unavailable: %s", exc)
        return ServiceUnavailable("The store is unavailable; try again shortly."), []
    log.exception("unexpected error")
    return ApiError("The gateway met an unexpected error; it has been logged."), []


class ErrorMiddleware:
    """Turns every exception into a TMF ``Error`` response; also strips one trailing slash."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        # TMF630: accept a trailing slash on collection URLs (the kits call ".../resource/").
        if len(path) > 1 and path.endswith("/") and not path.endswith("/ui/"):
            scope = dict(scope, path=path.rstrip("/"), raw_path=path.rstrip("/").encode())
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


class DocsMiddleware(SwaggerUIMiddleware):
    """``{base}/openapi.json`` (our bundled spec) and connexion's ``{base}/ui/``.

    Connexion would serve its ref-resolved copy of the spec, which cannot be written as JSON when a
    schema is recursive (TMF622 order items hold order items), and re-validates the spec on every
    request; the bundled document is encoded once instead. API calls skip this layer quickly.
    """

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.documents: dict[str, bytes] = {}

    def add_api(self, specification: Any, base_path: str | None = None, arguments: Any = None, **kwargs: Any) -> None:
        super().add_api(specification, base_path=base_path, arguments=arguments, **kwargs)
        model = kwargs.get("model")
        if model is not None:
            self.documents[f"{model.base_path}/openapi.json"] = orjson.dumps(model.spec.document)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or "/ui" not in path and not path.endswith("/openapi.json"):
            await self.app(scope, receive, send)
        elif path in self.documents and scope["method"] in ("GET", "HEAD"):
            await send_reply(send, Reply(200, self.documents[path]))
        else:
            await super().__call__(scope, receive, send)


class FastRoutingMiddleware(RoutingMiddleware):
    """Connexion's routing step, with the spec's routes also in a table built at start-up.

    A request whose method and path match a route of the table is sent on with the same routing
    information connexion's Starlette router would attach; anything else (unknown paths, methods a
    path does not have) goes through that router as before, so its 404 and 405 answers stay.
    """

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.static: dict[tuple[str, str], tuple[str, str]] = {}
        self.templated: list[tuple[str, re.Pattern[str], str, str]] = []

    def add_api(self, specification: Any, base_path: str | None = None, arguments: Any = None, **kwargs: Any) -> None:
        super().add_api(specification, base_path=base_path, arguments=arguments, **kwargs)
        base = (base_path or "").rstrip("/")
        for path, item in specification.raw.get("paths", {}).items():
            for method, operation in item.items():
                if not isinstance(operation, dict) or "operationId" not in operation:
                    continue
                route = (method.upper(), base, operation["operationId"])
                if "{" not in path:
                    self.static[(route[0], base + path)] = (base, route[2])
                else:
                    pattern = re.escape(base) + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
                    self.templated.append((route[0], re.compile(pattern + "$"), base, route[2]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            found = self.static.get((method, path))
            params: dict[str, str] = {}
            if found is None:
                for route_method, pattern, base, operation_id in self.templated:
                    match = pattern.match(path) if route_method == method else None
                    if match:
                        found, params = (base, operation_id), match.groupdict()
                        break
            if found is not None:
                # The scope is this request's own, so it is completed in place, as Starlette's
                # router does, rather than copied with its extensions for every request.
                if params:
                    scope["path_params"] = {**scope.get("path_params", {}), **params}
                else:
                    scope.setdefault("path_params", {})
                extensions = scope.get("extensions")
                if extensions is None:
                    extensions = scope["extensions"] = {}
                extensions[ROUTING_CONTEXT] = {"api_base_path": found[0], "operation_id": found[1]}
                await self.app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
