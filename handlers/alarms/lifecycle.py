"""The TMF642 alarm lifecycle: what a new alarm gets, which changes are legal, and raising again.

The values follow TMF642 (v4 text, and the enumerations of its OAADM variant and of v5, since the
v4 file leaves them free strings): ``state`` raised, updated or cleared; ``ackState``
acknowledged or unacknowledged; ``perceivedSeverity`` critical, major, minor, warning,
indeterminate or cleared (X.733).

- A new alarm is ``raised`` and ``unacknowledged``; ``alarmReportingTime`` (when this system
  recorded it) and ``alarmChangedTime`` are now unless the reporting system gave them; comments
  get their ``time``. It cannot arrive cleared, acknowledged, or grouped (the ack, clear and
  correlation attributes are the outcome of those actions; groupAlarms links both alarms).
- Raising the same alarm again (same ``alarmedObject``, ``alarmType``, ``probableCause``,
  ``specificProblem`` and ``sourceSystemId``, not cleared) updates the alarm instead: it becomes
  ``updated`` with the new report's description, keeping its id, raise and reporting times,
  acknowledgement, comments (new ones are added) and correlation. Such a POST answers 200 with the
  alarm and ``Content-Location`` (RFC 9110 §15.3.1: nothing was created, so not 201).
- Changes: raised -> updated -> cleared, raised -> cleared; cleared is final. A change of the
  perceived severity makes a raised alarm ``updated`` (X.733); edits of its text do not. Clearing
  (``state`` or ``perceivedSeverity`` cleared) sets both to cleared and stamps
  ``alarmClearedTime``, keeping ``clearSystemId``/``clearUserId`` when given; after that the
  description and the clearing stay as they were (409): only acknowledgement, comments,
  escalation and ``isRootCause`` may still change. The clear attributes come only with clearing;
  ``ackState`` changes come with the ``ackSystemId`` and ``ackUserId`` that made them; comments
  are only added; ``correlatedAlarm``/``parentAlarm`` change only through groupAlarms and
  unGroupAlarms. ``alarmChangedTime`` moves to now on every change unless the change sets it.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import Any

from backends.base import DuplicateId, Owners, Transaction, where
from tmfgate import codec, documents
from tmfgate.errors import BadRequest, Conflict
from tmfgate.states import StateMachine
from tmfgate.types import Document

ALARMS = "alarm"
# With the alarmed object, what makes two reports the same alarm.
IDENTITY = ("alarmType", "probableCause", "specificProblem", "sourceSystemId")
IDENTITIES = "tmfgate:alarmIdentity"  # one record per identity ever raised, locked by lock_identity
SEVERITIES = ("critical", "major", "minor", "warning", "indeterminate", "cleared")
ACK_STATES = ("acknowledged", "unacknowledged")
ALARM = StateMachine(
    "alarm",
    {
        "raised": frozenset({"updated", "cleared"}),
        "updated": frozenset({"cleared"}),
        "cleared": frozenset(),
    },
)
ACKING = ("ackSystemId", "ackUserId")
CLEARING = ("alarmClearedTime", "clearSystemId", "clearUserId")
GROUPING = ("correlatedAlarm", "parentAlarm")
# What is not the fault's description: changing these does not make an alarm "updated", and they
# may still change once it is cleared.
_NOT_DESCRIPTION = frozenset(
    {
        "state",
        "ackState",
        *ACKING,
        *CLEARING,
        *GROUPING,
        "comment",
        "isRootCause",
        "alarmEscalation",
        "alarmChangedTime",
        "alarmReportingTime",
        "id",
        "href",
        "@type",
        "@baseType",
        "@schemaLocation",
    }
)
_STILL_CHANGEABLE = frozenset({"ackState", *ACKING, "comment", "isRootCause", "alarmEscalation", "alarmChangedTime"})
# Kept from the alarm when the same alarm is raised again.
_KEPT_ON_RERAISE = frozenset(
    {
        "id",
        "href",
        "@type",
        "state",
        "alarmRaisedTime",
        "alarmReportingTime",
        "alarmChangedTime",
        "ackState",
        *ACKING,
        *GROUPING,
        "comment",
        "affectedService",
    }
)

PatchSets = Callable[[str], bool]


def prepare_new(alarm: Document, now: str) -> None:
    """Check a new alarm and set what the server sets (see the module docstring)."""
    if alarm.get("state") != "raised":
        raise BadRequest(
            f"A new alarm is raised: its state must be raised, not {alarm.get('state')}. "
            "Clear an alarm with a PATCH or a clearAlarms task."
        )
    check_values(alarm)
    if alarm.get("perceivedSeverity") == "cleared":
        raise BadRequest(
            "A raised alarm cannot have perceivedSeverity cleared; report its severity, and clear it later."
        )
    if alarm.get("ackState", "unacknowledged") != "unacknowledged":
        raise BadRequest("A new alarm is unacknowledged; acknowledge it with an ackAlarms task or a PATCH.")
    for names, why in (
        (ACKING, "tell who changed the acknowledgement of an alarm, and a new alarm is unacknowledged"),
        (CLEARING, "are set when an alarm is cleared"),
        (GROUPING, "are set by groupAlarms, which links both alarms"),
    ):
        given = [name for name in names if name in alarm]
        if given:
            raise BadRequest(f"{' and '.join(given)} {why}; leave them out of a new alarm.")
    alarmed = alarm.get("alarmedObject") or {}
    if not alarmed.get("id") and not alarmed.get("href"):
        raise BadRequest("alarmedObject must give the id (or href) of the object the alarm is about.")
    alarm["ackState"] = "unacknowledged"
    alarm.setdefault("alarmReportingTime", now)
    alarm.setdefault("alarmChangedTime", now)
    for comment in alarm.get("comment", []):
        comment.setdefault("time", now)


def check_values(alarm: Document) -> None:
    """The enumerated attributes hold one of their values (400 naming them)."""
    for name, allowed in (("state", ALARM.states), ("ackState", ACK_STATES), ("perceivedSeverity", SEVERITIES)):
        value = alarm.get(name)
        if value is not None and value not in allowed:
            raise BadRequest(f"{name} {value!r} is not one of {', '.join(sorted(allowed))}.")


async def lock_identity(tx: Transaction, alarm: Document) -> None:
    """Hold the lock of this alarm's identity (object, type, cause, problem, source) until commit.

    Two reports of the same fault at the same moment must not both find no open alarm and both
    raise one. SQLite and the memory store let one writer in at a time; on PostgreSQL each
    identity has a record of its own, read for update, so the second report waits for the first
    to commit and then finds its alarm."""
    alarmed = alarm["alarmedObject"]
    key = "id" if alarmed.get("id") else "href"
    identity = [key, alarmed.get(key), *(alarm.get(name) for name in IDENTITY)]
    id = hashlib.sha256(codec.dumps(identity)).hexdigest()
    if await documents.locked(tx, IDENTITIES, id) is None:
        try:
            await documents.create(tx, IDENTITIES, {"id": id, "identity": identity})
        except DuplicateId:  # made by the other report meanwhile: wait for it
            await documents.locked(tx, IDENTITIES, id)


async def open_duplicate(tx: Transaction, alarm: Document, owners: Owners = None) -> str | None:
    """The id of the alarm not yet cleared that this one raises again, if any (of ``owners``: a
    partner's report raises its own alarm again, never another partner's).

    The store finds the alarms with the same object, type, cause and source that are not cleared;
    a TMF630 filter cannot say "has no specificProblem", so when this alarm has none, the few found
    (the open alarms of one kind on one object) are checked for having none too."""
    alarmed = alarm["alarmedObject"]
    key = "id" if alarmed.get("id") else "href"
    conditions = [where(("alarmedObject", key), eq=str(alarmed[key])), where("state", ne="cleared")]
    for name in IDENTITY:
        if alarm.get(name) is not None:
            conditions.append(where((name,), eq=str(alarm[name])))
    for found in await documents.find(tx, ALARMS, *conditions, sort=("alarmRaisedTime", "id"), owners=owners):
        if same_alarm(found, alarm):
            return str(found["id"])
    return None


def same_alarm(one: Document, other: Document) -> bool:
    """Whether two alarm reports are about the same fault of the same object."""
    first, second = one.get("alarmedObject") or {}, other.get("alarmedObject") or {}
    key = "id" if second.get("id") else "href"
    return first.get(key) == second.get(key) and all(one.get(name) == other.get(name) for name in IDENTITY)


def raised_again(existing: Document, report: Document, now: str) -> Document:
    """The existing alarm updated by a new report of the same fault."""
    new = copy.deepcopy(existing)
    for name, value in report.items():
        if name not in _KEPT_ON_RERAISE:
            new[name] = copy.deepcopy(value)
    comments = list(existing.get("comment", []))
    comments += [comment for comment in report.get("comment", []) if comment not in comments]
    if comments:
        new["comment"] = comments
    known = {entry.get("id") for entry in existing.get("affectedService", [])}
    affected = [
        *existing.get("affectedService", []),
        *(entry for entry in report.get("affectedService", []) if entry.get("id") not in known),
    ]
    if affected:
        new["affectedService"] = affected
    new["state"] = "updated"
    new["alarmChangedTime"] = now
    return new


def check_change(old: Document, new: Document, patch_sets: PatchSets, now: str) -> None:
    """Refuse illegal changes of an alarm; complete the legal ones (see the module docstring).

    ``patch_sets(name)`` tells whether the request's patch sets that attribute itself."""
    check_values(new)
    was_cleared = old.get("state") == "cleared"
    if not was_cleared and (new.get("state") == "cleared" or new.get("perceivedSeverity") == "cleared"):
        new["state"] = new["perceivedSeverity"] = "cleared"
    ALARM.check(old.get("state"), new.get("state"))
    changed = {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}
    if was_cleared:
        frozen = sorted(changed - _STILL_CHANGEABLE)
        if frozen:
            raise Conflict(
                f"Alarm {old['id']} is cleared, so {', '.join(frozen)} can no longer change; "
                "only its acknowledgement, comments, escalation and isRootCause can.",
                reason="Alarm cleared",
            )
    elif new.get("state") == "cleared":
        new.setdefault("alarmClearedTime", now)
    else:
        clearing = sorted(changed & set(CLEARING))
        if clearing:
            raise BadRequest(
                f"{', '.join(clearing)} are set when the alarm is cleared; clear it (state cleared) in the same change."
            )
        if new.get("state") == "raised" and "perceivedSeverity" in changed:
            new["state"] = "updated"  # X.733: a new severity is an alarm update; edited text is not
    if "ackState" in changed:
        missing = [name for name in ACKING if not patch_sets(name)]
        if missing:
            raise BadRequest(f"A change of ackState must give who made it: add {' and '.join(missing)}.")
    elif changed & set(ACKING):
        raise BadRequest("ackSystemId and ackUserId tell who last changed ackState; change them only with it.")
    grouping = sorted(changed & set(GROUPING))
    if grouping:
        raise BadRequest(
            f"{', '.join(grouping)} change only through groupAlarms and unGroupAlarms, "
            "which keep the links of both alarms."
        )
    if "comment" in changed:
        before, after = old.get("comment", []), new.get("comment", [])
        if after[: len(before)] != before:
            raise BadRequest(
                "Comments are the alarm's history: add new ones after the existing ones, and leave those as they are."
            )
        for comment in after[len(before) :]:
            comment.setdefault("time", now)
    if changed and not patch_sets("alarmChangedTime"):
        new["alarmChangedTime"] = now


