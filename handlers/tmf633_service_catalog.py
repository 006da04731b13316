"""TMF633 Service Catalog: service catalogs, categories, candidates and specifications, managed.

Entries are written as :mod:`handlers.catalog.authoring` says, alike for both catalogs; the catalog
file's service specifications seed an empty store, and fulfilment reads the store's.
"""

from __future__ import annotations

from handlers import apis
from handlers.catalog import authoring, seeding, snapshots
from tmfgate.extensions import Handlers
from tmfgate.gateway import Gateway

handlers = Handlers(apis.SERVICE_CATALOG, api=apis.SERVICE_CATALOG)
MANAGED = ("ServiceCatalog", "ServiceCategory", "ServiceCandidate", "ServiceSpecification")

for _name in MANAGED:
    handlers.serve(f"create{_name}", authoring.create)
    handlers.serve(f"patch{_name}", authoring.patch)
    handlers.serve(f"delete{_name}", authoring.delete)


@handlers.configuration
def configure(gateway: Gateway) -> None:
    """Read and check the catalog file at start-up."""
    seeding.check(gateway, ("serviceSpecification",))


@handlers.startup
async def on_start(gateway: Gateway) -> None:
    """Seed an empty store with the catalog file's service specifications, then use the store's catalog."""
    await seeding.seed(gateway, ("serviceSpecification",))
    await snapshots.refresh(gateway)
