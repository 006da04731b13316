"""The resource pools (TMF639): resources reserved for services and released back.

A reservation takes an available resource of the service's resource specification (``resourceStatus``
available -> reserved, ``usageState`` idle -> active); a release gives it back the same way. Every
write goes through the core's ``write_*`` functions, inside the caller's transaction: an activation
that fails half-way rolls back with nothing allocated. A client cannot free or delete a resource a
service holds (409 naming the services): it goes back only through the service's termination.
"""

from __future__ import annotations

from backends.base import Transaction, where
from handlers.fulfilment.failures import ActivationFailed
from handlers.notes import note
from tmfgate import documents, operations
from tmfgate.calls import Actor, Call, Reply
from tmfgate.errors import Conflict
from tmfgate.security.tenancy import acting_for
from tmfgate.types import Document

CANDIDATES = 8  # available resources looked at per reservation; taken ones are skipped
_AVAILABLE = where("resourceStatus", eq="available")


async def reserve(tx: Transaction, actor: Actor, specification: Document, service: Document) -> Document:
    """Reserve one available resource of ``specification`` for ``service``; its ResourceRef."""
    spec_id = str(specification["id"])
    of_spec = where("resourceSpecification.id", eq=spec_id)
    taken: set[str] = set()
    pools = acting_for(actor, "resource", operators=True)  # the operator's and the partner's own, no other's
    while True:
        # Concurrent activations may take every candidate between the query and the lock: ask
        # again until a free one is locked or none is left (each round, the taken ones drop out).
        found = await documents.find(tx, "resource", of_spec, _AVAILABLE, sort="name", limit=CANDIDATES, owners=pools)
        fresh = [candidate for candidate in found if candidate["id"] not in taken]
        if not fresh:
            break
        for candidate in fresh:
            taken.add(candidate["id"])
            old = await documents.locked(tx, "resource", candidate["id"]) or {}
            if old.get("resourceStatus") != "available":
                continue  # another activation took it between the query and the lock
            new = {
                **old,
                "resourceStatus": "reserved",
                "usageState": "active",
                "relatedParty": service.get("relatedParty", old.get("relatedParty", [])),
                "note": [*old.get("note", []), note(f"Reserved for service {service['id']}.")],
            }
            new = {k: v for k, v in new.items() if v != []}
            await operations.write_changed(tx, actor, "resource", old, new)
            return resource_ref(new)
    name = specification.get("name") or spec_id
    raise ActivationFailed(
        f"The resource pool of {name} ({spec_id}) is exhausted: no resource is available.", "RESOURCE_POOL_EXHAUSTED"
    )


async def release(tx: Transaction, actor: Actor, ref: Document, service_id: str) -> None:
    """Return a reserved resource to its pool (nothing when it is gone or already free)."""
    old = await documents.locked(tx, "resource", str(ref["id"]))
    if old is None or old.get("resourceStatus") == "available":
        return
    new = {
        **old,
        "resourceStatus": "available",
        "usageState": "idle",
        "note": [*old.get("note", []), note(f"Released by service {service_id}.")],
    }
    new.pop("relatedParty", None)
    await operations.write_changed(tx, actor, "resource", old, new)


async def take_back(tx: Transaction, actor: Actor, ref: Document) -> bool:
    """Reserve a released resource again (a rolled-back termination); False when it has been taken."""
    resource = await documents.locked(tx, "resource", str(ref["id"]))
    if resource is None or resource.get("resourceStatus") != "available":
        return False
    taken = {**resource, "resourceStatus": "reserved", "usageState": "active"}
    await operations.write_changed(tx, actor, "resource", resource, taken)
    return True


def resource_ref(resource: Document) -> Document:
    """A ResourceRef to a stored resource."""
    return {
        "id": resource["id"],
        "href": resource["href"],
        "name": resource.get("name", ""),
        "@referredType": resource.get("@type", "Resource"),
    }


_FREE = {"resourceStatus": "available", "usageState": "idle"}  # what a resource back in its pool reads


async def holders(tx: Transaction, resource_id: str) -> list[Document]:
    """The services not terminated that hold the resource (suspended ones keep theirs)."""
    held_by = where("supportingResource.id", eq=resource_id)
    return await documents.find(tx, "service", held_by, where("state", ne="terminated"), sort="id")


async def patch(call: Call) -> Reply:
    """``PATCH /resource/{id}``: a resource a service holds is not freed by hand (409 naming them)."""
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        new = operations.patched(call, old)
        freed = [name for name, free in _FREE.items() if new.get(name) == free and old.get(name) != free]
        if freed:
            await _refuse_if_held(tx, old, f"set {' and '.join(freed)} back to free")
        raw = await operations.write_changed(tx, call, "resource", old, new)
    return Reply(200, raw)


async def delete(call: Call) -> Reply:
    """``DELETE /resource/{id}``: a resource a service holds stays (409 naming them)."""
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        await _refuse_if_held(tx, old, "deleted")
        await operations.write_deleted(tx, call, "resource", old)
    return Reply(204)


async def _refuse_if_held(tx: Transaction, resource: Document, what: str) -> None:
    held = await holders(tx, str(resource["id"]))
    if held:
        names = ", ".join(f"{s['id']} ({s.get('name', 'unnamed')}, {s.get('state')})" for s in held)
        raise Conflict(
            f"Resource {resource['id']} cannot be {what}: the services {names} hold it. It goes back to its "
            "pool when they are terminated (a delete order of their product, or PATCH state terminated).",
            reason="Resource in use",
        )
