"""TMF639 Resource Inventory: resources, starting with the pools of the catalog file; held ones guarded."""

from __future__ import annotations

from handlers import apis
from handlers.catalog import seeding
from handlers.fulfilment import resources
from tmfgate.extensions import Handlers
from tmfgate.gateway import Gateway

handlers = Handlers(apis.RESOURCE_INVENTORY, api=apis.RESOURCE_INVENTORY)


@handlers.configuration
def configure(gateway: Gateway) -> None:
    """Read and check the catalog file at start-up."""
    seeding.check(gateway, ("resource",))


@handlers.startup
async def on_start(gateway: Gateway) -> None:
    """Add the catalog's pool resources the inventory does not hold yet (never resetting one)."""
    await seeding.seed(gateway, ("resource",))


handlers.serve("patchResource", resources.patch)
handlers.serve("deleteResource", resources.delete)
