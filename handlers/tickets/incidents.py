"""Alarms open incidents: one trouble ticket per affected customer and root resource, resolved when they clear.

- **Opening.** An alarm not cleared, whose ``perceivedSeverity`` is among the ``incident_severities``
  setting and that is not ``serviceAffecting: false``, affects the services TMF642 put in its
  ``affectedService`` (:mod:`handlers.alarms.impact`). Those that realize products (TMF637
  ``realizingService``: they face the customer, whatever their ``category``) reach the products
  that have not ended; each product's customer (its related party of role customer, else its
  first) gets an ``incident`` ticket for the alarm's root resource (its ``alarmedObject``):
  severity the alarm's, priority from it (:data:`PRIORITIES`),
  ``expectedResolutionDate`` now plus ``incident_sla``. It relates the root
  (role ``rootCause``), the alarm (``alarm``) and the customer's affected products
  (``affectedProduct``), comes through the channel :data:`CHANNEL`, and starts acknowledged.
- **Correlation.** An alarm on a root resource that already has an open incident for the customer
  joins it (a related entity and a note), whatever its type or cause: one ticket per customer and
  root, not one per alarm. A record per (customer, root) is locked first, so two alarms at once
  cannot both open one.
- **Resolving.** When an alarm clears or is deleted, each open incident relating it whose alarms
  are now all cleared or gone is resolved (through inProgress, when not yet there) with a note
  naming them.

The affected products show the open incident (:mod:`handlers.tickets.products`).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib

from backends.base import DuplicateId, Transaction, where
from handlers import apis, notes
from handlers.alarms.lifecycle import ALARMS
from handlers.fulfilment.products import has_ended
from handlers.tickets import credits, lifecycle
from handlers.tickets import products as shown_on_products
from handlers.tickets.lifecycle import INCIDENT, OPEN, TICKETS
from handlers.tickets.settings import INCIDENT_SEVERITIES, INCIDENT_SLA
from tmfgate import codec, documents, operations, times
from tmfgate.calls import Job
from tmfgate.ids import new_id
from tmfgate.types import Document

CHANNEL: Document = {"id": "tmfgate-alarms", "name": "network alarms", "@referredType": "Channel"}
PRIORITIES = ("low", "medium", "high", "critical")  # escalation raises a ticket one step along these
START_PRIORITY = {"critical": "high", "major": "medium"}
KEYS = "tmfgate:incidentKey"


async def follow_alarm(job: Job) -> None:
    """React to an alarm's creation, change or deletion: open or join incidents, or resolve them."""
    alarm_id = job.event.resource_id
    async with job.gateway.transaction() as tx:
        alarm = await documents.get(tx, ALARMS, alarm_id)
        if alarm is None or alarm.get("state") == "cleared":
            await _settle(tx, job, alarm_id)
        elif _opens(job, alarm):
            await _open(tx, job, alarm)


def _opens(job: Job, alarm: Document) -> bool:
    chosen = job.gateway.settings.get(INCIDENT_SEVERITIES).split(",")
    return (
        str(alarm.get("perceivedSeverity")) in chosen
        and alarm.get("serviceAffecting") is not False
        and bool(alarm.get("affectedService"))
        and bool((alarm.get("alarmedObject") or {}).get("id"))
    )


async def affected_customers(tx: Transaction, alarm: Document) -> dict[str, tuple[Document, list[Document]]]:
    """The customers whose products a service-affecting alarm impacts: by party id, its ref and products."""
    ids = sorted({str(s["id"]) for s in alarm.get("affectedService", []) if s.get("id")})
    if not ids:
        return {}
    products = await documents.find(tx, "product", where("realizingService.id", eq=ids), sort="id")
    customers: dict[str, tuple[Document, list[Document]]] = {}
    for product in products:
        if has_ended(product):
            continue
        party = _customer_of(product)
        if party is not None:
            customers.setdefault(str(party["id"]), (party, []))[1].append(product)
    return customers


def _customer_of(product: Document) -> Document | None:
    parties = [p for p in product.get("relatedParty", []) if p.get("id")]
    chosen = next((p for p in parties if str(p.get("role", "")).lower() == "customer"), parties[0] if parties else None)
    if chosen is None:
        return None
    return {**chosen, "role": "customer", "@referredType": chosen.get("@referredType") or "Customer"}


async def _open(tx: Transaction, job: Job, alarm: Document) -> None:
    root = alarm["alarmedObject"]
    customers = await affected_customers(tx, alarm)
    for customer_id in sorted(customers):  # locked in id order, so concurrent alarms cannot deadlock
        party, products = customers[customer_id]
        await _lock(tx, customer_id, str(root["id"]))
        found = await documents.find(
            tx,
            TICKETS,
            where("relatedParty.id", eq=customer_id),
            where("relatedEntity.id", eq=str(root["id"])),
            where("ticketType", eq=INCIDENT),
            where("status", eq=sorted(OPEN)),
            sort="creationDate",
            limit=1,
        )
        if found:
            await _join(tx, job, found[0]["id"], alarm, products)
        else:
            ticket = _incident(job, alarm, party, products)
            await operations.write_new(tx, job, TICKETS, ticket)
            await shown_on_products.show(tx, job, None, ticket)


