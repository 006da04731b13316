"""One gateway process: the gateway, the extensions at work in it, and its delivery worker."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from backends.base import Backend
from tmfgate import model, specs
from tmfgate.extensions import Registry
from tmfgate.gateway import Gateway
from tmfgate.links import Links
from tmfgate.model import ApiModel
from tmfgate.notifications import admin
from tmfgate.notifications.bus import EventBus
from tmfgate.notifications.delivery import DeliveryWorker
from tmfgate.notifications.reactions import internal_subscriptions
from tmfgate.settings import Settings
from tmfgate.versions import Face


def installed() -> Registry:
    """The core's own operator API and every installed extension."""
    return Registry.installed(admin.extension)


def load_apis(specs_dir: Path | None = None) -> list[ApiModel]:
    """The models of the APIs whose specs are in ``specs_dir`` (default: the shipped specs), each with
    its other versions from the folders beside them (``v5/``) as faces."""
    folder = specs_dir or specs.specs_dir()
    apis = [model.build(spec) for spec in specs.load_all(folder)]
    homes = {api.name: api for api in apis}
    for name in specs.FACE_FOLDERS:
        faces = folder / name
        if not faces.is_dir():
            continue
        table = specs.read_data(faces / specs.FACES_FILE) if (faces / specs.FACES_FILE).is_file() else {}
        links = Links()  # an href to any API with a face of this version leads to that face
        for spec in specs.load_all(faces):
            home = homes.get(spec.name)
            if home is not None:
                faced = model.build(specs.served(spec))
                faced.face = Face(home, faced, table, links)
                home.faces[spec.version] = faced
    return apis


class Runtime:
    """Builds a gateway and runs its extensions' hooks: ``configure`` now, ``on_start`` at :meth:`start`."""

    def __init__(
        self,
        settings: Settings,
        *,
        registry: Registry | None = None,
        apis: list[ApiModel] | None = None,
        backend: Backend | None = None,
        prepare: bool = True,
    ) -> None:
        registry = registry or installed()
        settings.check(registry.settings)
        apis = apis if apis is not None else load_apis()
        self.gateway = Gateway(settings, apis, backend)
        # Without ``prepare`` (an operator command on the store) no extension takes part; an API
        # answered by another system (upstream, adapter) keeps its domain rules there, so its own
        # extension stays out.
        routing = self.gateway.routing
        local = [api.name for api in apis if api.name not in routing.upstreams and api.name not in routing.adapters]
        self.registry = registry.serving(local) if prepare else Registry(())
        for extension in self.registry.extensions:
            extension.configure(self.gateway)
        self.worker: DeliveryWorker | None = None
        self.bus: EventBus | None = None
        self._stop = asyncio.Event()
        self._working: asyncio.Task[None] | None = None

    async def start(self, *, deliver: bool, transport: httpx.AsyncBaseTransport | None = None) -> None:
        """Open the store, let the extensions prepare it, and when ``deliver``, deliver events here."""
        gateway = self.gateway
        await gateway.backend.open()
        for extension in self.registry.extensions:
            await extension.on_start(gateway)
        if deliver:
            # Made on the serving loop: an asyncio.Event belongs to the first loop that waits on it.
            gateway.committed = asyncio.Event()
            internal = internal_subscriptions(gateway, self.registry)
            if gateway.settings.event_bus:
                self.bus = EventBus(gateway.settings, gateway.apis)
                internal.append(self.bus.subscription())
            self.worker = DeliveryWorker(
                gateway.settings,
                gateway.backend,
                gateway.apis,
                committed=gateway.committed,
                internal=internal,
                work=gateway.work,
                tracing=gateway.tracing,
                transport=transport,
            )
            self._stop = asyncio.Event()
            self._working = asyncio.create_task(self.worker.run(self._stop), name="tmfgate-delivery")

    async def stop(self) -> None:
        """Stop delivering (in-flight deliveries get a moment to finish), then close the store and the audit log."""
        if self._working is not None:
            self._stop.set()
            await self._working
            self._working = None
        if self.worker is not None:
            await self.worker.close()
            self.worker = None
        if self.bus is not None:
            await self.bus.close()
            self.bus = None
        await self.gateway.backend.close()
        self.gateway.security.close()
