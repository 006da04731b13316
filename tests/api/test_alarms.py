"""TMF642 Alarm Management end to end, over HTTP only, on SQLite and PostgreSQL.

Alarms are raised, raised again (updated, never duplicated), changed by PATCH along their
lifecycle, and acted on by every task resource, including selections that match nothing and alarms
already in the target state; alarms on the inventory fill in the services they affect, which show
the impact until the last alarm on them clears.
"""

from __future__ import annotations

import concurrent.futures
import re
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.api.end_to_end import Doc, GatewayClient, wait
from tests.conftest import RunningGateway, own_postgres_database
from tests.listeners import ListenerProcess

ALARM = "/tmf-api/alarmManagement/v4"
ALIAS = "/tmf-api/alarm/v4"
ORDERING = "/tmf-api/productOrderingManagement/v4"
SERVICES = "/tmf-api/serviceInventory/v4"
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


class Client(GatewayClient):
    """The calls an OSS client makes, against one gateway."""

    def post(self, path: str, body: Any, status: int = 201) -> Any:
        response = self.http.post(self.url + path, json=body, timeout=10)
        assert response.status_code == status, response.text
        return response.json()

    def patch(self, path: str, body: Any, status: int = 200, media: str = "application/merge-patch+json") -> Any:
        response = self.http.patch(self.url + path, json=body, headers={"Content-Type": media}, timeout=10)
        assert response.status_code == status, response.text
        return response.json()

    def alarm(self, id: str) -> Doc:
        return self.get(f"{ALARM}/alarm/{id}")  # type: ignore[no-any-return]

    def raise_alarm(self, obj: str, status: int = 201, **extra: Any) -> Doc:
        return self.post(f"{ALARM}/alarm", report(obj, **extra), status)  # type: ignore[no-any-return]

    def task(self, kind: str, body: Doc, status: int = 201) -> Doc:
        task = self.post(f"{ALARM}/{kind}", body, status)
        if status == 201:
            assert self.get(f"{ALARM}/{kind}/{task['id']}") == task
        return task  # type: ignore[no-any-return]

    def service(self, id: str) -> Doc:
        return self.get(f"{SERVICES}/service/{id}")  # type: ignore[no-any-return]


def report(obj: str, **extra: Any) -> Doc:
    alarm = {
        "alarmType": "communicationsAlarm",
        "perceivedSeverity": "major",
        "probableCause": "lossOfSignal",
        "specificProblem": "LOS on the line side",
        "alarmedObject": {"id": obj},
        "sourceSystemId": "ems-1",
        "state": "raised",
        "alarmRaisedTime": "2026-11-25T08:00:00.000Z",
    }
    alarm.update(extra)
    return {name: value for name, value in alarm.items() if value is not None}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def ids(refs: list[Doc]) -> list[str]:
    return [ref["id"] for ref in refs]


