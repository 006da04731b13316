"""Alarms meet the inventory: the services an alarm affects, and the impact they show until it clears.

Affected services. An alarm's ``alarmedObject`` may name a TMF639 resource or a TMF638 service of
the store by id (or by an href ending in it). Its ``@referredType``, ``@type`` or ``@baseType``, or
the alarm's ``alarmedObjectType``, says which kind when it contains "service" or "resource";
otherwise the id is looked up as a service, then as a resource. A resource affects the services
whose ``supportingResource`` holds it; a service affects itself; and in both cases every service
relying on an affected one through ``supportingService`` is affected too, level by level, each
level one query in the store. Terminated services are not affected. The affected services are
added to the alarm's ``affectedService`` (the entries a client gave are kept); an alarm that says
``serviceAffecting: false`` gets none.

Impact. TMF638 v4 has no operating status (v5 adds ``operatingStatus``); its Service says that
``isServiceEnabled`` false with ``hasStarted`` true means the service has failed. So a service
shows an alarm's impact as ``isServiceEnabled: false``. Its ``state`` is left alone: it is the
lifecycle of what was ordered (fulfilment modifies and terminates services by it, and
``inactive`` is a provider's decision, not a fault), and a note could not be taken back without
rewriting the service's history. A service is impacted by every alarm that names it in
``affectedService`` while the alarm is not cleared and not ``serviceAffecting: false``. A
bookkeeping record per impacted service (kind ``tmfgate:alarmImpact``) holds the alarms impacting
it and its ``isServiceEnabled`` from before the first of them; when the last of them clears, is
deleted or stops naming the service, the value is put back exactly (an absent attribute is
removed again), unless the service was terminated meanwhile (termination disables it anyway).

Services are locked in id order and always after the alarms of the same change, so concurrent
changes cannot deadlock on them. Service writes go through ``operations.write_changed``, so
TMF638 and TMF640 subscribers see each impact as a ``ServiceAttributeValueChangeEvent``.
"""

from __future__ import annotations

from collections.abc import Iterable

from backends.base import Owners, Transaction, where
from tmfgate import documents, operations
from tmfgate.calls import Actor
from tmfgate.security.tenancy import acting_for
from tmfgate.types import Document

IMPACTS = "tmfgate:alarmImpact"
_CHUNK = 100  # ids per query condition, well below the query engine's bound on values


async def affected_services(tx: Transaction, alarm: Document, owners: Owners = None) -> list[Document]:
    """The services the alarm's ``alarmedObject`` affects, as AffectedService refs; [] when it is
    not a service or resource of the inventory (of ``owners``: a partner's alarm affects its own)."""
    found = await _alarmed_object(tx, alarm, owners)
    if found is None:
        return []
    kind, doc = found
    if kind == "service":
        level = [doc] if doc.get("state") != "terminated" else []
    else:
        level = await _services(tx, ("supportingResource", "id"), [str(doc["id"])], owners)
    affected: dict[str, Document] = {}
    while level:
        fresh = [service for service in level if service["id"] not in affected]
        affected.update((service["id"], service) for service in fresh)
        ids = [str(s["id"]) for s in fresh]
        level = await _services(tx, ("supportingService", "id"), ids, owners) if fresh else []
    return [{"id": service["id"], "href": service.get("href", "")} for service in affected.values()]


async def fill_affected(tx: Transaction, alarm: Document, drop: Iterable[str] = (), owners: Owners = None) -> None:
    """Add the services the alarm affects to its ``affectedService``, leaving out the ``drop`` ids
    (the ones its former ``alarmedObject`` affected); ``serviceAffecting`` defaults to true when any
    service of the inventory is affected."""
    dropped = set(drop)
    given = [entry for entry in alarm.get("affectedService", []) if entry.get("id") not in dropped]
    computed = [] if alarm.get("serviceAffecting") is False else await affected_services(tx, alarm, owners)
    known = {entry.get("id") for entry in given}
    merged = given + [entry for entry in computed if entry["id"] not in known]
    if merged:
        alarm["affectedService"] = merged
    else:
        alarm.pop("affectedService", None)
    if computed:
        alarm.setdefault("serviceAffecting", True)


