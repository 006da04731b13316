"""The running gateway: settings, the store, and the models of the APIs it serves."""

from __future__ import annotations

import asyncio
from typing import Any

from backends import open_backend
from backends.base import Backend, BackendConfigurationError, Transaction
from tmfgate.dispatcher import EventDispatcher
from tmfgate.errors import ConfigurationError
from tmfgate.events import EventBuilder
from tmfgate.model import ApiModel, ResourceModel
from tmfgate.resolver import handler_module
from tmfgate.settings import Settings
from tmfgate.validation import Validator, compile_schema


class Gateway:
    """Shared by every request: the backend, the API models, and validators compiled at start-up."""

    def __init__(self, settings: Settings, apis: list[ApiModel], backend: Backend | None = None) -> None:
        self.settings = settings
        self.apis = apis
        self.events = {api.name: EventBuilder(api) for api in apis}
        # kind -> the (events, resource) of every API serving it: one change, each API's events.
        self._builders: dict[str, list[tuple[EventBuilder, ResourceModel]]] = {}
        for api in apis:
            for kind, resource in api.resources.items():
                if kind != "hub":
                    self._builders.setdefault(kind, []).append((self.events[api.name], resource))
        # Set after every commit, so an in-process dispatcher wakes at once instead of polling.
        self.committed = asyncio.Event()
        self.dispatcher: EventDispatcher | None = None
        self._stop_dispatching = asyncio.Event()
        self._dispatching: asyncio.Task[None] | None = None
        try:
            self.backend = backend or open_backend(settings.database_url)
        except BackendConfigurationError as exc:
            raise ConfigurationError(str(exc)) from exc
        # Handlers check their own configuration now (``configure``), so a bad catalog file stops
        # ``tmfgate serve`` before any worker starts rather than at the first request.
        for api in apis:
            module = handler_module(api.name)
            configure = getattr(module, "configure", None) if module is not None else None
            if configure is not None:
                configure(self)
        # The whole-resource schema of each patchable resource: a patched document must still
        # be a valid resource (a merge patch may null out a required attribute).
        self.resource_validators: dict[tuple[str, str], Validator] = {}
        for api in apis:
            for op in api.operations.values():
                resource = op.resource
                if op.verb == "patch" and resource.schema is not None:
                    key = (api.name, resource.kind)
                    self.resource_validators[key] = compile_schema(resource.schema, api.spec.document)

    def event_builders(self, kind: str) -> list[tuple[EventBuilder, ResourceModel]]:
        """The event builders, and their resource models, of the APIs that serve ``kind``."""
        return self._builders.get(kind, [])

    def api(self, name: str) -> ApiModel:
        """The model of a served API by spec name; ConfigurationError when it is not served."""
        for api in self.apis:
            if api.name == name:
                return api
        raise ConfigurationError(f"The API {name} is not served: its spec is missing from specs/.")

    def href(self, api: str, kind: str, id: str) -> str:
        """The absolute href of a resource made outside a request (settings.public_url)."""
        return f"{self.settings.base_url}{self.api(api).base_path}/{kind}/{id}"

    def transaction(self) -> UnitOfWork:
        """A unit of work on the store; on commit, wakes the event dispatcher."""
        return UnitOfWork(self)

    async def start(self) -> None:
        """Open the store, let each API's handlers prepare it (``on_start``: the catalog, resource
        pools), and unless ``dispatcher`` is off, start delivering events in this process."""
        await self.backend.open()
        for api in self.apis:
            module = handler_module(api.name)
            prepare = getattr(module, "on_start", None) if module is not None else None
            if prepare is not None:
                await prepare(self)
        if self.settings.dispatcher:
            # Made on the serving loop: an asyncio.Event belongs to the first loop that waits on it.
            self.committed = asyncio.Event()
            self.dispatcher = EventDispatcher.for_gateway(self)
            self._stop_dispatching = asyncio.Event()
            self._dispatching = asyncio.create_task(
                self.dispatcher.run(self._stop_dispatching), name="tmfgate-dispatcher"
            )

    async def stop(self) -> None:
        """Stop the dispatcher (in-flight deliveries get a moment to finish), then close the store."""
        if self._dispatching is not None:
            self._stop_dispatching.set()
            await self._dispatching
            self._dispatching = None
        if self.dispatcher is not None:
            await self.dispatcher.close()
            self.dispatcher = None
        await self.backend.close()


class UnitOfWork:
    """``async with gateway.transaction() as tx``: the store's transaction, then a wake-up for the
    dispatcher once it has committed. A class rather than a generator: this wraps every write."""

    __slots__ = ("gateway", "inner")

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.inner = gateway.backend.transaction()

    async def __aenter__(self) -> Transaction:
        return await self.inner.__aenter__()

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> bool:
        suppressed = await self.inner.__aexit__(kind, error, trace)
        if kind is None:
            self.gateway.committed.set()
        return bool(suppressed)
