"""The catalog file seeded into an empty store, whose catalog APIs then serve and manage it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends.base import DuplicateId
from handlers import apis
from handlers.catalog import snapshots
from handlers.catalog.loading import CATALOG, load
from tmfgate import documents, times
from tmfgate.errors import BadRequest, ConfigurationError
from tmfgate.schemas import check as check_schema
from tmfgate.schemas import compile_schema
from tmfgate.types import Document

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

# The API that serves each catalog kind, and the resource pools (TMF639).
API_OF = {
    "productOffering": apis.PRODUCT_CATALOG,
    "productOfferingPrice": apis.PRODUCT_CATALOG,
    "productSpecification": apis.PRODUCT_CATALOG,
    "serviceSpecification": apis.SERVICE_CATALOG,
    "resource": apis.RESOURCE_INVENTORY,
}


def check(gateway: Gateway, kinds: tuple[str, ...]) -> None:
    """Load the catalog and check its documents of ``kinds`` against the served schemas."""
    for kind in kinds:
        _documents(gateway, kind)


async def seed(gateway: Gateway, kinds: tuple[str, ...]) -> None:
    """Give a store that holds no entry of the catalog ``kinds`` the file's; add pool resources it lacks.

    Once seeded, the catalog is managed through its APIs (:mod:`handlers.catalog.authoring`), so the
    file no longer changes it: a store with entries keeps them. Pool resources are only ever added:
    their state (reserved, in use) belongs to the inventory from then on."""
    async with gateway.transaction() as tx:
        for kind in kinds:
            if kind != "resource" and await documents.find(tx, kind, limit=1):
                return
    for kind in kinds:
        wanted = _documents(gateway, kind)
        try:
            await _store(gateway, kind, wanted)
        except DuplicateId:  # another worker, starting at the same time, seeded some first
            await _store(gateway, kind, wanted)


def _documents(gateway: Gateway, kind: str) -> list[Document]:
    """The catalog's documents of a kind as the API serves them, each checked against its schema."""
    catalog = load(gateway.settings.get(CATALOG))  # the file, whatever the store holds
    api = gateway.api(API_OF[kind])
    resource = api.resources[kind]
    validator = compile_schema(resource.schema, api.spec.document) if resource.schema else None
    if kind == "resource":
        wanted = [doc for pool in catalog.pools for doc in pool.resources()]
    else:
        wanted = list(catalog.entries[kind].values())
    found = []
    for entry in wanted:
        doc = {"id": entry["id"], "href": gateway.href(api.name, kind, entry["id"]), **entry}
        doc.setdefault("@type", resource.type_name)
        if kind != "resource":
            doc.setdefault("lastUpdate", times.now())
        if validator is not None:
            try:
                check_schema(validator, doc, what=f"{kind} {entry['id']}")
            except BadRequest as exc:
                raise ConfigurationError(f"{catalog.source}: {exc.message}") from None
        found.append(doc)
    return found


async def _store(gateway: Gateway, kind: str, wanted: list[Document]) -> None:
    async with gateway.transaction() as tx:
        for doc in wanted:
            if await documents.get(tx, kind, doc["id"]) is None:
                await documents.create(tx, kind, doc)
        if kind != "resource":
            await snapshots.mark(tx)
