"""TMF620 Product Catalog (read-only): offerings, prices and product specifications from the catalog file."""

from __future__ import annotations

from handlers import apis
from handlers.catalog import seeding
from tmfgate.extensions import Handlers
from tmfgate.gateway import Gateway

handlers = Handlers(apis.PRODUCT_CATALOG, api=apis.PRODUCT_CATALOG)


@handlers.configuration
def configure(gateway: Gateway) -> None:
    """Read and check the catalog file at start-up."""
    seeding.check(gateway, ("productOffering", "productOfferingPrice", "productSpecification"))


@handlers.startup
async def on_start(gateway: Gateway) -> None:
    """Serve what the catalog file holds (setting ``catalog``)."""
    await seeding.seed(gateway, ("productOffering", "productOfferingPrice", "productSpecification"))
