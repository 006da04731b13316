"""The app factory: specs in, one ASGI application out, with no import-time state.

The request path is connexion's, trimmed to what the gateway needs and built once, in this order:

    GatewayApp                 TMF Error bodies for everything that goes wrong (ErrorMiddleware)
    └─ Observability           /metrics, /health/live, /health/ready; each request counted, timed, logged
    └─ ListenerMiddleware      notifications of upstream hubs (only when an API is routed upstream)
    └─ GatewayMiddleware       connexion's, each spec checked once per process
       ├─ LifespanMiddleware   opens and closes the store, runs the delivery worker
       ├─ DocsMiddleware       {base}/openapi.json and {base}/ui/
       ├─ FastRouting          the spec's paths -> operationId (connexion's router, plus a table)
       ├─ Security             credentials, the operation's scope, the audit log (tmfgate.security)
       ├─ RateLimit            429 to a partner past its request rate (tmfgate.limits)
       ├─ RequestValidation    media type, parameters, body (compiled at start-up)
       └─ Endpoints            operationId -> the extension's function or the generic operation
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from connexion.middleware.lifespan import LifespanMiddleware
from connexion.options import SwaggerUIOptions

from backends.base import Backend
from tmfgate import configuration
from tmfgate.extensions import Registry
from tmfgate.gateway import Gateway
from tmfgate.limits import RateLimitMiddleware
from tmfgate.middleware import ErrorMiddleware
from tmfgate.observability import observed
from tmfgate.relay import ListenerMiddleware, Relay
from tmfgate.routing import (
    DocsMiddleware,
    EndpointMiddleware,
    FastRoutingMiddleware,
    GatewayMiddleware,
    OperationResolver,
    RequestValidationMiddleware,
    SecurityMiddleware,
)
from tmfgate.runtime import Runtime, installed, load_apis
from tmfgate.settings import Settings

MIDDLEWARES: list[Any] = [
    LifespanMiddleware,
    DocsMiddleware,
    FastRoutingMiddleware,
    SecurityMiddleware,
    RateLimitMiddleware,
    RequestValidationMiddleware,
]


class GatewayApp(ErrorMiddleware):
    """The gateway as an ASGI application, with the runtime it serves."""

    def __init__(self, stack: Any, runtime: Runtime, relay: Relay | None = None) -> None:
        super().__init__(stack)
        self.runtime = runtime
        self.relay = relay

    @property
    def gateway(self) -> Gateway:
        return self.runtime.gateway


def create_app(
    settings: Settings | None = None,
    *,
    registry: Registry | None = None,
    backend: Backend | None = None,
    specs_dir: Path | None = None,
) -> GatewayApp:
    """Build the gateway for ``settings`` (default: from the environment)."""
    registry = registry or installed()
    settings = settings or configuration.settings(registry.settings)
    logging.getLogger("tmfgate").setLevel(settings.log_level.upper())
    runtime = Runtime(settings, registry=registry, apis=load_apis(specs_dir), backend=backend)
    relay = Relay(runtime.gateway) if runtime.gateway.routing.upstreams else None

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        await runtime.start(deliver=settings.dispatcher)
        if relay is not None:
            await relay.start()
        try:
            yield
        finally:
            if relay is not None:
                await relay.stop()
            await runtime.stop()

    stack = GatewayMiddleware(
        EndpointMiddleware(),
        middlewares=list(MIDDLEWARES),
        lifespan=lifespan,
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/ui"),
    )
    served = [faced for api in runtime.gateway.apis for faced in (api, *api.faces.values())]
    for api in served:
        resolver = OperationResolver(api, runtime.registry.for_api(api.name))
        for base_path in (api.base_path, *api.spec.aliases):
            stack.add_api(
                api.spec.document,
                base_path=base_path,
                name=api.name,
                resolver=resolver,
                model=api,
                gateway=runtime.gateway,
            )
    routed = stack if relay is None else ListenerMiddleware(stack, relay)
    return GatewayApp(observed(routed, runtime.gateway), runtime, relay)
