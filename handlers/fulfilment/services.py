"""The service inventory (TMF638/TMF640): services kept true to their resources, by clients and activation alike.

- **Create.** A service of a specification in the catalog that starts ``active`` or ``reserved``
  gets its resources reserved from the pools (``supportingResource``), with its characteristics
  checked against the specification first: a value it does not offer is a 400, an exhausted pool a
  409, and nothing is stored. Through TMF640 the activation is also recorded as a ``monitor``.
  Services of specifications the catalog does not know are stored as given.
- **Terminate.** A service that goes ``terminated`` (by PATCH) releases its resources and gets an
  ``endDate``; ``terminated`` is final (TMF638: a terminated service is history), so changing its
  state again is a 409.
- **Delete.** Deleting a service releases its resources first.

Services the gateway itself activates (:mod:`handlers.fulfilment.service_orders`) are checked,
created active, terminated and brought back by the functions here too, inside its transaction.
"""

from __future__ import annotations

from backends.base import Transaction
from handlers.catalog import loading as catalogs
from handlers.catalog import snapshots
from handlers.fulfilment import monitors, resources
from handlers.fulfilment.failures import ActivationFailed
from handlers.notes import note
from tmfgate import codec, operations, times
from tmfgate.calls import Actor, Call, Reply
from tmfgate.errors import BadRequest, Conflict
from tmfgate.types import Document

RESERVING = frozenset({"active", "reserved"})


async def create(call: Call, *, monitored: bool) -> Reply:
    """``POST /service``: reserve what the specification needs, then store the service."""
    doc = operations.new_document(call, call.body)
    spec_id = str((doc.get("serviceSpecification") or {}).get("id", ""))
    async with call.gateway.transaction() as tx:
        if spec_id and doc.get("state") in RESERVING:
            # The catalog matters only here; its mark is read in this transaction, one statement
            # rather than a transaction of its own before it (issue 14: create on PostgreSQL).
            await snapshots.refresh(call.gateway, tx)
            spec = catalogs.of(call.gateway).service_specification(spec_id)
            if spec is not None:
                await _reserve(tx, call, doc, spec)
        if doc.get("state") == "active":
            doc.setdefault("startDate", times.now())
        raw = await operations.write_new(tx, call, "service", doc)
        if monitored:
            target = f"{call.base_url()}/service"
            await monitors.record(
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
        check_characteristics(spec, doc.get("serviceCharacteristic", []))
    except ActivationFailed as exc:
        raise BadRequest(f"The service cannot be activated: {exc}") from None
    reserved = []
    for ref in spec.get("resourceSpecification", []):
        try:
            reserved.append(await resources.reserve(tx, call, ref, doc))
        except ActivationFailed as exc:  # the transaction rolls back what was reserved before
            raise Conflict(f"The service cannot be activated: {exc}", reason="Resource pool exhausted") from None
    if reserved:
        doc["supportingResource"] = [*doc.get("supportingResource", []), *reserved]


async def patch(call: Call) -> Reply:
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
                await resources.release(tx, call, ref, old["id"])
        raw = await operations.write_changed(tx, call, "service", old, new)
    return Reply(200, raw)


async def delete(call: Call) -> Reply:
    """``DELETE /service/{id}``: the service's resources go back to their pools."""
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        if old.get("state") != "terminated":
            for ref in old.get("supportingResource", []):
                await resources.release(tx, call, ref, old["id"])
        await operations.write_deleted(tx, call, "service", old)
    return Reply(204)


def check_characteristics(spec: Document | None, given: list[Document]) -> None:
    """The specification's mandatory characteristics are there, with offered values."""
    if spec is None:
        return
    values = {str(c.get("name")): c.get("value") for c in given}
    for char in spec.get("specCharacteristic", []):
        name = str(char.get("name"))
        if name not in values:
            if int(char.get("minCardinality", 0) or 0) > 0:
                raise ActivationFailed(f"{spec.get('name')} needs the characteristic {name}.", "CHARACTERISTIC_MISSING")
            continue
        offered = [v.get("value") for v in char.get("characteristicValueSpecification", []) if "value" in v]
        if offered and str(values[name]) not in {str(v) for v in offered}:
            raise ActivationFailed(
                f"{spec.get('name')} does not offer {name} {values[name]}; the values are "
                f"{', '.join(str(v) for v in offered)}.",
                "CHARACTERISTIC_NOT_OFFERED",
            )


async def terminate(tx: Transaction, actor: Actor, old: Document, why: str) -> Document:
    """Terminate a service and release its resources."""
    new = {
        **old,
        "state": "terminated",
        "isServiceEnabled": False,
        "endDate": times.now(),
        "note": [*old.get("note", []), note(why)],
    }
    for ref in old.get("supportingResource", []):
        await resources.release(tx, actor, ref, old["id"])
    await operations.write_changed(tx, actor, "service", old, new)
    return new


async def reactivate(tx: Transaction, actor: Actor, old: Document, why: str) -> Document:
    """Bring a terminated service back (a rolled-back delete), with its resources if still free."""
    new = {**old, "state": "active", "isServiceEnabled": True, "note": [*old.get("note", []), note(why)]}
    new.pop("endDate", None)
    new["supportingResource"] = [
        ref for ref in old.get("supportingResource", []) if await resources.take_back(tx, actor, ref)
    ]
    await operations.write_changed(tx, actor, "service", old, new)
    return new
