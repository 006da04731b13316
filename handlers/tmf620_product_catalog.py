"""TMF620 Product Catalog (read-only): offerings, prices and product specifications from the catalog file."""

from __future__ import annotations

from handlers import catalog
from tmfgate.extensions import Handlers
from tmfgate.gateway import Gateway

handlers = Handlers("tmf620_product_catalog", api="tmf620_product_catalog")


@handlers.configuration
def configure(gateway: Gateway) -> None:
    """Read and check the catalog file at start-up."""
    catalog.check(gateway, ("productOffering", "productOfferingPrice", "productSpecification"))


@handlers.startup
async def on_start(gateway: Gateway) -> None:
    """Serve what the catalog file holds (setting ``catalog``)."""
    await catalog.seed(gateway, ("productOffering", "productOfferingPrice", "productSpecification"))
