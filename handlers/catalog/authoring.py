"""Catalog entries written through TMF620 and TMF633: lifecycle, versions and references checked.

The catalog is the provider's: every partner reads it (the specs mark the APIs shared), only the back
office (scope ``tmfgate:all``, or any caller without authentication) writes it, and what it writes
belongs to no partner. An entry starts inDesign unless the create says otherwise; its
``lifecycleStatus`` moves only along :data:`handlers.catalog.lifecycle.ENTRIES` (409); a change to an
entry on sale makes its next ``version``; an entry on sale is retired before it is deleted (409).
Every reference an entry holds must name a stored entry (400), and every price on sale or in an
offering be one billing can charge (400), so capture, fulfilment and billing never meet a dangling or
unchargeable one. A changed recurring price applies to the products sold already from the next month
(:mod:`handlers.billing.repricing`). ``lastUpdate`` is the author's (TMF620 puts it in the create and update bodies); a
create without one gets the time of the create.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from backends.base import Transaction, where
from handlers.billing import prices, repricing
from handlers.catalog import lifecycle, loading, snapshots
from handlers.usage import tariffs
from tmfgate import documents, operations, times
from tmfgate.calls import Call, Reply
from tmfgate.errors import BadRequest, Conflict, Forbidden
from tmfgate.types import Document

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

# The references each kind holds: attribute, kind referred to (a list, or one reference).
REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "catalog": (("category", "category"),),
    "category": (("subCategory", "category"), ("productOffering", "productOffering")),
    "productOffering": (
        ("productSpecification", "productSpecification"),
        ("productOfferingPrice", "productOfferingPrice"),
        ("bundledProductOffering", "productOffering"),
        ("category", "category"),
    ),
    "productOfferingPrice": (),
    "productSpecification": (("serviceSpecification", "serviceSpecification"),),
    "serviceCatalog": (("category", "serviceCategory"),),
    "serviceCategory": (("category", "serviceCategory"), ("serviceCandidate", "serviceCandidate")),
    "serviceCandidate": (("serviceSpecification", "serviceSpecification"), ("category", "serviceCategory")),
    "serviceSpecification": (("serviceSpecRelationship", "serviceSpecification"),),
}


@dataclass(frozen=True)
class Provider:
    """The provider as the author of a catalog change: its entries belong to no partner."""

    call: Call

    @property
    def gateway(self) -> Gateway:
        return self.call.gateway

    @property
    def correlation_id(self) -> str:
        return self.call.correlation_id

    @property
    def owner(self) -> str | None:
        return None


async def create(call: Call) -> Reply:
    """``POST``: a new entry, inDesign unless given, version 1.0 unless given."""
    _authorised(call)
    kind = call.resource.kind
    entry = operations.new_document(call, call.body)
    entry["lifecycleStatus"] = lifecycle.status(entry)
    entry.setdefault("version", "1.0")
    entry.setdefault("lastUpdate", times.now())
    async with call.gateway.transaction() as tx:
        await _check(tx, call, kind, entry)
        raw = await operations.write_new(tx, Provider(call), kind, entry)
        await snapshots.mark(tx)
    return Reply.created(raw, entry["href"])


async def patch(call: Call) -> Reply:
    """``PATCH``: a legal lifecycle move, and the next version when an entry on sale changes."""
    _authorised(call)
    kind = call.resource.kind
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        new = operations.patched(call, old)
        new["lifecycleStatus"] = lifecycle.status(new)
        lifecycle.check_move(old, new, kind)
        same_version = str(new.get("version")) == str(old.get("version"))
        if lifecycle.on_sale(old) and lifecycle.revised(old, new) and same_version:
            new["version"] = lifecycle.next_version(old.get("version"))
        await _check(tx, call, kind, new)
        if kind == "productOfferingPrice":
            await repricing.record(tx, old, new, loading.of(call.gateway).currency)
        raw = await operations.write_changed(tx, Provider(call), kind, old, new)
        await snapshots.mark(tx)
    return Reply(200, raw)


async def delete(call: Call) -> Reply:
    """``DELETE``: only an entry not on sale; 409 for one on sale."""
    _authorised(call)
    kind = call.resource.kind
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        if lifecycle.on_sale(old):
            raise Conflict(
                f"The {kind} {old['id']} is {old.get('lifecycleStatus')}: retire it (lifecycleStatus retired) "
                "before deleting it, so no order is taken for it meanwhile."
            )
        await operations.write_deleted(tx, Provider(call), kind, old)
        await snapshots.mark(tx)
    return Reply(204)


def _authorised(call: Call) -> None:
    principal = call.principal
    if principal is not None and not principal.sees_all:
        raise Forbidden(
            f"The catalog is the provider's: partner {principal.partner} may read it; changing it takes "
            "the back-office scope tmfgate:all."
        )


async def _check(tx: Transaction, call: Call, kind: str, entry: Document) -> None:
    currency = loading.of(call.gateway).currency
    for attribute, target in REFERENCES.get(kind, ()):
        value = entry.get(attribute)
        for ref in value if isinstance(value, list) else [value] if value is not None else []:
            id = ref.get("id") if isinstance(ref, dict) else None
            found = await documents.get(tx, target, id) if isinstance(id, str) else None
            if found is None:
                raise BadRequest(f"{attribute} refers to the {target} {id}, which the catalog lacks.")
            if target == "productOfferingPrice":
                _chargeable(found, currency)  # capture prices each offering from its prices
    parent = entry.get("parentId")
    nests = kind in ("category", "serviceCategory") and parent is not None
    if nests and await documents.get(tx, kind, str(parent)) is None:
        raise BadRequest(f"parentId refers to the {kind} {parent}, which the catalog lacks.")
    if kind == "productOfferingPrice" and (lifecycle.on_sale(entry) or await _priced(tx, str(entry["id"]))):
        _chargeable(entry, currency)  # a price on sale or in an offering is one an order may carry
    if kind == "productOffering" and entry.get("isBundle") and not entry.get("bundledProductOffering"):
        raise BadRequest("A bundle offering (isBundle) names its parts in bundledProductOffering.")


async def _priced(tx: Transaction, price_id: str) -> bool:
    """Whether an offering names the price."""
    return bool(await documents.find(tx, "productOffering", where("productOfferingPrice.id", eq=price_id), limit=1))


def _chargeable(price: Document, currency: str) -> None:
    """400 unless billing can charge the price (an offering's prices are copied onto its orders)."""
    try:
        if tariffs.is_usage(price):  # rated per record by usage rating (TMF635)
            tariffs.usage_price(price, currency)
        else:
            prices.catalog_charge(price, currency)
    except prices.PriceError as why:
        name = f' "{price["name"]}"' if price.get("name") else ""
        raise BadRequest(f"productOfferingPrice {price['id']}{name}: {why}") from None
