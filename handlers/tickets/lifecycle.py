"""The TMF621 trouble ticket lifecycle: what a new ticket gets, the legal moves, and the history kept.

- A new ticket is ``acknowledged`` (a client may say so, nothing else: the other statuses are the
  outcome of working on it); ``creationDate``, ``lastUpdate`` and ``statusChangeDate`` are now,
  ``statusChange`` holds its first status; ``resolutionDate`` comes only with resolving. Notes get
  their date (and an id) when they lack one. ``ticketType`` is free text in TMF621, as partners'
  taxonomies differ: :data:`TICKET_TYPES` are those tmfgate itself works with (an alarm opens an
  incident), and any other value is kept as the client gave it.
- Moves (TMF621 v4 user guide, §lifecycle): acknowledged -> inProgress, rejected or cancelled;
  inProgress -> pending, held, resolved or cancelled; pending and held -> inProgress or cancelled;
  resolved -> closed, or inProgress when the customer finds the trouble still there; closed,
  cancelled and rejected are final. Any other move is a 409.
- Each move appends ``{status, changeDate, changeReason}`` to ``statusChange`` (the reason is the
  request's ``statusChangeReason``) and sets ``statusChangeDate``; entering resolved sets
  ``resolutionDate``, reopening removes it. Notes are only added: a change may not edit or drop
  one already there (409).
"""

from __future__ import annotations

from tmfgate.errors import BadRequest, Conflict
from tmfgate.ids import new_id
from tmfgate.states import StateMachine
from tmfgate.types import Document

TICKETS = "troubleTicket"
TICKET_TYPES = ("complaint", "inquiry", "serviceRequest", "incident")
INCIDENT = "incident"
OPEN = frozenset({"acknowledged", "inProgress", "pending", "held"})  # worked on, not yet resolved
ENDED = frozenset({"closed", "cancelled", "rejected"})
LIFECYCLE = StateMachine(
    "trouble ticket",
    {
        "acknowledged": frozenset({"inProgress", "rejected", "cancelled"}),
        "inProgress": frozenset({"pending", "held", "resolved", "cancelled"}),
        "pending": frozenset({"inProgress", "cancelled"}),
        "held": frozenset({"inProgress", "cancelled"}),
        "resolved": frozenset({"closed", "inProgress"}),
        "closed": frozenset(),
        "cancelled": frozenset(),
        "rejected": frozenset(),
    },
)


def opened(ticket: Document, now: str) -> None:
    """Make a create body a new acknowledged ticket (in place); 400 for what a new ticket cannot be."""
    status = ticket.get("status", "acknowledged")
    if status != "acknowledged":
        raise BadRequest(
            f"A new trouble ticket is acknowledged, not {status}; open it, then move it along its lifecycle."
        )
    if "resolutionDate" in ticket:
        raise BadRequest("resolutionDate is set when the ticket is resolved; leave it out of a new ticket.")
    ticket.update(status="acknowledged", creationDate=now, lastUpdate=now, statusChangeDate=now)
    ticket["statusChange"] = [_change("acknowledged", now, ticket.get("statusChangeReason"))]
    ticket["note"] = [_dated(note, now) for note in ticket.get("note", [])]
    if not ticket["note"]:
        del ticket["note"]


def moved(old: Document, new: Document, now: str) -> None:
    """Check a changed ticket against the old one and keep its history (in place): 409 on an illegal move."""
    before, after = old.get("status", "acknowledged"), new.get("status")
    if after is None:
        raise BadRequest(f"status cannot be removed from trouble ticket {old['id']}: every ticket has one.")
    notes = new.get("note", [])
    kept = old.get("note", [])
    if notes[: len(kept)] != kept:
        raise Conflict(
            f"The notes of trouble ticket {old['id']} are a record: change none, add new ones after them "
            'with JSON Patch {"op": "add", "path": "/note/-"}, or send all the notes in a merge patch.',
            reason="Notes are kept",
        )
    if len(notes) > len(kept):
        new["note"] = kept + [_dated(note, now) for note in notes[len(kept) :]]
    new["lastUpdate"] = now
    if after == before:
        return
    LIFECYCLE.check(before, after, str(old["id"]))
    reason = new.get("statusChangeReason") if new.get("statusChangeReason") != old.get("statusChangeReason") else None
    new["statusChange"] = [*old.get("statusChange", []), _change(after, now, reason)]
    new["statusChangeDate"] = now
    if after == "resolved":
        new["resolutionDate"] = now
    elif before == "resolved":
        new.pop("resolutionDate", None)


def _change(status: str, now: str, reason: object) -> Document:
    change: Document = {"status": status, "changeDate": now}
    if isinstance(reason, str) and reason:
        change["changeReason"] = reason
    return change


def _dated(note: Document, now: str) -> Document:
    if not note.get("text"):
        raise BadRequest("A note of a trouble ticket must have its text.")
    return {"id": new_id(), "date": now, **note}
