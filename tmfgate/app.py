"""The app factory: specs in, one ASGI application out, with no import-time state.

The request path is connexion's, trimmed to what the gateway needs and built once, in this order:

    ErrorMiddleware            TMF Error bodies for everything that goes wrong
    └─ ConnexionMiddleware
       ├─ LifespanMiddleware   opens and closes the store
       ├─ DocsMiddleware       {base}/openapi.json and {base}/ui/
       ├─ FastRouting          the spec's paths -> operationId (connexion's router, plus a table)
       ├─ RequestValidation    media type, parameters, body (compiled at start-up)
       └─ Dispatcher           operationId -> handler or generic operation
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.main import ConnexionMiddleware
from connexion.options import SwaggerUIOptions

from backends.base import Backend
from tmfgate import model, specs
from tmfgate.dispatch import Dispatcher
from tmfgate.gateway import Gateway
from tmfgate.middleware import DocsMiddleware, ErrorMiddleware, FastRoutingMiddleware
from tmfgate.resolver import OperationResolver
from tmfgate.settings import Settings
from tmfgate.validation import RequestValidationMiddleware

MIDDLEWARES: list[Any] = [LifespanMiddleware, DocsMiddleware, FastRoutingMiddleware, RequestValidationMiddleware]


def create_app(
    settings: Settings | None = None, *, backend: Backend | None = None, specs_dir: Path | None = None
) -> ErrorMiddleware:
    """Build the gateway for ``settings`` (default: from the environment)."""
    settings = settings or Settings.from_env()
    logging.getLogger("tmfgate").setLevel(settings.log_level.upper())
    apis = [model.build(spec) for spec in specs.load_all(specs_dir)]
    gateway = Gateway(settings, apis, backend)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    stack = ConnexionMiddleware(
        Dispatcher(),
        middlewares=list(MIDDLEWARES),
        lifespan=lifespan,
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/ui"),
    )
    for api in apis:
        for base_path in (api.base_path, *api.spec.aliases):
            stack.add_api(
                api.spec.document,
                base_path=base_path,
                name=api.name,
                resolver=OperationResolver(api),
                model=api,
                gateway=gateway,
            )
    app = ErrorMiddleware(stack)
    app.gateway = gateway  # type: ignore[attr-defined]
    return app
