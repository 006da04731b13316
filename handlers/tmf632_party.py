"""TMF632 Party Management: individuals and organizations start initialized and follow their lifecycle."""

from __future__ import annotations

from functools import partial

from tmfgate import operations
from tmfgate.calls import Call
from tmfgate.errors import BadRequest
from tmfgate.extensions import Handlers
from tmfgate.states import StateMachine
from tmfgate.types import Document

handlers = Handlers("tmf632_party", api="tmf632_party")
# Validation is no precondition of the end (a person may die, a company close, before its record was
# checked); the end is final: a record made in error is deleted instead.
LIFECYCLES = {
    kind: StateMachine(
        kind, {"initialized": frozenset({"validated", end}), "validated": frozenset({end}), end: frozenset()}
    )
    for kind, end in (("individual", "deceased"), ("organization", "closed"))
}
SPELLING = {"deceaded": "deceased"}  # the official v4 enum's typo, accepted and stored as deceased


def _start(call: Call, doc: Document) -> None:
    status = doc.get("status", "initialized")  # in _Create: a client may import a validated party
    doc["status"] = SPELLING.get(status, status)


def _move(call: Call, old: Document, new: Document) -> None:
    if "status" in old and "status" not in new:
        raise BadRequest(f"status cannot be removed from {call.resource.kind} {old['id']}: every party has one.")
    _start(call, new)  # a party stored without status (by a gateway without this handler) is initialized
    LIFECYCLES[call.resource.kind].check(old.get("status", "initialized"), new["status"])


for _kind in ("Individual", "Organization"):
    handlers.serve(f"create{_kind}", partial(operations.create, prepare=_start))
    handlers.serve(f"patch{_kind}", partial(operations.patch, check=_move))
