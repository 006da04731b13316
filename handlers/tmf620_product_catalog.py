"""TMF620 Product Catalog (read-only): offerings, prices and product specifications from the catalog file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers import catalog

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway


def configure(gateway: Gateway) -> None:
    """Read and check the catalog file at start-up."""
    catalog.check(gateway, ("productOffering", "productOfferingPrice", "productSpecification"))


async def on_start(gateway: Gateway) -> None:
    """Serve what the catalog file holds (setting ``catalog``)."""
    await catalog.seed(gateway, ("productOffering", "productOfferingPrice", "productSpecification"))
