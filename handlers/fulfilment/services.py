"""Services that clients create, change and delete through TMF638 and TMF640 keep the inventory true.

- **Create.** A service of a specification in the catalog that starts ``active`` or ``reserved``
  gets its resources reserved from the pools (``supportingResource``), with its characteristics
  checked against the specification first: a value it does not offer is a 400, an exhausted pool a
  409, and nothing is stored. Through TMF640 the activation is also recorded as a ``monitor``.
  Services of specifications the catalog does not know are stored as given.
- **Terminate.** A service that goes ``terminated`` (by PATCH) releases its resources and gets an
  ``endDate``; ``terminated`` is final (TMF638: a terminated service is history), so changing its
  state again is a 409.
- **Delete.** Deleting a service releases its resources first.

Services the gateway itself activates follow the same rules (:mod:`handlers.service_activation`).
"""

from __future__ import annotations

from typing import Any

from backends.base import Transaction
from handlers import catalog as catalogs
from handlers import inventory
from handlers.inventory import ActivationFailed
from tmfgate import codec, operations, times
from tmfgate.calls import Call, Reply
from tmfgate.errors import BadRequest, Conflict

Document = dict[str, Any]
RESERVING = frozenset({"active", "reserved"})


async def create_service(call: Call, *, monitored: bool) -> Reply:
    """``POST /service``: reserve what the specification needs, then store the service."""
    doc = operations.new_document(call, call.body)
    spec_id = str((doc.get("serviceSpecification") or {}).get("id", ""))
    spec = catalogs.of(call.gateway).service_specification(spec_id)
    async with call.gateway.transaction() as tx:
        if spec is not None and doc.get("state") in RESERVING:
            await _reserve(tx, call, doc, spec)
        if doc.get("state") == "active":
            doc.setdefault("startDate", times.now())
        raw = await operations.write_new(tx, call, "service", doc)
        if monitored:
            target = f"{call.base_url()}/service"
            await inventory.record_monitor(
                tx,
                call,
                method="POST",
                target=target,
                source=doc["href"],
                request=codec.dumps(call.body).decode(),
                status="201",
                response=raw.decode(),
                failed=False,
            )
    return Reply.created(raw, doc["href"])


async def _reserve(tx: Transaction, call: Call, doc: Document, spec: Document) -> None:
    try:
        inventory.check_characteristics(spec, doc.get("serviceCharacteristic", []))
    except ActivationFailed as exc:
        raise BadRequest(f"The service cannot be activated: {exc}") from None
    reserved = []
    for ref in spec.get("resourceSpecification", []):
        try:
            reserved.append(await inventory.reserve(tx, call, ref, doc))
        except ActivationFailed as exc:  # the transaction rolls back what was reserved before
            raise Conflict(f"The service cannot be activated: {exc}", reason="Resource pool exhausted") from None
    if reserved:
        doc["supportingResource"] = [*doc.get("supportingResource", []), *reserved]


async def patch_service(call: Call) -> Reply:
    """``PATCH /service/{id}``: a termination releases the service's resources."""
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        new = operations.patched(call, old)
        if old.get("state") == "terminated" and new.get("state") != "terminated":
            raise Conflict(
                f"Service {old['id']} is terminated, and a terminated service stays so; order a new one.",
                reason="Illegal state change",
            )
        if new.get("state") == "terminated" and old.get("state") != "terminated":
            new.setdefault("endDate", times.now())
            for ref in old.get("supportingResource", []):
                await inventory.release(tx, call, ref, old["id"])
        raw = await operations.write_changed(tx, call, "service", old, new)
    return Reply(200, raw)


async def delete_service(call: Call) -> Reply:
    """``DELETE /service/{id}``: the service's resources go back to their pools."""
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        if old.get("state") != "terminated":
            for ref in old.get("supportingResource", []):
                await inventory.release(tx, call, ref, old["id"])
        await operations.write_deleted(tx, call, "service", old)
    return Reply(204)