def impacting(alarm: Document | None) -> set[str]:
    """The ids of the services an alarm impacts as it stands (those of the inventory among them)."""
    if alarm is None or alarm.get("state") == "cleared" or alarm.get("serviceAffecting") is False:
        return set()
    return {str(entry["id"]) for entry in alarm.get("affectedService", []) if entry.get("id")}


async def follow(tx: Transaction, actor: Actor, changes: Iterable[tuple[Document | None, Document | None]]) -> None:
    """Bring the services in line with alarms created (old None), changed, or deleted (new None)."""
    adds: dict[str, set[str]] = {}
    removes: dict[str, set[str]] = {}
    for old, new in changes:
        alarm = new if new is not None else old
        if alarm is None:
            continue
        alarm_id = str(alarm["id"])
        before = await _impacted_by(tx, alarm_id) if old is not None else set()
        after = impacting(new)
        for service_id in after - before:
            adds.setdefault(service_id, set()).add(alarm_id)
        for service_id in before - after:
            removes.setdefault(service_id, set()).add(alarm_id)
    for service_id in sorted(adds.keys() | removes.keys()):
        await _apply(tx, actor, service_id, adds.get(service_id, set()), removes.get(service_id, set()))


async def _apply(tx: Transaction, actor: Actor, service_id: str, adds: set[str], removes: set[str]) -> None:
    # A partner's alarm impacts only its own services, whatever ids its affectedService names.
    service = await documents.locked(tx, "service", service_id, owners=acting_for(actor, "service"))
    record = await documents.locked(tx, IMPACTS, service_id)
    before = set(record["alarm"]) if record is not None else set()
    now = (before | adds) - removes
    if record is None:
        if not now or service is None or service.get("state") == "terminated":
            return  # not a service of the inventory, or one no alarm can impact any more
        record = {"id": service_id, "alarm": sorted(now)}
        if "isServiceEnabled" in service:
            record["isServiceEnabled"] = service["isServiceEnabled"]
        await documents.create(tx, IMPACTS, record)
        if service.get("isServiceEnabled") is not False:
            await operations.write_changed(tx, actor, "service", service, {**service, "isServiceEnabled": False})
    elif now:
        if now != before:
            await documents.replace(tx, IMPACTS, {**record, "alarm": sorted(now)})
    else:
        await tx.delete(IMPACTS, service_id)
        if service is None or service.get("state") == "terminated" or service.get("isServiceEnabled") is not False:
            return
        restored = dict(service)
        if "isServiceEnabled" in record:
            restored["isServiceEnabled"] = record["isServiceEnabled"]
        else:
            restored.pop("isServiceEnabled")
        if restored != service:
            await operations.write_changed(tx, actor, "service", service, restored)


async def _impacted_by(tx: Transaction, alarm_id: str) -> set[str]:
    """The services an alarm impacts now, by the records that hold it."""
    return {str(record["id"]) for record in await documents.find(tx, IMPACTS, where("alarm", eq=alarm_id))}


async def _alarmed_object(tx: Transaction, alarm: Document, owners: Owners) -> tuple[str, Document] | None:
    """The inventory service or resource the alarm is about, with its kind."""
    alarmed = alarm.get("alarmedObject") or {}
    id = str(alarmed.get("id") or str(alarmed.get("href", "")).rstrip("/").rsplit("/", 1)[-1])
    if not id:
        return None
    hints = " ".join(str(alarmed.get(name, "")) for name in ("@referredType", "@type", "@baseType"))
    hints = f"{hints} {alarm.get('alarmedObjectType', '')}".lower()
    kinds = [kind for kind in ("service", "resource") if kind in hints] or ["service", "resource"]
    for kind in kinds:
        found = await documents.get(tx, kind, id, owners=owners)
        if found is not None:
            return kind, found
    return None


async def _services(tx: Transaction, path: tuple[str, ...], ids: list[str], owners: Owners) -> list[Document]:
    """The services not terminated whose ``path`` holds one of the ids, in id order."""
    found: list[Document] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        alive = where("state", ne="terminated")
        found += await documents.find(tx, "service", where(path, eq=chunk), alive, sort="id", owners=owners)
    return found
