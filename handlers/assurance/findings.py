"""What a finding raises: a TMF642 alarm with the evidence, a TMF621 ticket relating it, and, when its
rule is configured to, a TMF622 order suspending its products; each finding once only.

A record per finding (its rule and key, hashed) is created with them in one transaction: a finding
already recorded raises nothing again, so running the checks twice raises no second alarm, even
once the first alarm is cleared (the finding is the same; a new one has another key).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backends.base import DuplicateId, Transaction
from handlers import apis, notes
from handlers.alarms import lifecycle as alarms
from handlers.alarms.lifecycle import ALARMS
from handlers.assurance.checks import PRODUCT, Finding
from handlers.billing.rules import BILL
from handlers.ordering.lifecycle import PRODUCT_ORDERS
from handlers.tickets import lifecycle as tickets
from handlers.tickets.lifecycle import TICKETS
from tmfgate import codec, documents, operations, times
from tmfgate.ids import new_id
from tmfgate.types import Document

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

KIND = "tmfgate:assuranceFinding"  # one record per finding ever raised, by the hash of its rule and key
SOURCE = "tmfgate-assurance"  # the alarms' sourceSystemId and the tickets' channel
CHANNEL: Document = {"id": SOURCE, "name": "revenue assurance", "@referredType": "Channel"}
ALARM_TYPE = "processingErrorAlarm"  # X.733: the fault is in how usage and bills were processed
PRIORITY = {"critical": "critical", "major": "high", "minor": "medium", "warning": "low"}


@dataclass(frozen=True)
class Worker:
    """The actor of a check run (``tmfgate assure``): what it writes belongs to the subject's owner."""

    gateway: Gateway
    correlation_id: str
    owner: str | None = None


@dataclass(frozen=True)
class Raised:
    """What one finding raised; ``alarm`` is None when it was raised by an earlier run."""

    finding: Finding
    alarm: str | None = None
    ticket: str | None = None
    order: str | None = None


def finding_id(finding: Finding) -> str:
    return hashlib.sha256(codec.dumps([finding.rule, finding.key])).hexdigest()


async def raise_once(tx: Transaction, actor: Worker, finding: Finding, *, severity: str, suspend: bool) -> Raised:
    """Raise the finding's alarm, ticket and (when ``suspend``) suspension order, unless raised already."""
    id = finding_id(finding)
    if await documents.locked(tx, KIND, id) is not None:
        return Raised(finding)
    try:
        await documents.create(tx, KIND, {"id": id, "rule": finding.rule, "key": finding.key, "raised": times.now()})
    except DuplicateId:  # another run raised it meanwhile
        return Raised(finding)
    kind = {"Product": PRODUCT, "CustomerBill": BILL}.get(str(finding.subject.get("@referredType")))
    if kind is None and finding.products:
        kind, subject = PRODUCT, finding.products[0]  # a customer's finding belongs to its products' owner
    else:
        subject = str(finding.subject["id"])
    owner = await tx.owner(kind, subject) if kind else None
    actor = Worker(actor.gateway, actor.correlation_id, owner)
    alarm = _alarm(actor, finding, id, severity)
    await operations.write_new(tx, actor, ALARMS, alarm)
    ticket = _ticket(actor, finding, alarm, severity)
    order = await _suspension(tx, actor, finding, alarm) if suspend else None
    if order is not None:
        ticket["relatedEntity"].append(
            {"id": order["id"], "href": order["href"], "role": "suspension", "@referredType": "ProductOrder"}
        )
        ticket["note"].append(notes.note(f"Product order {order['id']} suspends {_products(order)}."))
    await operations.write_new(tx, actor, TICKETS, ticket)
    return Raised(finding, alarm["id"], ticket["id"], None if order is None else order["id"])


def _alarm(actor: Worker, finding: Finding, id: str, severity: str) -> Document:
    now = times.now()
    alarm_id = new_id()
    alarm: Document = {
        "id": alarm_id,
        "href": actor.gateway.href(apis.ALARM, ALARMS, alarm_id),
        "@type": "Alarm",
        "state": "raised",
        "alarmType": ALARM_TYPE,
        "perceivedSeverity": severity,
        "probableCause": "revenue assurance",
        "specificProblem": finding.rule,
        "externalAlarmId": id,
        "sourceSystemId": SOURCE,
        "alarmedObject": finding.subject,
        "alarmedObjectType": finding.subject["@referredType"],
        "alarmRaisedTime": now,
        "alarmDetails": finding.evidence,
        "serviceAffecting": False,  # a revenue finding opens no network incident (handlers.tickets.incidents)
        "isRootCause": True,
    }
    alarms.prepare_new(alarm, now)
    return alarm


def _ticket(actor: Worker, finding: Finding, alarm: Document, severity: str) -> Document:
    id = new_id()
    ticket: Document = {
        "id": id,
        "href": actor.gateway.href(apis.TROUBLE_TICKET, TICKETS, id),
        "@type": "TroubleTicket",
        "name": f"Revenue assurance: {finding.rule}",
        "description": finding.summary,
        "ticketType": "inquiry",  # an investigation; not an incident, which earns an outage credit
        "severity": severity,
        "priority": PRIORITY[severity],
        "channel": dict(CHANNEL),
        "relatedEntity": [
            {"id": alarm["id"], "href": alarm["href"], "role": "alarm", "@referredType": "Alarm"},
            {**finding.subject, "role": "subject"},
        ],
        "note": [notes.note(finding.evidence)],
    }
    if finding.customer is not None:
        ticket["relatedParty"] = [finding.customer]
    tickets.opened(ticket, times.now())
    return ticket


async def _suspension(tx: Transaction, actor: Worker, finding: Finding, alarm: Document) -> Document | None:
    """A modify order suspending the finding's products still active; None when none is."""
    active = []
    for product_id in finding.products:
        product = await documents.get(tx, PRODUCT, product_id)
        if product is not None and product.get("status") == "active":
            active.append(product_id)
    if not active:
        return None
    id = new_id()
    order: Document = {
        "id": id,
        "href": actor.gateway.href(apis.PRODUCT_ORDERING, "productOrder", id),
        "@type": "ProductOrder",
        "category": "revenue assurance",
        "description": f"Suspension by revenue assurance ({finding.rule}): {finding.summary}",
        "externalId": alarm["id"],
        "note": [notes.note(f"Alarm {alarm['id']}: {finding.evidence}")],
        "productOrderItem": [
            {"id": str(n), "action": "modify", "product": {"id": product_id, "status": "suspended"}}
            for n, product_id in enumerate(active, 1)
        ],
    }
    PRODUCT_ORDERS.check_new(order)
    await operations.write_new(tx, actor, "productOrder", order)
    return order


def _products(order: Document) -> str:
    return ", ".join(str(item["product"]["id"]) for item in order["productOrderItem"])
