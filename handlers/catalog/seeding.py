"""The catalog file seeded into the store, whose catalog APIs then serve it with the core's filters and paging."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends.base import DuplicateId
from handlers import apis
from handlers.catalog.loading import of
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
    """Make the store's catalog ``kinds`` what the file says; add pool resources the store lacks.

    Catalog kinds are read-only through the API, so the file is the truth: entries are added,
    replaced when they differ, removed when the file drops them. Pool resources are only ever
    added: their state (reserved, in use) belongs to the inventory from then on."""
    for kind in kinds:
        wanted = _documents(gateway, kind)
        try:
            await _store(gateway, kind, wanted, replace=kind != "resource")
        except DuplicateId:  # another worker, starting at the same time, seeded some first
            await _store(gateway, kind, wanted, replace=kind != "resource")


def _documents(gateway: Gateway, kind: str) -> list[Document]:
    """The catalog's documents of a kind as the API serves them, each checked against its schema."""
    catalog = of(gateway)
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


async def _store(gateway: Gateway, kind: str, wanted: list[Document], *, replace: bool) -> None:
    async with gateway.transaction() as tx:
        existing = {doc["id"]: doc for doc in await documents.find(tx, kind)} if replace else {}
        for doc in wanted:
            stored = existing.pop(doc["id"], None) if replace else await documents.get(tx, kind, doc["id"])
            if stored is None:
                await documents.create(tx, kind, doc)
            elif replace and _content(stored) != _content(doc):
                await documents.replace(tx, kind, doc)
        for id in existing:
            await tx.delete(kind, id)


def _content(doc: Document) -> Document:
    return {k: v for k, v in doc.items() if k not in ("href", "lastUpdate")}
