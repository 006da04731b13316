"""The core's own paths, beside the APIs: ``/metrics`` (Prometheus), ``/health/live`` and
``/health/ready``; and every other request timed and counted by API, operation and status, and
logged with its correlation id when logs are JSON. ``tmfgate dispatch`` serves the same paths alone
on ``--metrics-port`` (:func:`serve_metrics`).

They are the gateway's own, not a TMF API's, so they are answered here, before the specs' routes:
no spec defines them, and no TMF path can clash (those start with ``/tmf-api/``). ``/metrics`` tells
how the gateway is used, so it answers the clients the operator API does (loopback, ``admin_hosts``);
the health paths answer anyone, as a load balancer must reach them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from connexion.middleware.abstract import ROUTING_CONTEXT
from opentelemetry.sdk.trace.export import SpanExporter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tmfgate import health, logs, tracing
from tmfgate.calls import Reply
from tmfgate.endpoints import send_reply
from tmfgate.errors import ConfigurationError, Forbidden, NotFound
from tmfgate.gateway import Gateway
from tmfgate.ids import new_id
from tmfgate.metrics import CONTENT_TYPE, Metrics
from tmfgate.middleware import ErrorMiddleware
from tmfgate.notifications.admin import admits
from tmfgate.tracing import Tracing

Answer = Callable[[Scope], Awaitable[Reply]]
_CORRELATION = (b"x-correlation-id", b"x-request-id")
_UNROUTED = {"api_base_path": "", "operation_id": "none"}


class ObservabilityMiddleware:
    """Answers the core's own paths, and observes every other request on its way through ``app``."""

    def __init__(self, app: ASGIApp, gateway: Gateway, metrics: Metrics | None, tracing: Tracing | None = None) -> None:
        self.app = app
        self.gateway = gateway
        self.metrics = metrics
        self.tracing = tracing
        settings = gateway.settings
        requests_logged = settings.log_format == "json" and logging.getLogger(logs.REQUESTS).isEnabledFor(logging.INFO)
        self.log = logs.RequestLines() if requests_logged else None
        self.paths: dict[str, Answer] = {}
        if settings.health:
            self.paths.update({"/health/live": self._live, "/health/ready": self._ready})
        if metrics is not None:
            self.paths["/metrics"] = self._metrics
        # The API each base path serves, every version and alias: the label of its requests.
        self.apis = {"": "none"}
        for api in gateway.apis:
            for faced in (api, *api.faces.values()):
                for base in (faced.base_path, *faced.spec.aliases):
                    self.apis[base.rstrip("/")] = api.name

    @property
    def observing(self) -> bool:
        return self.metrics is not None or self.log is not None or self.tracing is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answer = self.paths.get(scope["path"])
        if answer is not None and scope["method"] in ("GET", "HEAD"):
            await send_reply(send, await answer(scope))
            return
        if not self.observing:
            await self.app(scope, receive, send)
            return
        await self._observed(scope, receive, send)

    async def _observed(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500
        # Routing fills this dict in place (tmfgate.routing), so the operation is known here afterwards.
        extensions = scope.get("extensions")
        if extensions is None:
            extensions = scope["extensions"] = {}
        correlation = _correlation(scope) if self.log is not None or self.tracing is not None else ""

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        spanning = (
            self.tracing.request(scope["method"], scope["path"], scope["headers"])
            if self.tracing is not None
            else contextlib.nullcontext()
        )
        with spanning as span:
            try:
                await self.app(scope, receive, sending)
            finally:
                seconds = time.perf_counter() - started
                routed = extensions.get(ROUTING_CONTEXT) or _UNROUTED
                api = self.apis.get(routed["api_base_path"].rstrip("/"), "none")
                operation = routed["operation_id"] or "none"
                if self.metrics is not None:
                    self.metrics.observe(api, operation, status, seconds)
                if self.log is not None:
                    self.log.write(
                        correlation_id=correlation, api=api, operation=operation, status=status, seconds=seconds
                    )
                if span is not None:
                    tracing.answered(span, api=api, operation=operation, status=status, correlation_id=correlation)

    async def _live(self, scope: Scope) -> Reply:
        status, body = health.live()
        return Reply(status, orjson.dumps(body))

    async def _ready(self, scope: Scope) -> Reply:
        status, body = await health.ready(self.gateway.backend)
        return Reply(status, orjson.dumps(body))

    async def _metrics(self, scope: Scope) -> Reply:
        assert self.metrics is not None
        client = scope.get("client")
        host = str(client[0]) if client else ""
        if not admits(host, self.gateway.settings.admin_hosts):
            return Reply.error(
                Forbidden(
                    f"/metrics does not answer {host or 'this client'}; list the client address in "
                    "TMFGATE_ADMIN_HOSTS on the gateway to allow it."
                )
            )
        body = await self.metrics.exposition(self.gateway.backend)
        return Reply(200, body, media_type=CONTENT_TYPE.encode())


def _correlation(scope: Scope) -> str:
    """The request's correlation id; one is made and added to its headers when it has none, so the
    events it writes carry the id its log line shows (tmfgate.calls reads the same headers)."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key in _CORRELATION:
            return value.decode("latin-1")[:200]
    made = new_id()
    headers.append((b"x-correlation-id", made.encode()))
    return made


def observed(app: ASGIApp, gateway: Gateway, exporter: SpanExporter | None = None) -> Any:
    """``app`` behind the core's own paths and the observation of its requests, as the settings ask;
    ``app`` itself when they ask for none. ``exporter`` takes the spans instead of OTLP (tests)."""
    settings = gateway.settings
    metrics = Metrics(gateway.work) if settings.metrics else None
    spans = Tracing(settings.otlp_endpoint, exporter) if settings.otlp_endpoint else None
    gateway.tracing = spans  # the delivery worker's spans join the requests'
    if metrics is None and spans is None and not settings.health and settings.log_format != "json":
        return app
    # An error layer of its own inside, so requests are counted with the status their client gets.
    return ObservabilityMiddleware(ErrorMiddleware(app), gateway, metrics, spans)


async def serve_metrics(gateway: Gateway, address: str, stop: asyncio.Event) -> None:
    """Serve ``/metrics`` and the health paths at ``address`` (``host:port``) until ``stop`` is set: the
    endpoint of ``tmfgate dispatch``, which serves no API; every other path answers 404."""
    import uvicorn  # noqa: PLC0415 - the dispatcher's only HTTP server

    host, _, port = address.rpartition(":")
    try:
        listening = socket.create_server((host, int(port)), family=_family(host))
    except OSError as exc:
        raise ConfigurationError(
            f"--metrics-port {address} cannot be listened on ({exc.strerror or exc}); give a free port."
        ) from None
    app = ObservabilityMiddleware(_not_found, gateway, Metrics(gateway.work))
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, server_header=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stopping.cancel()
        await serving
        listening.close()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await send_reply(send, Reply.error(NotFound(f"tmfgate dispatch serves /metrics only, not {scope['path']}.")))


__all__ = ["ObservabilityMiddleware", "observed", "serve_metrics"]
