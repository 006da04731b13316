"""The gateway as handlers see it: its settings, the APIs it serves, the store and its events."""

from __future__ import annotations

import asyncio
from contextvars import Token
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import set_span_in_context

from backends import open_backend
from backends.base import Backend, BackendConfigurationError, Transaction
from backends.routed import RoutedBackend
from tmfgate import configuration, upstreams
from tmfgate.errors import ConfigurationError
from tmfgate.events import EventLog
from tmfgate.metrics import WorkTally
from tmfgate.model import ApiModel, read_only_kinds
from tmfgate.security.guard import Security
from tmfgate.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from tmfgate.tracing import Tracing


class Gateway:
    """Shared by every request and reaction of one process."""

    def __init__(self, settings: Settings, apis: list[ApiModel], backend: Backend | None = None) -> None:
        self.settings = settings
        self.apis = apis
        self.events = EventLog(apis)
        self.security = Security(settings)
        self.shared_kinds = read_only_kinds(apis)  # read by every partner (tmfgate.security.tenancy)
        # Set after every commit, so an in-process delivery worker wakes at once instead of polling.
        self.committed = asyncio.Event()
        self.work = WorkTally()  # what the delivery worker does, for /metrics
        self.tracing: Tracing | None = None  # set when --otlp-endpoint asks for spans
        self.routing = configuration.routing(settings, apis)
        try:
            local = backend or open_backend(
                settings.database_url, pool_size=settings.pool_size, migrate=settings.migrates
            )
        except BackendConfigurationError as exc:
            raise ConfigurationError(str(exc)) from exc
        self.backend = upstreams.routed(local, settings, apis, self.routing)

    def api(self, name: str) -> ApiModel:
        """The model of a served API by spec name; ConfigurationError when it is not served."""
        for api in self.apis:
            if api.name == name:
                return api
        raise ConfigurationError(f"The API {name} is not served: its spec is missing from specs/.")

    def serves(self, name: str) -> bool:
        return any(api.name == name for api in self.apis)

    def kept_elsewhere(self, kind: str) -> bool:
        """Whether documents of ``kind`` live in another system (upstream, adapter), whose own rules
        carry them on: the gateway's reactions then follow them rather than work on them."""
        return isinstance(self.backend, RoutedBackend) and kind in self.backend.routes

    def href(self, api: str, kind: str, id: str) -> str:
        """The absolute href of a resource made outside a request (``public_url``)."""
        return f"{self.settings.base_url}{self.api(api).base_path}/{kind}/{id}"

    def transaction(self) -> UnitOfWork:
        """A unit of work on the store; on commit, wakes the delivery worker."""
        return UnitOfWork(self)


class UnitOfWork:
    """``async with gateway.transaction() as tx``: the store's transaction, then a wake-up for the
    delivery worker once it has committed. A class rather than a generator: this wraps every write."""

    __slots__ = ("gateway", "inner", "span", "token")

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.inner = gateway.backend.transaction()
        self.span: Span | None = None
        self.token: Token[Context] | None = None

    async def __aenter__(self) -> Transaction:
        if self.gateway.tracing is not None:  # a child of the request's (or the reaction's) span
            self.span = self.gateway.tracing.store()
            # Current while the transaction runs, so the events it writes are recorded on it (tracing.wrote).
            self.token = otel_context.attach(set_span_in_context(self.span))
        return await self.inner.__aenter__()

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> bool:
        try:
            suppressed = await self.inner.__aexit__(kind, error, trace)
        finally:
            if self.span is not None:
                if self.token is not None:
                    otel_context.detach(self.token)
                self.span.set_attribute("tmfgate.committed", kind is None)
                self.span.end()
        if kind is None:
            self.gateway.committed.set()
        return bool(suppressed)
