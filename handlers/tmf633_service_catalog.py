"""TMF633 Service Catalog (read-only): the service specifications of the catalog file."""

from __future__ import annotations

from handlers import catalog
from tmfgate.extensions import Handlers
from tmfgate.gateway import Gateway

handlers = Handlers("tmf633_service_catalog", api="tmf633_service_catalog")


@handlers.configuration
def configure(gateway: Gateway) -> None:
    """Read and check the catalog file at start-up."""
    catalog.check(gateway, ("serviceSpecification",))


@handlers.startup
async def on_start(gateway: Gateway) -> None:
    """Serve the catalog file's service specifications (setting ``catalog``)."""
    await catalog.seed(gateway, ("serviceSpecification",))
