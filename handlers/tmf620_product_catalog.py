"""TMF620 Product Catalog: catalogs, categories, offerings, prices and product specifications, managed.

The rules of writing entries are in :mod:`handlers.catalog.authoring`; the catalog file seeds an
empty store (:mod:`handlers.catalog.seeding`), and capture and fulfilment read the store's catalog
(:mod:`handlers.catalog.snapshots`).
"""

from __future__ import annotations

from handlers import apis
from handlers.catalog import authoring, seeding, snapshots
from tmfgate.extensions import Handlers
from tmfgate.gateway import Gateway

handlers = Handlers(apis.PRODUCT_CATALOG, api=apis.PRODUCT_CATALOG)
KINDS = ("productOffering", "productOfferingPrice", "productSpecification")
MANAGED = ("Catalog", "Category", "ProductOffering", "ProductOfferingPrice", "ProductSpecification")

for _name in MANAGED:
    handlers.serve(f"create{_name}", authoring.create)
    handlers.serve(f"patch{_name}", authoring.patch)
    handlers.serve(f"delete{_name}", authoring.delete)


@handlers.configuration
def configure(gateway: Gateway) -> None:
    """Read and check the catalog file at start-up."""
    seeding.check(gateway, KINDS)


@handlers.startup
async def on_start(gateway: Gateway) -> None:
    """Seed an empty store from the catalog file (setting ``catalog``), then use the store's catalog."""
    await seeding.seed(gateway, KINDS)
    await snapshots.refresh(gateway)