def reasons(task: Doc) -> dict[str, str]:
    return {entry["id"]: entry["reason"] for entry in task.get("unchangedAlarm", [])}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """One gateway per store for the module (fulfilment on, demo catalog); each test uses objects,
    alarms and orders of its own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('alarms') / 'tmfgate.db'}"
        with RunningGateway(url, retry_delay=0.1, retry_delay_max=0.5) as running:
            yield Client(running.url)
    else:
        with (
            own_postgres_database("tmfgate_alarms") as url,
            RunningGateway(url, retry_delay=0.1, retry_delay_max=0.5) as running,
        ):
            yield Client(running.url)


def test_a_reported_alarm_is_raised_unacknowledged_and_answers_at_both_base_paths(client: Client) -> None:
    obj = unique("ne")
    response = client.http.post(f"{client.url}{ALARM}/alarm", json=report(obj), timeout=10)
    assert response.status_code == 201, response.text
    alarm = response.json()
    assert response.headers["Location"] == alarm["href"] == f"{client.url}{ALARM}/alarm/{alarm['id']}"
    assert (alarm["state"], alarm["ackState"], alarm["@type"]) == ("raised", "unacknowledged", "Alarm")
    assert STAMP.fullmatch(alarm["alarmReportingTime"]) and STAMP.fullmatch(alarm["alarmChangedTime"])
    assert alarm["alarmRaisedTime"] == "2026-11-25T08:00:00.000Z"
    assert "affectedService" not in alarm and "serviceAffecting" not in alarm  # not an inventory object
    assert client.get(f"{ALIAS}/alarm/{alarm['id']}") == alarm
    assert client.get(f"{ALARM}/alarm", **{"alarmedObject.id": obj}) == [alarm]
    given = client.raise_alarm(
        unique("ne"),
        alarmReportingTime="2026-11-25T08:00:01.000Z",
        comment=[{"comment": "seen at the NOC", "userId": "ops-1"}],
    )
    assert given["alarmReportingTime"] == "2026-11-25T08:00:01.000Z"
    assert STAMP.fullmatch(given["comment"][0]["time"])


def test_an_alarm_report_that_breaks_the_rules_is_refused_and_nothing_is_stored(client: Client) -> None:
    obj = unique("ne")
    refused = [
        (report(obj, state="cleared"), "state must be raised"),
        (report(obj, state="updated"), "state must be raised"),
        (report(obj, perceivedSeverity="cleared"), "cannot have perceivedSeverity cleared"),
        (report(obj, perceivedSeverity="huge"), "perceivedSeverity 'huge' is not one of"),
        (report(obj, ackState="acknowledged"), "A new alarm is unacknowledged"),
        (report(obj, ackUserId="ops-1"), "ackUserId tell who changed the acknowledgement"),
        (report(obj, clearSystemId="noc"), "clearSystemId are set when an alarm is cleared"),
        (report(obj, parentAlarm=[{"id": "x"}]), "parentAlarm are set by groupAlarms"),
        (report(obj, probableCause=None), "probableCause"),
        (report(obj, alarmedObject={"@type": "Router"}), "alarmedObject must give the id"),
        (report(obj, id="mine"), "id is set by the server"),
    ]
    for body, message in refused:
        response = client.http.post(f"{client.url}{ALARM}/alarm", json=body, timeout=10)
        assert response.status_code == 400, (body, response.text)
        assert message in response.json()["message"], response.text
    assert client.get(f"{ALARM}/alarm", **{"alarmedObject.id": obj}) == []


def test_raising_the_same_alarm_again_updates_it_instead_of_duplicating_it(client: Client) -> None:
    obj = unique("ne")
    first = client.raise_alarm(obj)
    response = client.http.post(
        f"{client.url}{ALARM}/alarm",
        timeout=10,
        json=report(
            obj,
            perceivedSeverity="critical",
            alarmDetails="all wavelengths down",
            alarmRaisedTime="2026-11-25T09:00:00Z",
            comment=[{"comment": "second report", "time": "2026-11-25T09:00:00Z"}],
        ),
    )
    assert response.status_code == 201, response.text  # the official file gives POST /alarm no 200
    again = response.json()
    assert response.headers["Location"] == first["href"]
    assert again["id"] == first["id"]
    assert (again["state"], again["perceivedSeverity"], again["alarmDetails"]) == (
        "updated",
        "critical",
        "all wavelengths down",
    )
    assert again["alarmRaisedTime"] == first["alarmRaisedTime"]
    assert again["alarmReportingTime"] == first["alarmReportingTime"]
    assert again["comment"] == [{"comment": "second report", "time": "2026-11-25T09:00:00Z"}]
    assert client.get(f"{ALARM}/alarm", **{"alarmedObject.id": obj}) == [again]
    # Another specific problem, none at all, or another source: other alarms.
    other = client.raise_alarm(obj, specificProblem="LOS on the client side")
    bare = client.raise_alarm(obj, specificProblem=None)
    elsewhere = client.raise_alarm(obj, sourceSystemId="ems-2")
    assert len({first["id"], other["id"], bare["id"], elsewhere["id"]}) == 4
    assert client.raise_alarm(obj, specificProblem=None)["id"] == bare["id"]
    # An acknowledged alarm raised again stays acknowledged; a cleared one is history: a new alarm.
    client.patch(f"{ALARM}/alarm/{other['id']}", {"ackState": "acknowledged", "ackSystemId": "noc", "ackUserId": "u1"})
    assert client.raise_alarm(obj, specificProblem="LOS on the client side")["ackState"] == "acknowledged"
    client.patch(f"{ALARM}/alarm/{first['id']}", {"state": "cleared"})
    fresh = client.raise_alarm(obj)
    assert fresh["id"] != first["id"] and fresh["state"] == "raised"
    assert client.alarm(first["id"])["state"] == "cleared"
    assert len(client.get(f"{ALARM}/alarm", **{"alarmedObject.id": obj})) == 5


def test_the_same_alarm_reported_many_times_at_once_is_raised_once(client: Client) -> None:
    for _ in range(3):  # a race lost once in a while would pass a single try
        obj = unique("ne")
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            answers = list(
                pool.map(
                    partial(requests.post, f"{client.url}{ALARM}/alarm", timeout=30), [None] * 12, [report(obj)] * 12
                )
            )
        assert [answer.status_code for answer in answers] == [201] * 12, [a.text for a in answers]
        stored = client.get(f"{ALARM}/alarm", **{"alarmedObject.id": obj})
        assert len(stored) == 1 and {answer.json()["id"] for answer in answers} == {stored[0]["id"]}
        assert {answer.headers["Location"] for answer in answers} == {stored[0]["href"]}
        assert [answer.json()["state"] for answer in answers].count("raised") == 1


def test_patch_allows_only_the_changes_of_the_alarm_lifecycle(client: Client) -> None:
    alarm = client.raise_alarm(unique("ne"), alarmChangedTime="2026-11-25T08:00:00.000Z")
    path = f"{ALARM}/alarm/{alarm['id']}"
    changed = client.patch(path, {"perceivedSeverity": "minor"})
    assert (changed["state"], changed["perceivedSeverity"]) == ("updated", "minor")
    assert changed["alarmChangedTime"] != "2026-11-25T08:00:00.000Z"
    refused = [
        ({"ackState": "acknowledged"}, 400, "add ackSystemId and ackUserId"),
        ({"ackState": "acknowledged", "ackUserId": "u1"}, 400, "add ackSystemId"),
        ({"ackState": "maybe", "ackSystemId": "noc", "ackUserId": "u1"}, 400, "ackState 'maybe' is not one of"),
        ({"ackUserId": "u1"}, 400, "change them only with it"),
        ({"clearUserId": "u1"}, 400, "clearUserId are set when the alarm is cleared"),
        ({"parentAlarm": [{"id": "x"}]}, 400, "groupAlarms and unGroupAlarms"),
        ({"alarmRaisedTime": "2026-11-26T08:00:00Z"}, 400, "alarmRaisedTime cannot be changed"),
        ({"state": "raised"}, 409, "cannot change from updated to raised"),
        ({"state": "gone"}, 400, "state 'gone' is not one of"),
    ]
    for body, status, message in refused:
        assert message in client.patch(path, body, status)["message"]
    assert client.alarm(alarm["id"]) == changed  # nothing stored by the refused changes
    acked = client.patch(path, {"ackState": "acknowledged", "ackSystemId": "noc", "ackUserId": "u1"})
    assert (acked["ackState"], acked["ackSystemId"], acked["ackUserId"]) == ("acknowledged", "noc", "u1")
    assert acked["state"] == "updated"
    commented = client.patch(path, {"comment": [{"comment": "fibre cut", "userId": "u1"}]})
    assert STAMP.fullmatch(commented["comment"][0]["time"])
    assert "leave those as they are" in client.patch(path, {"comment": []}, 400)["message"]
    added = client.patch(
        path,
        [{"op": "add", "path": "/comment/-", "value": {"comment": "crew sent"}}],
        media="application/json-patch+json",
    )
    assert [c["comment"] for c in added["comment"]] == ["fibre cut", "crew sent"]
    cleared = client.patch(path, {"state": "cleared", "clearSystemId": "noc", "clearUserId": "u2"})
    assert (cleared["state"], cleared["perceivedSeverity"]) == ("cleared", "cleared")
    assert (cleared["clearSystemId"], cleared["clearUserId"]) == ("noc", "u2")
    assert STAMP.fullmatch(cleared["alarmClearedTime"])
    assert (cleared["ackState"], cleared["comment"]) == ("acknowledged", added["comment"])  # history kept
    for body, status, message in [
        ({"state": "raised"}, 409, "cleared is a final state"),
        ({"perceivedSeverity": "major"}, 409, "perceivedSeverity can no longer change"),
        ({"alarmDetails": "more"}, 409, "alarmDetails can no longer change"),
        ({"clearUserId": "u3"}, 409, "clearUserId can no longer change"),
    ]:
        assert message in client.patch(path, body, status)["message"]
    unacked = client.patch(path, {"ackState": "unacknowledged", "ackSystemId": "noc", "ackUserId": "u3"})
    assert (unacked["ackState"], unacked["ackUserId"], unacked["state"]) == ("unacknowledged", "u3", "cleared")
    by_severity = client.raise_alarm(unique("ne"))
    cleared = client.patch(f"{ALARM}/alarm/{by_severity['id']}", {"perceivedSeverity": "cleared"})
    assert (cleared["state"], cleared["perceivedSeverity"]) == ("cleared", "cleared")
    assert "clearUserId" not in cleared and STAMP.fullmatch(cleared["alarmClearedTime"])


def test_ack_and_unack_tasks_report_what_they_changed_and_what_not(client: Client) -> None:
    obj = unique("ne")
    a1, a2 = client.raise_alarm(obj, probableCause="c1"), client.raise_alarm(obj, probableCause="c2")
    a3 = client.raise_alarm(obj, probableCause="c3", perceivedSeverity="minor")
    user = unique("user")
    ack = {"ackSystemId": "noc", "ackUserId": user}
    majors = [{"alarmedObject": {"id": obj}, "perceivedSeverity": "major"}]
    task = client.task("ackAlarms", {**ack, "alarmPattern": majors})
    assert (task["state"], sorted(ids(task["ackedAlarm"]))) == ("done", sorted([a1["id"], a2["id"]]))
    assert "unchangedAlarm" not in task and "errorMessage" not in task and STAMP.fullmatch(task["ackTime"])
    assert task["ackedAlarm"][0]["href"].startswith(f"{client.url}{ALARM}/alarm/")
    for alarm in (a1, a2):
        now = client.alarm(alarm["id"])
        assert (now["ackState"], now["ackSystemId"], now["ackUserId"], now["state"]) == (
            "acknowledged",
            "noc",
            user,
            "raised",
        )
    assert client.alarm(a3["id"])["ackState"] == "unacknowledged"
    # Everything on the object: the third is acknowledged, the first two already were.
    task = client.task("ackAlarms", {**ack, "alarmPattern": [{"alarmedObject": {"id": obj}}]})
    assert (task["state"], ids(task["ackedAlarm"])) == ("done", [a3["id"]])
    assert reasons(task) == {
        a1["id"]: f"It was already acknowledged by {user}.",
        a2["id"]: f"It was already acknowledged by {user}.",
    }
    # A selection that matches nothing: the task ends in error and says which.
    task = client.task("ackAlarms", {**ack, "alarmPattern": [{"id": a1["id"]}, {"probableCause": unique("none")}]})
    assert (task["state"], task["ackedAlarm"]) == ("terminatedWithError", [])
    assert task["errorMessage"] == "alarmPattern[1] matches no alarm."
    assert reasons(task) == {a1["id"]: f"It was already acknowledged by {user}."}
    # Unacknowledge by id and by href through the other base path.
    unack = {
        "ackSystemId": "noc",
        "ackUserId": "u9",
        "alarmPattern": [{"id": a1["id"]}, {"href": f"{client.url}{ALIAS}/alarm/{a2['id']}"}],
    }
    task = client.task("unAckAlarms", unack)
    assert (task["state"], sorted(ids(task["unAckedAlarm"]))) == ("done", sorted([a1["id"], a2["id"]]))
    assert (client.alarm(a1["id"])["ackState"], client.alarm(a1["id"])["ackUserId"]) == ("unacknowledged", "u9")
    task = client.task("unAckAlarms", {**unack, "alarmPattern": [{"id": a1["id"]}, {"id": "no-such-alarm"}]})
    assert (task["state"], task["unAckedAlarm"]) == ("terminatedWithError", [])
    assert reasons(task) == {a1["id"]: "It is not acknowledged."}
    assert task["errorMessage"] == "alarmPattern[1] (id no-such-alarm) matches no alarm."
    # Requests that cannot be used store nothing.
    for body, message in [
        ({**ack, "alarmPattern": [{}]}, "gives no attribute value"),
        ({**ack, "alarmPattern": [{"@type": "Alarm"}]}, "gives no attribute value"),
        ({**ack, "alarmPattern": [{"id": a3["id"]}], "state": "done"}, "state is set by the server"),
        ({**ack, "alarmPattern": [{"id": a3["id"]}], "ackedAlarm": []}, "ackedAlarm is set by the server"),
        ({"ackSystemId": "noc", "alarmPattern": [{"id": a3["id"]}]}, "ackUserId"),
        ({**ack, "alarmPattern": [{"alarmRaisedTime": "yesterday"}]}, "alarmRaisedTime"),
    ]:
        assert message in client.task("ackAlarms", body, 400)["message"]
    assert len(client.get(f"{ALARM}/ackAlarms", ackUserId=user)) == 3
    assert client.alarm(a3["id"])["ackUserId"] == user


def test_patterns_match_nested_values_dates_and_booleans(client: Client) -> None:
    obj = unique("ne")
    escalated = client.raise_alarm(
        obj,
        alarmEscalation=True,
        alarmRaisedTime="2026-11-25T10:00:00+01:00",
        crossedThresholdInformation={"indicatorName": "rxPower", "direction": "down"},
    )
    plain = client.raise_alarm(obj, probableCause="other")
    pattern = {
        "alarmedObject": {"id": obj},
        "alarmEscalation": True,
        "alarmRaisedTime": "2026-11-25T09:00:00Z",
        "crossedThresholdInformation": {"indicatorName": "rxPower"},
    }
    task = client.task("commentAlarms", {"comment": {"comment": "escalated"}, "alarmPattern": [pattern]})
    assert (task["state"], ids(task["commentedAlarm"])) == ("done", [escalated["id"]])
    assert "comment" not in client.alarm(plain["id"])


def test_clear_and_comment_tasks_keep_the_history_of_the_alarms(client: Client) -> None:
    obj = unique("ne")
    ems = {"comment": "from the EMS", "time": "2026-11-25T08:00:00Z"}
    a1 = client.raise_alarm(obj, probableCause="c1", comment=[ems])
    a2 = client.raise_alarm(obj, probableCause="c2")
    client.task("ackAlarms", {"ackSystemId": "noc", "ackUserId": "u1", "alarmPattern": [{"id": a1["id"]}]})
    note = {"comment": "crew on site", "systemId": "noc", "userId": "u1", "time": "2026-11-25T10:00:00.000Z"}
    task = client.task("commentAlarms", {"comment": note, "alarmPattern": [{"alarmedObject": {"id": obj}}]})
    assert (task["state"], sorted(ids(task["commentedAlarm"]))) == ("done", sorted([a1["id"], a2["id"]]))
    assert client.alarm(a1["id"])["comment"] == [ems, note]
    again = client.task("commentAlarms", {"comment": note, "alarmPattern": [{"id": a2["id"]}]})
    assert (again["state"], again["commentedAlarm"], reasons(again)) == (
        "done",
        [],
        {a2["id"]: "It already has this comment."},
    )
    nowhere = client.task("commentAlarms", {"comment": note, "alarmPattern": [{"alarmedObject": {"id": unique("ne")}}]})
    assert (nowhere["state"], nowhere["commentedAlarm"], nowhere["errorMessage"]) == (
        "terminatedWithError",
        [],
        "alarmPattern[0] matches no alarm.",
    )
    stamped = client.task("commentAlarms", {"comment": {"comment": "no time"}, "alarmPattern": [{"id": a2["id"]}]})
    assert STAMP.fullmatch(stamped["comment"]["time"])
    assert client.alarm(a2["id"])["comment"][-1] == stamped["comment"]
    clear: Doc = {
        "clearSystemId": "noc",
        "clearUserId": unique("user"),
        "alarmClearedTime": "2026-11-25T11:00:00.000Z",
        "alarmPattern": [{"alarmedObject": {"id": obj}, "probableCause": "c1"}, {"id": a2["id"]}],
    }
    task = client.task("clearAlarms", clear)
    assert (task["state"], sorted(ids(task["clearedAlarm"]))) == ("done", sorted([a1["id"], a2["id"]]))
    one = client.alarm(a1["id"])
    assert (one["state"], one["perceivedSeverity"], one["alarmClearedTime"]) == (
        "cleared",
        "cleared",
        "2026-11-25T11:00:00.000Z",
    )
    assert (one["clearSystemId"], one["clearUserId"]) == ("noc", clear["clearUserId"])
    assert (one["ackState"], one["ackUserId"], len(one["comment"])) == ("acknowledged", "u1", 2)
    assert one["alarmRaisedTime"] == a1["alarmRaisedTime"]
    again = client.task("clearAlarms", {**clear, "alarmPattern": [{"alarmedObject": {"id": obj}}]})
    assert (again["state"], again["clearedAlarm"]) == ("done", [])
    assert reasons(again) == {
        a1["id"]: "It was already cleared at 2026-11-25T11:00:00.000Z.",
        a2["id"]: "It was already cleared at 2026-11-25T11:00:00.000Z.",
    }
    missing = client.task("clearAlarms", {**clear, "alarmPattern": [{"alarmedObject": {"id": unique("ne")}}]})
    assert (missing["state"], missing["errorMessage"]) == ("terminatedWithError", "alarmPattern[0] matches no alarm.")
    late = client.task("commentAlarms", {"comment": {"comment": "closed"}, "alarmPattern": [{"id": a1["id"]}]})
    assert ids(late["commentedAlarm"]) == [a1["id"]]  # a cleared alarm can still be commented on
    assert {t["id"] for t in client.get(f"{ALARM}/clearAlarms", clearUserId=clear["clearUserId"])} == {
        task["id"],
        again["id"],
        missing["id"],
    }
    assert (
        "comment.comment must give"
        in client.task("commentAlarms", {"comment": {"userId": "u1"}, "alarmPattern": [{"id": a1["id"]}]}, 400)[
            "message"
        ]
    )


def test_group_and_ungroup_link_alarms_to_their_root_cause(client: Client) -> None:
    obj = unique("ne")
    parent = client.raise_alarm(obj, probableCause="powerProblem")
    c1, c2 = client.raise_alarm(unique("port"), isRootCause=True), client.raise_alarm(unique("port"))
    gone = client.raise_alarm(unique("port"))
    client.patch(f"{ALARM}/alarm/{gone['id']}", {"state": "cleared"})
    group = {
        "sourceSystemId": "correlator",
        "alarmChangedTime": "2026-11-25T09:00:00Z",
        "parentAlarm": {"id": parent["id"]},
    }
    task = client.task(
        "groupAlarms",
        {
            **group,
            "correlatedAlarm": [
                {"id": c1["id"]},
                {"id": c2["id"]},
                {"id": parent["id"]},
                {"id": gone["id"]},
                {"id": "no-such-alarm"},
            ],
        },
    )
    assert (task["state"], ids(task["groupedAlarm"])) == ("terminatedWithError", [c1["id"], c2["id"]])
    assert task["errorMessage"] == "correlatedAlarm[4] (id no-such-alarm) matches no alarm."
    assert reasons(task) == {
        parent["id"]: "It is the parentAlarm itself.",
        gone["id"]: ("It is cleared; a cleared alarm's correlation is kept as history and no longer changes."),
    }
    assert task["parentAlarm"] == {"id": parent["id"], "href": parent["href"], "@referredType": "Alarm"}
    root = client.alarm(parent["id"])
    assert (ids(root["correlatedAlarm"]), root["isRootCause"]) == ([c1["id"], c2["id"]], True)
    child = client.alarm(c1["id"])
    assert (child["parentAlarm"], child["isRootCause"]) == (
        [{"id": parent["id"], "href": parent["href"], "@referredType": "Alarm"}],
        False,
    )
    assert "parentAlarm" not in client.alarm(gone["id"])
    again = client.task("groupAlarms", {**group, "correlatedAlarm": [{"id": c1["id"]}]})
    assert (again["state"], again["groupedAlarm"]) == ("done", [])
    assert reasons(again) == {c1["id"]: "It was already grouped under the parentAlarm."}
    cycle = client.task(
        "groupAlarms", {**group, "parentAlarm": {"id": c1["id"]}, "correlatedAlarm": [{"id": parent["id"]}]}
    )
    assert reasons(cycle) == {
        parent["id"]: "It is an ancestor of the parentAlarm; grouping it under it would make a cycle."
    }
    assert "correlatedAlarm" not in client.alarm(c1["id"])
    # Ungroup, naming the parent by value rather than by id.
    by_value = {"alarmedObject": {"id": obj}, "probableCause": "powerProblem", "@type": "AlarmRefOrValue"}
    ungroup = {**group, "parentAlarm": by_value, "correlatedAlarm": [{"id": c1["id"]}]}
    task = client.task("unGroupAlarms", ungroup)
    assert (task["state"], ids(task["unGroupedAlarm"]), task["parentAlarm"]["id"]) == ("done", [c1["id"]], parent["id"])
    assert "parentAlarm" not in client.alarm(c1["id"]) and client.alarm(c1["id"])["isRootCause"] is False
    root = client.alarm(parent["id"])
    assert (ids(root["correlatedAlarm"]), root["isRootCause"]) == ([c2["id"]], True)
    again = client.task("unGroupAlarms", ungroup)
    assert (again["unGroupedAlarm"], reasons(again)) == ([], {c1["id"]: "It is not grouped under the parentAlarm."})
    nothing = client.task("unGroupAlarms", {**ungroup, "correlatedAlarm": [{"alarmedObject": {"id": unique("ne")}}]})
    assert (nothing["state"], nothing["unGroupedAlarm"], nothing["errorMessage"]) == (
        "terminatedWithError",
        [],
        "correlatedAlarm[0] matches no alarm.",
    )
    # Deleting a grouped alarm unlinks it; the last child gone, the parent is no longer a root cause.
    response = client.http.delete(f"{client.url}{ALARM}/alarm/{c2['id']}", timeout=10)
    assert response.status_code == 204
    root = client.alarm(parent["id"])
    assert "correlatedAlarm" not in root and root["isRootCause"] is False
    # A parent that cannot be used.
    missing = client.task(
        "groupAlarms", {**group, "parentAlarm": {"id": "no-such-alarm"}, "correlatedAlarm": [{"id": c1["id"]}]}
    )
    assert (missing["state"], missing["errorMessage"]) == (
        "terminatedWithError",
        "parentAlarm (id no-such-alarm) matches no alarm.",
    )
    closed = client.task(
        "groupAlarms", {**group, "parentAlarm": {"id": gone["id"]}, "correlatedAlarm": [{"id": c1["id"]}]}
    )
    assert (closed["state"], closed["groupedAlarm"]) == ("terminatedWithError", [])
    assert closed["errorMessage"].startswith(f"parentAlarm {gone['id']} is cleared")
    assert "parentAlarm" not in client.alarm(c1["id"])


def fibre(client: Client) -> tuple[Doc, Doc, str, str]:
    """A completed fibre order: its internet and access services, and the port and address they hold."""
    order = client.post(
        f"{ORDERING}/productOrder",
        {
            "productOrderItem": [
                {"id": "1", "action": "add", "quantity": 1, "productOffering": {"id": "po-fibre-500"}}
            ],
            "relatedParty": [
                {"id": "cust-42", "name": "Ada Lovelace", "role": "customer", "@referredType": "Individual"}
            ],
        },
    )
    order = wait(
        lambda: client.get(f"{ORDERING}/productOrder/{order['id']}"),
        lambda o: o["state"] not in ("acknowledged", "inProgress"),
        30,
        "the fibre order to end",
    )
    assert order["state"] == "completed", order.get("note")
    services = [client.service(ref["id"]) for ref in order["productOrderItem"][0]["product"]["realizingService"]]
    internet = next(s for s in services if s["serviceSpecification"]["id"] == "ss-internet-access")
    access = next(s for s in services if s is not internet)
    assert ids(internet["supportingService"]) == [access["id"]]
    return internet, access, access["supportingResource"][0]["id"], internet["supportingResource"][0]["id"]


def enabled(client: Client, *services: Doc) -> list[Any]:
    return [client.service(service["id"]).get("isServiceEnabled", "absent") for service in services]


def test_alarms_on_the_inventory_impact_its_services_until_the_last_one_clears(client: Client) -> None:
    internet, access, port, address = fibre(client)
    assert enabled(client, access, internet) == [True, True]
    on_port = client.raise_alarm(port, alarmedObject={"id": port, "@referredType": "Resource"})
    both = [{"id": access["id"], "href": access["href"]}, {"id": internet["id"], "href": internet["href"]}]
    assert (on_port["affectedService"], on_port["serviceAffecting"]) == (both, True)
    assert enabled(client, access, internet) == [False, False]
    assert [client.service(s["id"])["state"] for s in (access, internet)] == ["active", "active"]
    on_access = client.raise_alarm(access["id"], probableCause="degradedSignal")
    assert on_access["affectedService"] == both
    on_address = client.raise_alarm(address, probableCause="duplicateAddress")
    assert on_address["affectedService"] == [{"id": internet["id"], "href": internet["href"]}]
    quiet = client.raise_alarm(port, probableCause="fanFailure", serviceAffecting=False)
    assert "affectedService" not in quiet
    # The port's alarm clears: the access and internet services still suffer the other two.
    client.task(
        "clearAlarms",
        {
            "clearSystemId": "noc",
            "clearUserId": "u1",
            "alarmClearedTime": "2026-11-25T12:00:00Z",
            "alarmPattern": [{"id": on_port["id"]}],
        },
    )
    assert enabled(client, access, internet) == [False, False]
    client.patch(f"{ALARM}/alarm/{on_access['id']}", {"state": "cleared"})
    assert enabled(client, access, internet) == [True, False]
    raised_again = client.raise_alarm(address, probableCause="duplicateAddress")
    assert raised_again["affectedService"] == on_address["affectedService"]
    assert client.http.delete(f"{client.url}{ALARM}/alarm/{on_address['id']}", timeout=10).status_code == 204
    assert enabled(client, access, internet) == [True, True]
    # A service of the client's own with no isServiceEnabled gets it back absent, exactly as it was.
    own = client.post(
        f"{SERVICES}/service",
        {"name": "Leased line", "state": "active", "serviceSpecification": {"id": "ss-leased-line"}},
    )
    alarm = client.raise_alarm(own["id"], alarmedObject={"id": own["id"], "@referredType": "Service"})
    assert ids(alarm["affectedService"]) == [own["id"]] and enabled(client, own) == [False]
    client.patch(f"{ALARM}/alarm/{alarm['id']}", {"perceivedSeverity": "cleared"})
    assert client.service(own["id"]) == own


def test_subscribers_see_the_alarm_the_tasks_and_the_impact_on_services(client: Client, tmp_path: Path) -> None:
    internet, access, port, _ = fibre(client)
    with ListenerProcess(tmp_path / "listener.log") as listener:
        hubs = [
            client.post(f"{base}/hub", {"callback": listener.callback, "query": query})
            for base, query in [(ALARM, ""), (SERVICES, f"event.service.id={access['id']}")]
        ]
        try:
            alarm = client.raise_alarm(port)
            task = client.task(
                "ackAlarms", {"ackSystemId": "noc", "ackUserId": "u1", "alarmPattern": [{"id": alarm["id"]}]}
            )
            client.task(
                "clearAlarms",
                {
                    "clearSystemId": "noc",
                    "clearUserId": "u1",
                    "alarmClearedTime": "2026-11-25T12:00:00Z",
                    "alarmPattern": [{"id": alarm["id"]}],
                },
            )
            # Each resource's events arrive in order; the three resources' may interleave.
            expected: dict[str, list[tuple[str, Any]]] = {
                "alarm": [
                    ("AlarmCreateEvent", "raised"),
                    ("AlarmAttributeValueChangeEvent", "acknowledged"),
                    ("AlarmStateChangeEvent", "cleared"),
                ],
                "service": [("ServiceAttributeValueChangeEvent", False), ("ServiceAttributeValueChangeEvent", True)],
                "ackAlarms": [("AckAlarmsCreateEvent", "inProgress"), ("AckAlarmsStateChangeEvent", "done")],
                "clearAlarms": [("ClearAlarmsCreateEvent", "inProgress"), ("ClearAlarmsStateChangeEvent", "done")],
            }

            def seen(entries: list[Doc]) -> dict[str, list[tuple[str, Any]]]:
                found: dict[str, list[tuple[str, Any]]] = {}
                for entry in entries:
                    body = entry["body"]
                    kind, doc = next(iter(body["event"].items()))
                    value = {
                        "service": doc.get("isServiceEnabled"),
                        "alarm": doc.get("ackState")
                        if body["eventType"] == "AlarmAttributeValueChangeEvent"
                        else doc.get("state"),
                    }
                    found.setdefault(kind, []).append((body["eventType"], value.get(kind, doc.get("state"))))
                return found

            total = sum(len(events) for events in expected.values())
            entries = listener.wait_for(lambda got: len(got) >= total, 20, "the events")
            assert seen(entries) == expected
            changed = next(e["body"] for e in entries if e["body"]["eventType"] == "AlarmAttributeValueChangeEvent")
            assert changed["fieldPath"] == "ackState,ackSystemId,ackUserId,alarmChangedTime"
            created = next(e["body"] for e in entries if e["body"]["eventType"] == "AckAlarmsCreateEvent")
            assert created["event"]["ackAlarms"]["id"] == task["id"]
        finally:
            for base, hub in zip((ALARM, SERVICES), hubs, strict=True):
                client.http.delete(f"{client.url}{base}/hub/{hub['id']}", timeout=10)
