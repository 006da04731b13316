"""Connexion's routed middlewares, with each operation also in one flat table.

Connexion's :class:`RoutedMiddleware` finds the operation of a routed request by looking up the
APIs of its base path and then, API by API, the operation id; the validation and dispatch layers
both do so on every request. Here the operations are also kept by ``(base path, operation id)``
as the APIs are added, so a routed request is one dictionary lookup away from its operation; a
request the table does not know goes through connexion's lookup as before (and its errors).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from connexion.middleware.abstract import ROUTING_CONTEXT, RoutedAPI, RoutedMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

API = TypeVar("API", bound=RoutedAPI[Any])


class TableRoutedMiddleware(RoutedMiddleware[API], Generic[API]):
    """A routed middleware whose operations are found with one lookup."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.table: dict[tuple[str, str | None], Any] = {}

    def add_api(self, specification: Any, **kwargs: Any) -> API:
        api: API = super().add_api(specification, **kwargs)
        for operation_id, operation in api.operations.items():
            # The first API of a base path wins, as in connexion's own lookup.
            self.table.setdefault((api.base_path, operation_id), operation)
        return api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extensions = scope.get("extensions")
        context = extensions.get(ROUTING_CONTEXT) if extensions else None
        if context is not None and scope["type"] == "http":
            operation = self.table.get((context.get("api_base_path"), context.get("operation_id")))
            if operation is not None:
                await operation(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


__all__ = ["TableRoutedMiddleware"]
