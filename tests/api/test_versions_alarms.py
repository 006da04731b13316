"""TMF642 on v5 acts as on v4 over the same store: an alarm raised on v5 impacts the service it is on,
seen on v4 and v5, and the v5 alarm tasks (ackAlarm, commentAlarm, clearAlarm, ...) are the v4 task
resources (ackAlarms, ...) under their v5 names, run by the same handlers."""

from __future__ import annotations

import uuid
from typing import Any

import requests

from tests.conftest import RunningGateway

ALARM = {"4": "/tmf-api/alarmManagement/v4", "5": "/tmf-api/alarmManagement/v5"}
SERVICES = {"4": "/tmf-api/serviceInventory/v4", "5": "/tmf-api/serviceInventory/v5"}
Doc = dict[str, Any]


def call(method: str, url: str, body: Any = None, status: int = 200) -> Any:
    reply = requests.request(method, url, json=body, timeout=10)
    assert reply.status_code == status, reply.text
    return reply.json() if reply.content else None


def v5_alarm(service: str) -> Doc:
    return {
        "@type": "Alarm",
        "alarmType": "communicationsAlarm",
        "perceivedSeverity": "major",
        "probableCause": "lossOfSignal",
        "specificProblem": "LOS on the line side",
        "alarmedObject": {"@type": "AlarmedObjectRef", "id": service, "@referredType": "Service"},
        "sourceSystemId": "ems-1",
        "state": "raised",
        "alarmRaisedTime": "2026-11-25T08:00:00.000Z",
    }


def enabled(url: str, service: str) -> dict[str, Any]:
    return {v: call("GET", f"{url}{SERVICES[v]}/service/{service}").get("isServiceEnabled", "absent") for v in "45"}


def test_an_alarm_raised_on_v5_impacts_its_service_on_both_versions_until_cleared_on_v5(
    gateway: RunningGateway,
) -> None:
    url = gateway.url
    service = call(
        "POST",
        f"{url}{SERVICES['4']}/service",
        {
            "name": f"Leased line {uuid.uuid4().hex[:6]}",
            "state": "active",
            "serviceSpecification": {"id": "ss-leased-line"},
        },
        201,
    )
    alarm = call("POST", f"{url}{ALARM['5']}/alarm", v5_alarm(service["id"]), 201)
    assert alarm["href"].startswith(f"{url}{ALARM['5']}/alarm/")
    assert [ref["id"] for ref in alarm["affectedService"]] == [service["id"]]
    assert enabled(url, service["id"]) == {"4": False, "5": False}
    assert call("GET", f"{url}{ALARM['4']}/alarm/{alarm['id']}")["ackState"] == "unacknowledged"

    pattern = [{"@type": "AlarmRef", "id": alarm["id"]}]
    ack = call(
        "POST",
        f"{url}{ALARM['5']}/ackAlarm",
        {"@type": "AckAlarm", "ackSystemId": "noc", "ackUserId": "u1", "alarmPattern": pattern},
        201,
    )
    assert ack["@type"] == "AckAlarm" and ack["href"] == f"{url}{ALARM['5']}/ackAlarm/{ack['id']}"
    assert [ref["id"] for ref in ack["ackedAlarm"]] == [alarm["id"]]
    # The task's documents map through the v5 node of the task: each alarm it acted on is a v5 AlarmRef.
    assert [ref["@type"] for ref in ack["ackedAlarm"]] == ["AlarmRef"]
    assert [ref["href"] for ref in ack["ackedAlarm"]] == [alarm["href"]]  # the v5 alarm, as called
    assert call("GET", ack["href"]) == ack
    assert [task["ackedAlarm"] for task in call("GET", f"{url}{ALARM['5']}/ackAlarm?id={ack['id']}")] == [
        ack["ackedAlarm"]
    ]
    # A filter on the v5 @type finds the task stored under its v4 name.
    assert [t["id"] for t in call("GET", f"{url}{ALARM['5']}/ackAlarm?@type=AckAlarm&id={ack['id']}")] == [ack["id"]]
    stored = call("GET", f"{url}{ALARM['4']}/ackAlarms/{ack['id']}")["ackedAlarm"][0]
    assert "@type" not in stored and stored["href"] == f"{url}{ALARM['4']}/alarm/{alarm['id']}"
    assert call("GET", f"{url}{ALARM['4']}/ackAlarms/{ack['id']}")["id"] == ack["id"]
    assert call("GET", f"{url}{ALARM['5']}/alarm/{alarm['id']}")["ackState"] == "acknowledged"

    comment = {"@type": "Comment", "comment": "looking", "userId": "u1", "time": "2026-11-25T09:00:00Z"}
    body = {"@type": "CommentAlarm", "comment": comment, "alarmPattern": pattern}
    call("POST", f"{url}{ALARM['5']}/commentAlarm", body, 201)
    assert [c["comment"] for c in call("GET", f"{url}{ALARM['4']}/alarm/{alarm['id']}")["comment"]] == ["looking"]

    clear = {
        "@type": "ClearAlarm",
        "clearSystemId": "noc",
        "clearUserId": "u1",
        "alarmClearedTime": "2026-11-25T12:00:00Z",
        "alarmPattern": pattern,
    }
    cleared = call("POST", f"{url}{ALARM['5']}/clearAlarm", clear, 201)
    assert [ref["id"] for ref in cleared["clearedAlarm"]] == [alarm["id"]]
    assert call("GET", f"{url}{ALARM['5']}/alarm/{alarm['id']}")["state"] == "cleared"
    assert enabled(url, service["id"]) == {"4": "absent", "5": "absent"}  # given back as it was
