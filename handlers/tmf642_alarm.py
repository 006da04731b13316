"""TMF642 Alarm Management: alarms, their lifecycle, the tasks acting on sets of them, and their impact.

The rules of an alarm's lifecycle are in :mod:`handlers.alarms.lifecycle`, the six task resources in
:mod:`handlers.alarms.tasks`, and the affected services and the impact they show in
:mod:`handlers.alarms.impact`. Listing and retrieving are the generic TMF630 operations.
"""

from __future__ import annotations

from backends.base import Transaction
from handlers import apis
from handlers.alarms import impact as alarm_impact
from handlers.alarms import lifecycle as alarms
from handlers.alarms import tasks as alarm_tasks
from handlers.alarms.lifecycle import ALARMS, GROUPING
from handlers.alarms.tasks import Outcome
from tmfgate import documents, operations, times
from tmfgate.calls import Call, Reply
from tmfgate.errors import BadRequest
from tmfgate.extensions import Handlers
from tmfgate.patch import JSON_PATCH
from tmfgate.security.tenancy import visible
from tmfgate.types import Document

handlers = Handlers(apis.ALARM, api=apis.ALARM)


@handlers.operation
async def createAlarm(call: Call) -> Reply:
    """Raise an alarm, or update the open alarm it raises again (see :mod:`handlers.alarms.lifecycle`): 201 with the
    alarm and its ``Location`` either way, the only success the official TMF642 file gives ``POST /alarm``."""
    now = times.now()
    alarm = operations.new_document(call, call.body)
    alarms.prepare_new(alarm, now)
    async with call.gateway.transaction() as tx:
        await alarms.lock_identity(tx, alarm)
        owners = visible(call, ALARMS)  # a partner's alarm raises and affects only its own (tenancy)
        existing = await alarms.open_duplicate(tx, alarm, owners)
        old = await documents.locked(tx, ALARMS, existing, owners=owners) if existing is not None else None
        if old is not None and old.get("state") != "cleared":
            new = alarms.raised_again(old, alarm, now)
            await alarm_impact.fill_affected(tx, new, owners=visible(call, "service"))
            raw = await operations.write_changed(tx, call, ALARMS, old, new)
            await alarm_impact.follow(tx, call, [(old, new)])
            return Reply.created(raw, new["href"])
        await alarm_impact.fill_affected(tx, alarm, owners=visible(call, "service"))
        raw = await operations.write_new(tx, call, ALARMS, alarm)
        await alarm_impact.follow(tx, call, [(None, alarm)])
    return Reply.created(raw, alarm["href"])


@handlers.operation
async def patchAlarm(call: Call) -> Reply:
    """Change an alarm along its lifecycle; the services it affects follow."""
    now = times.now()
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        new = operations.patched(call, old)
        alarms.check_change(old, new, alarms.patch_sets(call.body, call.media_type == JSON_PATCH), now)
        if new.get("alarmedObject") != old.get("alarmedObject"):
            services = visible(call, "service")
            former = [str(entry["id"]) for entry in await alarm_impact.affected_services(tx, old, services)]
            await alarm_impact.fill_affected(tx, new, drop=former, owners=services)
        elif old.get("serviceAffecting") is False and new.get("serviceAffecting") is not False:
            await alarm_impact.fill_affected(tx, new, owners=visible(call, "service"))
        raw = await operations.write_changed(tx, call, ALARMS, old, new)
        await alarm_impact.follow(tx, call, [(old, new)])
    return Reply(200, raw)


@handlers.operation
async def deleteAlarm(call: Call) -> Reply:
    """Delete an alarm: the alarms grouped with it lose the link, and its impact ends."""
    now = times.now()
    async with call.gateway.transaction() as tx:
        # The alarm and those grouped with it are locked together in id order, as tasks lock them.
        owners = visible(call, ALARMS)
        seen = await documents.get(tx, ALARMS, call.id, owners=owners)
        if seen is None:
            raise operations.not_found(call)
        locked = await alarm_tasks.lock(tx, [call.id, *_grouped_with(seen)], owners)
        old = locked.pop(call.id, None)
        if old is None:
            raise operations.not_found(call)
        locked.update(await alarm_tasks.lock(tx, [id for id in _grouped_with(old) if id not in locked], owners))
        for other in locked.values():
            unlinked = dict(other)
            for name in GROUPING:
                links = [link for link in other.get(name, []) if link.get("id") != old["id"]]
                if links:
                    unlinked[name] = links
                else:
                    unlinked.pop(name, None)
            if unlinked != other:
                unlinked.update(isRootCause=alarms.root_cause(unlinked), alarmChangedTime=now)
                await operations.write_changed(tx, call, ALARMS, other, unlinked)
        await operations.write_deleted(tx, call, ALARMS, old)
        await alarm_impact.follow(tx, call, [(old, None)])
    return Reply(204)


@handlers.operation
async def createAckAlarms(call: Call) -> Reply:
    async def work(tx: Transaction, call: Call, task: Document, outcome: Outcome) -> None:
        await alarm_tasks.act(tx, call, task, outcome, alarm_tasks.acknowledging(task, "acknowledged"))

    return await alarm_tasks.run(call, "ackedAlarm", _ack_time, work)


@handlers.operation
async def createUnAckAlarms(call: Call) -> Reply:
    async def work(tx: Transaction, call: Call, task: Document, outcome: Outcome) -> None:
        await alarm_tasks.act(tx, call, task, outcome, alarm_tasks.acknowledging(task, "unacknowledged"))

    return await alarm_tasks.run(call, "unAckedAlarm", _ack_time, work)


@handlers.operation
async def createClearAlarms(call: Call) -> Reply:
    async def work(tx: Transaction, call: Call, task: Document, outcome: Outcome) -> None:
        await alarm_tasks.act(tx, call, task, outcome, alarm_tasks.clearing(task), impact=True)

    return await alarm_tasks.run(call, "clearedAlarm", _nothing, work)


@handlers.operation
async def createCommentAlarms(call: Call) -> Reply:
    async def work(tx: Transaction, call: Call, task: Document, outcome: Outcome) -> None:
        await alarm_tasks.act(tx, call, task, outcome, alarm_tasks.commenting(task))

    return await alarm_tasks.run(call, "commentedAlarm", _comment, work)


@handlers.operation
async def createGroupAlarms(call: Call) -> Reply:
    async def work(tx: Transaction, call: Call, task: Document, outcome: Outcome) -> None:
        await alarm_tasks.regroup(tx, call, task, outcome, grouping=True)

    return await alarm_tasks.run(call, "groupedAlarm", _nothing, work)


@handlers.operation
async def createUnGroupAlarms(call: Call) -> Reply:
    async def work(tx: Transaction, call: Call, task: Document, outcome: Outcome) -> None:
        await alarm_tasks.regroup(tx, call, task, outcome, grouping=False)

    return await alarm_tasks.run(call, "unGroupedAlarm", _nothing, work)


def _ack_time(task: Document) -> None:
    task.setdefault("ackTime", times.now())


def _comment(task: Document) -> None:
    comment = task["comment"]
    if not comment.get("comment"):
        raise BadRequest("comment.comment must give the text of the comment.")
    comment.setdefault("time", times.now())


def _nothing(task: Document) -> None:
    return None


def _grouped_with(alarm: Document) -> list[str]:
    """The ids of the alarms an alarm is grouped with (its parents and its correlated alarms)."""
    return sorted(
        {str(link["id"]) for name in GROUPING for link in alarm.get(name, []) if link.get("id")} - {alarm["id"]}
    )
