"""The TMF642 task resources: ackAlarms, unAckAlarms, clearAlarms, commentAlarms, groupAlarms, unGroupAlarms.

A task is carried out in the request that creates it, in one transaction: it is stored
``inProgress`` (its CreateEvent), every alarm it selects is changed or left as it is, and it ends
``done`` or ``terminatedWithError`` (its StateChangeEvent), the final states of TMF642 v5's task
states. Each alarm changed raises its own events; clearing also takes the impact off the services
(:mod:`handlers.alarms.impact`).

Selection. Each ``alarmPattern`` entry selects the alarms that have every attribute value it
gives (TMF642), found by a query in the store: each value is an equality condition on its dotted
path, arrays matching when any element does (so two values inside one array element may be met by
two different elements), dates compared as instants. An ``href`` selects by the id it ends in (a
client may use either base path); ``@type``, ``@baseType``, ``@schemaLocation`` and
``@referredType`` describe the pattern object, not alarms, and are ignored. A pattern that gives
nothing else would select every alarm and is refused (400); so are ``state`` and the results,
which the server sets. groupAlarms and unGroupAlarms select the ``parentAlarm`` (exactly one
alarm) and each ``correlatedAlarm`` entry the same way, so an AlarmRefOrValue may be a reference
or a value.

Outcome. The spec's result list (``ackedAlarm``, ``unAckedAlarm``, ``clearedAlarm``,
``commentedAlarm``, ``groupedAlarm``, ``unGroupedAlarm``) holds exactly the alarms the task
changed, as references. The v4 task schemas have no attribute for what was not done, so, as
cancelProductOrder's ``errorMessage`` does, two extension attributes report it:
``unchangedAlarm``, the selected alarms left as they were, each a reference with a ``reason``
(already acknowledged, not acknowledged, already cleared, already carrying the comment, already
grouped, not grouped, cleared, the parent itself, an ancestor of the parent); and ``errorMessage``,
one sentence per selection that matched no alarm (or a parent that cannot be used). A task with an
``errorMessage`` ends ``terminatedWithError``, otherwise ``done``; alarms already in the target
state are not an error. The selections that matched are acted on either way.

Grouping adds the parent to each child's ``parentAlarm`` and the child to the parent's
``correlatedAlarm``; ungrouping removes both. ``isRootCause`` follows: an alarm with correlated
alarms and no parent is a root cause, any other alarm touched is not. Cleared alarms keep their
correlation as history: they are neither grouped nor ungrouped, nor used as a parent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from backends.base import Condition, Owners, Transaction, ValueType, where
from handlers.alarms import impact as alarm_impact
from handlers.alarms.lifecycle import ALARMS, cleared, ref, root_cause
from tmfgate import documents, operations, times
from tmfgate.calls import Call, Reply
from tmfgate.errors import BadRequest
from tmfgate.query import MAX_CONDITIONS, MAX_DEPTH
from tmfgate.security.tenancy import visible
from tmfgate.types import Document

UNCHANGED = "unchangedAlarm"
ERROR = "errorMessage"
_IGNORED = ("@type", "@baseType", "@schemaLocation", "@referredType")
Decide = Callable[[Document], tuple[Document | None, str]]


@dataclass
class Outcome:
    """What a task did: the alarms changed, those left as they were and why, and its errors."""

    changed: list[Document] = field(default_factory=list)
    unchanged: list[Document] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    task: Document = field(default_factory=dict)  # attributes of the task the work completed

    def final(self, task: Document, result: str) -> Document:
        final = {**task, **self.task, result: self.changed, "state": "terminatedWithError" if self.errors else "done"}
        if self.unchanged:
            final[UNCHANGED] = self.unchanged
        if self.errors:
            final[ERROR] = " ".join(self.errors)
        return final

    def leave(self, alarm: Document, reason: str) -> None:
        self.unchanged.append({**ref(alarm), "reason": reason})


Work = Callable[[Transaction, Call, Document, Outcome], Awaitable[None]]


async def run(call: Call, result: str, prepare: Callable[[Document], None], work: Work) -> Reply:
    """Create a task, carry it out and store its outcome; 201 with the task in its final state."""
    task = operations.new_document(call, call.body)
    given = [name for name in ("state", result, UNCHANGED, ERROR) if name in task]
    if given:
        raise BadRequest(
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} set by the server; leave them out of the request."
        )
    prepare(task)
    task["state"] = "inProgress"
    outcome = Outcome()
    async with call.gateway.transaction() as tx:
        await operations.write_new(tx, call, call.resource.kind, task)
        await work(tx, call, task, outcome)
        raw = await operations.write_changed(tx, call, call.resource.kind, task, outcome.final(task, result))
    return Reply.created(raw, task["href"])


Selection = tuple[str, tuple[Condition, ...]]  # what it is, for messages, and its conditions


def patterns(call: Call, task: Document) -> list[Selection]:
    """The queries of a task's ``alarmPattern`` entries (400 for one that cannot be used)."""
    return [selection(call, pattern, f"alarmPattern[{i}]") for i, pattern in enumerate(task["alarmPattern"])]


