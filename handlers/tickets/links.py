"""A ticket's links to the rest of the house: each ``relatedEntity`` and ``relatedParty`` must exist.

A related entity's ``@referredType`` names its kind: products (TMF637), services (TMF638), resources
(TMF639, also as LogicalResource or PhysicalResource), alarms (TMF642), product and service orders
(TMF622, TMF641), bills (TMF678) and other tickets. A related party is a customer (TMF629) or an
individual or organization (TMF632). A link to an id the store lacks, or of a type tmfgate keeps
nothing of, is a 400 naming it, so no ticket points nowhere.
"""

from __future__ import annotations

from collections.abc import Mapping

from backends.base import Transaction
from tmfgate import documents
from tmfgate.calls import Call
from tmfgate.errors import BadRequest
from tmfgate.security.tenancy import visible
from tmfgate.types import Document

ENTITY_KINDS: Mapping[str, str] = {
    "Product": "product",
    "Service": "service",
    "Resource": "resource",
    "LogicalResource": "resource",
    "PhysicalResource": "resource",
    "Alarm": "alarm",
    "ProductOrder": "productOrder",
    "ServiceOrder": "serviceOrder",
    "CustomerBill": "customerBill",
    "TroubleTicket": "troubleTicket",
}
PARTY_KINDS: Mapping[str, str] = {"Customer": "customer", "Individual": "individual", "Organization": "organization"}


async def check(tx: Transaction, call: Call, ticket: Document, old: Document | None = None) -> None:
    """400 unless every link of ``ticket`` resolves among what the caller may see (tenancy: another
    partner's product is as unknown as a missing one); links unchanged since ``old`` are not looked up again."""
    for attribute, kinds in (("relatedEntity", ENTITY_KINDS), ("relatedParty", PARTY_KINDS)):
        known = (old or {}).get(attribute, [])
        for link in ticket.get(attribute, []):
            if link not in known:
                await _resolve(tx, call, attribute, link, kinds)


async def _resolve(tx: Transaction, call: Call, attribute: str, link: Document, kinds: Mapping[str, str]) -> None:
    referred = link.get("@referredType")
    kind = kinds.get(str(referred))
    if kind is None:
        raise BadRequest(
            f"{attribute} {link.get('id')} is a {referred}, of which tmfgate keeps nothing; "
            f"a ticket links to a {', '.join(kinds)}."
        )
    if await documents.get(tx, kind, str(link.get("id")), owners=visible(call, kind)) is None:
        raise BadRequest(f"{attribute} {link.get('id')}: no {referred} with this id exists.")