async def _lock(tx: Transaction, customer_id: str, root_id: str) -> None:
    """Hold the (customer, root) record until commit: the second of two alarms at once waits, then joins."""
    id = hashlib.sha256(codec.dumps([customer_id, root_id])).hexdigest()
    if await documents.locked(tx, KEYS, id) is None:
        try:
            await documents.create(tx, KEYS, {"id": id, "customer": customer_id, "root": root_id})
        except DuplicateId:
            await documents.locked(tx, KEYS, id)


def _incident(job: Job, alarm: Document, party: Document, products: list[Document]) -> Document:
    now = times.now()
    due = times.parse(now) + dt.timedelta(seconds=job.gateway.settings.get(INCIDENT_SLA))
    root = alarm["alarmedObject"]
    severity = str(alarm["perceivedSeverity"])
    id = new_id()
    ticket: Document = {
        "id": id,
        "href": job.gateway.href(apis.TROUBLE_TICKET, TICKETS, id),
        "@type": "TroubleTicket",
        "name": f"Service outage: {alarm.get('alarmType', 'alarm')} on {root.get('name') or root['id']}",
        "description": _described(alarm),
        "ticketType": INCIDENT,
        "severity": severity,
        "priority": START_PRIORITY.get(severity, "medium"),
        "expectedResolutionDate": times.stamp(due),
        "channel": dict(CHANNEL),
        "relatedParty": [party],
        "relatedEntity": [
            _ref(root, "rootCause", str(alarm.get("alarmedObjectType") or "Resource")),
            _alarm_ref(alarm),
            *(_ref(product, "affectedProduct", "Product") for product in products),
        ],
        "note": [notes.note(f"Opened from alarm {alarm['id']}: {_described(alarm)}")],
    }
    lifecycle.opened(ticket, now)
    return ticket


async def _join(tx: Transaction, job: Job, ticket_id: str, alarm: Document, products: list[Document]) -> None:
    old = await documents.locked(tx, TICKETS, ticket_id)
    if old is None:
        return
    known = {str(entity.get("id")) for entity in old.get("relatedEntity", [])}
    if alarm["id"] in known:
        return  # an event heard twice, or the alarm raised again: it is in the ticket already
    new = copy.deepcopy(old)
    new["relatedEntity"] = [*old.get("relatedEntity", []), _alarm_ref(alarm)]
    new["relatedEntity"] += [_ref(p, "affectedProduct", "Product") for p in products if p["id"] not in known]
    new["note"] = [
        *old.get("note", []),
        notes.note(f"Alarm {alarm['id']} on the same root joined: {_described(alarm)}"),
    ]
    lifecycle.moved(old, new, times.now())
    await operations.write_changed(tx, job, TICKETS, old, new)
    await shown_on_products.show(tx, job, old, new)


async def _settle(tx: Transaction, job: Job, alarm_id: str) -> None:
    tickets = await documents.find(
        tx,
        TICKETS,
        where("relatedEntity.id", eq=alarm_id),
        where("ticketType", eq=INCIDENT),
        where("status", eq=sorted(OPEN)),
        sort="id",
    )
    for ticket in tickets:
        old = await documents.locked(tx, TICKETS, ticket["id"])
        if old is None or old.get("status") not in OPEN:
            continue
        alarms = [str(e["id"]) for e in old.get("relatedEntity", []) if e.get("@referredType") == "Alarm"]
        if not await _all_cleared(tx, alarms):
            continue
        now = times.now()
        working = copy.deepcopy(old)
        if old.get("status") != "inProgress":
            working.update(status="inProgress", statusChangeReason="Worked on by the network")
            lifecycle.moved(old, working, now)
        resolved = copy.deepcopy(working)
        resolved.update(status="resolved", statusChangeReason="Every alarm cleared")
        resolved["note"] = [*working.get("note", []), notes.note(f"Resolved: alarms {', '.join(alarms)} cleared.")]
        lifecycle.moved(working, resolved, now)
        await operations.write_changed(tx, job, TICKETS, old, resolved)
        await shown_on_products.show(tx, job, old, resolved)
        await credits.grant(tx, job, old, resolved)


async def _all_cleared(tx: Transaction, alarm_ids: list[str]) -> bool:
    for id in alarm_ids:
        alarm = await documents.get(tx, ALARMS, id)
        if alarm is not None and alarm.get("state") != "cleared":
            return False
    return True


def _described(alarm: Document) -> str:
    parts = [alarm.get("perceivedSeverity"), alarm.get("alarmType"), alarm.get("probableCause")]
    what = " ".join(str(part) for part in parts if part)
    return f"{what} alarm on {alarm['alarmedObject'].get('id')}" + (
        f" ({alarm['specificProblem']})" if alarm.get("specificProblem") else ""
    )


def _ref(doc: Document, role: str, referred: str) -> Document:
    ref: Document = {"id": doc["id"], "role": role, "@referredType": doc.get("@referredType") or referred}
    if doc.get("href"):
        ref["href"] = doc["href"]
    if doc.get("name"):
        ref["name"] = doc["name"]
    return ref


def _alarm_ref(alarm: Document) -> Document:
    return _ref({"id": alarm["id"], "href": alarm.get("href")}, "alarm", "Alarm")
