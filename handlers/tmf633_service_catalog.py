"""TMF633 Service Catalog (read-only): the service specifications of the catalog file."""

from __future__ import annotations

from handlers import apis
from handlers.catalog import seeding
from tmfgate.extensions import Handlers
from tmfgate.gateway import Gateway

handlers = Handlers(apis.SERVICE_CATALOG, api=apis.SERVICE_CATALOG)


@handlers.configuration
def configure(gateway: Gateway) -> None:
    """Read and check the catalog file at start-up."""
    seeding.check(gateway, ("serviceSpecification",))


@handlers.startup
async def on_start(gateway: Gateway) -> None:
    """Serve the catalog file's service specifications (setting ``catalog``)."""
    await seeding.seed(gateway, ("serviceSpecification",))