def selection(call: Call, given: Document, what: str) -> Selection:
    """An alarm pattern (or AlarmRefOrValue) as a query on the stored alarms."""
    pattern = {name: value for name, value in given.items() if name not in _IGNORED and name != "name"}
    href = pattern.pop("href", None)
    if href is not None and "id" not in pattern:
        pattern["id"] = str(href).rstrip("/").rsplit("/", 1)[-1]
    leaves: list[tuple[tuple[str, ...], Any]] = []
    _leaves((), pattern, leaves)
    if not leaves:
        raise BadRequest(f"{what} gives no attribute value to select alarms by; give at least one, such as id.")
    if len(leaves) > MAX_CONDITIONS:
        raise BadRequest(f"{what} gives {len(leaves)} values; at most {MAX_CONDITIONS} can be matched at once.")
    kind_of = call.api.resources[ALARMS].attribute_kind
    conditions = tuple(_condition(path, value, kind_of(path), what) for path, value in leaves)
    shown = f"{what} (id {pattern['id']})" if isinstance(pattern.get("id"), str) else what
    return shown, conditions


def _leaves(path: tuple[str, ...], value: Any, found: list[tuple[tuple[str, ...], Any]]) -> None:
    if len(path) > MAX_DEPTH:
        raise BadRequest(f"The pattern attribute {'.'.join(path)} is nested deeper than {MAX_DEPTH} levels.")
    if isinstance(value, dict):
        for name, member in value.items():
            _leaves((*path, name), member, found)
    elif isinstance(value, list):
        for element in value:  # an array on the path matches when any element does
            _leaves(path, element, found)
    elif value is not None:
        found.append((path, value))


def _condition(path: tuple[str, ...], value: Any, kind: ValueType | None, what: str) -> Condition:
    """Equality with a pattern value: booleans and numbers as themselves, dates as instants (no zone
    is UTC) where the alarm schema has a date-time, anything else as text."""
    try:
        if isinstance(value, bool | int | float):
            return where(path, eq=value)
        if kind is not ValueType.DATETIME:
            return where(path, eq=str(value))
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise BadRequest(f"{what}: {'.'.join(path)} must be a date-time, not {value!r}.") from None
        return where(path, eq=moment.replace(tzinfo=moment.tzinfo or dt.UTC))
    except ValueError as why:  # a name or number no store can compare
        raise BadRequest(f"{what}: {'.'.join(path)} {value!r} cannot select alarms: {why}") from None


async def select(tx: Transaction, selections: list[Selection], outcome: Outcome, owners: Owners = None) -> list[str]:
    """The ids of the alarms (of ``owners``: a partner's task acts on its own) the selections match, in
    order of first match; a selection that matches nothing is an error of the task."""
    ids: dict[str, None] = {}
    for what, conditions in selections:
        found = await documents.find(tx, ALARMS, *conditions, sort="id", owners=owners)
        if not found:
            outcome.errors.append(f"{what} matches no alarm.")
        ids.update((str(alarm["id"]), None) for alarm in found)
    return list(ids)


async def lock(tx: Transaction, ids: list[str], owners: Owners = None) -> dict[str, Document]:
    """The alarms locked in id order (so concurrent tasks cannot deadlock); missing ones (and those not
    of ``owners``) left out."""
    locked = {}
    for id in sorted(set(ids)):
        alarm = await documents.locked(tx, ALARMS, id, owners=owners)
        if alarm is not None:
            locked[id] = alarm
    return locked


async def act(
    tx: Transaction, call: Call, task: Document, outcome: Outcome, decide: Decide, *, impact: bool = False
) -> None:
    """Select the alarms of the task's patterns and change each as ``decide`` says."""
    owners = visible(call, ALARMS)
    ids = await select(tx, patterns(call, task), outcome, owners)
    alarms = await lock(tx, ids, owners)
    changes = []
    for id in ids:
        old = alarms.get(id)
        if old is None:
            continue  # deleted between the query and the lock
        new, reason = decide(old)
        if new is None:
            outcome.leave(old, reason)
            continue
        await operations.write_changed(tx, call, ALARMS, old, new)
        outcome.changed.append(ref(new))
        changes.append((old, new))
    if impact:
        await alarm_impact.follow(tx, call, changes)


def acknowledging(task: Document, state: str) -> Decide:
    """Set ``ackState`` with the task's ``ackSystemId`` and ``ackUserId``."""
    now = times.now()

    def decide(alarm: Document) -> tuple[Document | None, str]:
        if alarm.get("ackState", "unacknowledged") == state:
            if state == "unacknowledged":
                return None, "It is not acknowledged."
            by = f" by {alarm['ackUserId']}" if alarm.get("ackUserId") else ""
            return None, f"It was already acknowledged{by}."
        return {
            **alarm,
            "ackState": state,
            "ackSystemId": task["ackSystemId"],
            "ackUserId": task["ackUserId"],
            "alarmChangedTime": now,
        }, ""

    return decide