def patch_sets(body: Any, json_patch: bool) -> PatchSets:
    """``patch_sets`` for a request body: merge patch (a non-null member) or JSON Patch (an
    add, replace, copy or move of the attribute)."""

    def sets(name: str) -> bool:
        if json_patch:
            return isinstance(body, list) and any(
                isinstance(op, dict)
                and op.get("op") in ("add", "replace", "copy", "move")
                and str(op.get("path", "")).split("/")[1:2] == [name]
                for op in body
            )
        return isinstance(body, dict) and body.get(name) is not None

    return sets


def cleared(alarm: Document, when: str, system: str | None, user: str | None, now: str) -> Document:
    """The alarm cleared at ``when`` by a system and user (TMF642 clearAlarms)."""
    new = {
        **alarm,
        "state": "cleared",
        "perceivedSeverity": "cleared",
        "alarmClearedTime": when,
        "alarmChangedTime": now,
    }
    for name, value in (("clearSystemId", system), ("clearUserId", user)):
        if value is not None:
            new[name] = value
    return new


def ref(alarm: Document) -> Document:
    """An AlarmRef to a stored alarm."""
    return {"id": alarm["id"], "href": alarm.get("href", ""), "@referredType": "Alarm"}


def root_cause(alarm: Document) -> bool:
    """An alarm that others are grouped under and that is grouped under none is a root cause."""
    return bool(alarm.get("correlatedAlarm")) and not alarm.get("parentAlarm")
