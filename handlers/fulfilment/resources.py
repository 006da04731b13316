"""The service inventory (TMF638/TMF640) and resource inventory (TMF639) as activation changes them.

Resources are reserved from the pool of their specification (TMF639: ``resourceStatus``
available -> reserved, ``usageState`` idle -> active) and released the same way back. Services
are created active, changed, or terminated. Every write goes through the core's ``write_*``
functions, so each change raises the events of every API that serves the kind, inside the
caller's transaction: an activation that fails half-way rolls back with nothing allocated.
"""

from __future__ import annotations

from typing import Any

from backends.base import Condition, Op, Query, SortKey, Transaction, ValueType
from tmfgate import codec, operations, times
from tmfgate.calls import Actor
from tmfgate.ids import new_id

Document = dict[str, Any]
RESOURCE_API = "tmf639_resource_inventory"
SERVICE_API = "tmf638_service_inventory"
ACTIVATION_API = "tmf640_service_activation"
CANDIDATES = 8  # available resources looked at per reservation; taken ones are skipped


class ActivationFailed(Exception):
    """An activation step cannot be done; the message says why, for the order's notes."""


async def reserve(tx: Transaction, actor: Actor, specification: Document, service: Document) -> Document:
    """Reserve one available resource of ``specification`` for ``service``; its ResourceRef."""
    spec_id = str(specification["id"])
    query = Query(
        conditions=(
            Condition(("resourceSpecification", "id"), Op.EQ, ValueType.STRING, (spec_id,)),
            Condition(("resourceStatus",), Op.EQ, ValueType.STRING, ("available",)),
        ),
        sort=(SortKey(("name",)),),
        limit=CANDIDATES,
    )
    taken: set[str] = set()
    while True:
        # Concurrent activations may take every candidate between the query and the lock: ask
        # again until a free one is locked or none is left (each round, the taken ones drop out).
        page = await tx.query("resource", query)
        fresh = [codec.loads(raw) for raw in page.items if codec.loads(raw)["id"] not in taken]
        if not fresh:
            break
        for candidate in fresh:
            taken.add(candidate["id"])
            locked = await tx.get("resource", candidate["id"], for_update=True)
            old = codec.loads(locked) if locked is not None else {}
            if old.get("resourceStatus") != "available":
                continue  # another activation took it between the query and the lock
            new = {
                **old,
                "resourceStatus": "reserved",
                "usageState": "active",
                "relatedParty": service.get("relatedParty", old.get("relatedParty", [])),
                "note": [*old.get("note", []), _note(f"Reserved for service {service['id']}.")],
            }
            new = {k: v for k, v in new.items() if v != []}
            await operations.write_changed(tx, actor, "resource", old, new)
            return _resource_ref(new)
    name = specification.get("name") or spec_id
    raise ActivationFailed(f"The resource pool of {name} ({spec_id}) is exhausted: no resource is available.")


async def release(tx: Transaction, actor: Actor, ref: Document, service_id: str) -> None:
    """Return a reserved resource to its pool (nothing when it is gone or already free)."""
    raw = await tx.get("resource", str(ref["id"]), for_update=True)
    if raw is None:
        return
    old = codec.loads(raw)
    if old.get("resourceStatus") == "available":
        return
    new = {
        **old,
        "resourceStatus": "available",
        "usageState": "idle",
        "note": [*old.get("note", []), _note(f"Released by service {service_id}.")],
    }
    new.pop("relatedParty", None)
    await operations.write_changed(tx, actor, "resource", old, new)


async def create_service(tx: Transaction, actor: Actor, service: Document) -> Document:
    """Store a new active service (with its id and href set by the caller's ``service``)."""
    await operations.write_new(tx, actor, "service", service)
    return service


async def locked_service(tx: Transaction, id: str) -> Document | None:
    raw = await tx.get("service", id, for_update=True)
    return None if raw is None else codec.loads(raw)


async def change_service(tx: Transaction, actor: Actor, old: Document, new: Document) -> None:
    await operations.write_changed(tx, actor, "service", old, new)


async def terminate_service(tx: Transaction, actor: Actor, old: Document, why: str) -> Document:
    """Terminate a service and release its resources."""
    new = {
        **old,
        "state": "terminated",
        "isServiceEnabled": False,
        "endDate": times.now(),
        "note": [*old.get("note", []), _note(why)],
    }
    for ref in old.get("supportingResource", []):
        await release(tx, actor, ref, old["id"])
    await operations.write_changed(tx, actor, "service", old, new)
    return new


async def reactivate_service(tx: Transaction, actor: Actor, old: Document, why: str) -> Document:
    """Bring a terminated service back (a rolled-back delete), with its resources if still free."""
    new = {**old, "state": "active", "isServiceEnabled": True, "note": [*old.get("note", []), _note(why)]}
    new.pop("endDate", None)
    kept = []
    for ref in old.get("supportingResource", []):
        raw = await tx.get("resource", str(ref["id"]), for_update=True)
        if raw is not None and codec.loads(raw).get("resourceStatus") == "available":
            resource = codec.loads(raw)
            taken = {**resource, "resourceStatus": "reserved", "usageState": "active"}
            await operations.write_changed(tx, actor, "resource", resource, taken)
            kept.append(ref)
    new["supportingResource"] = kept
    await operations.write_changed(tx, actor, "service", old, new)
    return new


def service_ref(service: Document) -> Document:
    return {"id": service["id"], "href": service["href"], "name": service.get("name", ""), "@referredType": "Service"}


def _resource_ref(resource: Document) -> Document:
    return {
        "id": resource["id"],
        "href": resource["href"],
        "name": resource.get("name", ""),
        "@referredType": resource.get("@type", "Resource"),
    }


def _note(text: str) -> Document:
    return {"author": "tmfgate", "date": times.now(), "text": text}


def check_characteristics(spec: Document | None, given: list[Document]) -> None:
    """The specification's mandatory characteristics are there, with offered values."""
    if spec is None:
        return
    values = {str(c.get("name")): c.get("value") for c in given}
    for char in spec.get("specCharacteristic", []):
        name = str(char.get("name"))
        if name not in values:
            if int(char.get("minCardinality", 0) or 0) > 0:
                raise ActivationFailed(f"{spec.get('name')} needs the characteristic {name}.")
            continue
        offered = [v.get("value") for v in char.get("characteristicValueSpecification", []) if "value" in v]
        if offered and str(values[name]) not in {str(v) for v in offered}:
            raise ActivationFailed(
                f"{spec.get('name')} does not offer {name} {values[name]}; the values are "
                f"{', '.join(str(v) for v in offered)}."
            )


async def record_monitor(
    tx: Transaction,
    actor: Actor,
    *,
    method: str,
    target: str,
    source: str,
    request: str,
    status: str,
    response: str,
    failed: bool,
) -> None:
    """A TMF640 monitor of one activation request: what was asked of the network, and its answer."""
    id = new_id()
    headers = [
        {"name": "Content-Type", "value": "application/json"},
        {"name": "X-Correlation-ID", "value": actor.correlation_id},
    ]
    await operations.write_new(
        tx,
        actor,
        "monitor",
        {
            "id": id,
            "href": actor.gateway.href(ACTIVATION_API, "monitor", id),
            "@type": "Monitor",
            "sourceHref": source,
            "state": "InError" if failed else "Completed",
            "request": {"method": method, "to": target, "body": request, "header": headers},
            "response": {"statusCode": status, "body": response, "header": headers[:1]},
        },
    )