def clearing(task: Document) -> Decide:
    now = times.now()

    def decide(alarm: Document) -> tuple[Document | None, str]:
        if alarm.get("state") == "cleared":
            return None, f"It was already cleared at {alarm.get('alarmClearedTime', 'an unknown time')}."
        return cleared(alarm, task["alarmClearedTime"], task.get("clearSystemId"), task.get("clearUserId"), now), ""

    return decide


def commenting(task: Document) -> Decide:
    now = times.now()
    comment = task["comment"]

    def decide(alarm: Document) -> tuple[Document | None, str]:
        if comment in alarm.get("comment", []):
            return None, "It already has this comment."
        return {**alarm, "comment": [*alarm.get("comment", []), comment], "alarmChangedTime": now}, ""

    return decide


async def regroup(tx: Transaction, call: Call, task: Document, outcome: Outcome, *, grouping: bool) -> None:
    """Group the correlated alarms under the parent alarm, or ungroup them from it."""
    parent_what, parent_conditions = selection(call, task["parentAlarm"], "parentAlarm")
    children = [selection(call, entry, f"correlatedAlarm[{i}]") for i, entry in enumerate(task["correlatedAlarm"])]
    owners = visible(call, ALARMS)
    parents = await documents.find(tx, ALARMS, *parent_conditions, sort="id", owners=owners)
    if len(parents) != 1:
        outcome.errors.append(
            f"{parent_what} matches no alarm."
            if not parents
            else f"{parent_what} matches {len(parents)} alarms; it must name one, e.g. by id."
        )
        return
    parent_id = str(parents[0]["id"])
    ids = await select(tx, children, outcome, owners)
    alarms = await lock(tx, [parent_id, *ids], owners)
    parent = alarms.get(parent_id)
    if parent is None:
        outcome.errors.append(f"{parent_what} matches no alarm.")
        return
    outcome.task["parentAlarm"] = {**task["parentAlarm"], **ref(parent)}
    if parent.get("state") == "cleared":
        outcome.errors.append(
            f"parentAlarm {parent_id} is cleared; a cleared alarm's correlation is kept as "
            "history and no longer changes."
        )
        return
    ancestors = await _ancestors(tx, parent) if grouping else set()
    new_parent = dict(parent)
    now = times.now()
    for id in ids:
        child = alarms.get(id)
        if child is None:
            continue
        reason = _why_not(child, parent_id, ancestors, grouping)
        if reason:
            outcome.leave(child, reason)
            continue
        links = [link for link in child.get("parentAlarm", []) if link.get("id") != parent_id]
        related = [link for link in new_parent.get("correlatedAlarm", []) if link.get("id") != id]
        new_child = {**child, "parentAlarm": [*links, ref(parent)] if grouping else links, "alarmChangedTime": now}
        new_parent["correlatedAlarm"] = [*related, ref(child)] if grouping else related
        for alarm in (new_child, new_parent):
            for name in ("parentAlarm", "correlatedAlarm"):
                if not alarm.get(name, True):
                    alarm.pop(name)
        new_child["isRootCause"] = root_cause(new_child)
        await operations.write_changed(tx, call, ALARMS, child, new_child)
        outcome.changed.append(ref(new_child))
    if outcome.changed:
        new_parent["isRootCause"] = root_cause(new_parent)
        new_parent["alarmChangedTime"] = now
        await operations.write_changed(tx, call, ALARMS, parent, new_parent)


def _why_not(child: Document, parent_id: str, ancestors: set[str], grouping: bool) -> str:
    grouped = any(link.get("id") == parent_id for link in child.get("parentAlarm", []))
    if child["id"] == parent_id:
        return "It is the parentAlarm itself."
    if child.get("state") == "cleared":
        return "It is cleared; a cleared alarm's correlation is kept as history and no longer changes."
    if grouping and grouped:
        return "It was already grouped under the parentAlarm."
    if grouping and child["id"] in ancestors:
        return "It is an ancestor of the parentAlarm; grouping it under it would make a cycle."
    if not grouping and not grouped:
        return "It is not grouped under the parentAlarm."
    return ""


async def _ancestors(tx: Transaction, alarm: Document) -> set[str]:
    """The ids of the alarms an alarm is grouped under, directly or not, following the links."""
    seen: set[str] = set()
    pending = [str(link.get("id")) for link in alarm.get("parentAlarm", [])]
    while pending:
        id = pending.pop()
        if id in seen:
            continue
        seen.add(id)
        above = await documents.get(tx, ALARMS, id)
        if above is not None:
            pending.extend(str(link.get("id")) for link in above.get("parentAlarm", []))
    return seen
