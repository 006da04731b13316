"""What happens to an alarm incident with time: escalation when its SLA passes, closure after a quiet time.

Both wait with :class:`tmfgate.calls.Later`, so the outbox keeps the wait across restarts, and both
check the stored ticket anew when the time comes. Only the incidents the gateway opened from alarms
(channel :data:`handlers.tickets.incidents.CHANNEL`) are followed: a client's ticket is its own to move.

- **Escalation** (on the ticket's creation): when ``expectedResolutionDate`` passes and the ticket is
  still open, its priority goes one step up :data:`handlers.tickets.incidents.PRIORITIES` and a
  note says why: subscribers hear a ``TroubleTicketAttributeValueChangeEvent`` of ``note,priority``.
  Once per SLA date, however often the event comes (an incident opened before the escalation had a
  subscription of its own has its creation event handed over to it: :mod:`tmfgate.notifications.reactions`).
- **Closure** (on ``TroubleTicketResolvedEvent``): a ticket still resolved ``incident_quiet_time``
  seconds after its ``resolutionDate`` is closed with a note, whatever its SLA time.

The deliveries of one subscription reach it in order per resource, and a waiting one holds back the
resource's later ones: so the escalation, which waits for the SLA time on the ticket's creation,
runs as an extension of its own (``escalation`` in :mod:`handlers.tmf621_trouble_ticket`, the
internal subscription ``tmfgate.ticket_escalation``) and holds back none of the ticket's other events.
"""

from __future__ import annotations

import copy
import datetime as dt

from handlers import notes
from handlers.tickets import lifecycle
from handlers.tickets.incidents import CHANNEL, PRIORITIES
from handlers.tickets.lifecycle import OPEN, TICKETS
from handlers.tickets.settings import INCIDENT_QUIET_TIME
from tmfgate import documents, operations, times
from tmfgate.calls import Job, Later
from tmfgate.types import Document


def _ours(ticket: Document | None) -> bool:
    return ticket is not None and (ticket.get("channel") or {}).get("id") == CHANNEL["id"]


async def escalate(job: Job) -> None:
    """Raise the priority of an alarm incident still open when its SLA passes."""
    ticket = job.document
    if not _ours(ticket) or not ticket.get("expectedResolutionDate"):
        return
    due = times.parse(str(ticket["expectedResolutionDate"]))
    if dt.datetime.now(dt.UTC) < due:
        raise Later(
            due, f"trouble ticket {ticket['id']} is escalated if still open at {ticket['expectedResolutionDate']}"
        )
    async with job.gateway.transaction() as tx:
        old = await documents.locked(tx, TICKETS, str(ticket["id"]))
        if old is None or old.get("status") not in OPEN:
            return
        said = f"Escalated: not resolved by {old['expectedResolutionDate']} (SLA)"
        if any(str(note.get("text", "")).startswith(said) for note in old.get("note", []) if isinstance(note, dict)):
            return  # escalated for this SLA already: the event came twice (at least once, or handed over)
        new = copy.deepcopy(old)
        before = str(old.get("priority", "medium"))
        after = PRIORITIES[min(len(PRIORITIES) - 1, PRIORITIES.index(before) + 1)] if before in PRIORITIES else "high"
        new["priority"] = after
        text = f"{said}; priority {before} -> {after}."
        new["note"] = [*old.get("note", []), notes.note(text)]
        lifecycle.moved(old, new, times.now())
        await operations.write_changed(tx, job, TICKETS, old, new)


async def close_when_quiet(job: Job) -> None:
    """Close an alarm incident still resolved once the quiet time has passed since its resolution."""
    ticket = job.document
    if not _ours(ticket) or not ticket.get("resolutionDate"):
        return
    quiet = job.gateway.settings.get(INCIDENT_QUIET_TIME)
    at = times.parse(str(ticket["resolutionDate"])) + dt.timedelta(seconds=quiet)
    if dt.datetime.now(dt.UTC) < at:
        raise Later(at, f"trouble ticket {ticket['id']} closes if still resolved at {times.stamp(at)}")
    async with job.gateway.transaction() as tx:
        old = await documents.locked(tx, TICKETS, str(ticket["id"]))
        if old is None or old.get("status") != "resolved" or old.get("resolutionDate") != ticket["resolutionDate"]:
            return  # reopened meanwhile (and maybe resolved again: that resolution's event closes it)
        new = copy.deepcopy(old)
        new.update(status="closed", statusChangeReason=f"No alarm back for {quiet:g} seconds after resolution")
        new["note"] = [*old.get("note", []), notes.note("Closed: the service stayed restored.")]
        lifecycle.moved(old, new, times.now())
        await operations.write_changed(tx, job, TICKETS, old, new)
