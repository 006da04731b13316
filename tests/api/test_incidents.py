"""Alarm to ticket over HTTP, on every store (in process): a service-affecting alarm on a resource opens one
incident per affected customer, a correlated alarm joins it, clearing resolves it, the SLA escalates it,
and a quiet time closes it; rules come from settings."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import open_backend
from handlers.tickets.incidents import CHANNEL
from handlers.tickets.lifecycle import TICKETS as TICKET_KIND
from tests.api.clients import BASE_URL, AppClient, in_process
from tests.api.end_to_end import wait
from tests.listeners import Entry, ListenerProcess
from tmfgate import codec, model, specs, times
from tmfgate.events import EventBuilder

TICKETS = f"{BASE_URL}/tmf-api/troubleTicket/v4/troubleTicket"
ALARMS = f"{BASE_URL}/tmf-api/alarmManagement/v4/alarm"
RESOURCES = f"{BASE_URL}/tmf-api/resourceInventoryManagement/v4/resource"
SERVICES = f"{BASE_URL}/tmf-api/serviceInventory/v4/service"
PRODUCTS = f"{BASE_URL}/tmf-api/productInventory/v4/product"
MERGE = {"Content-Type": "application/merge-patch+json"}
SLA = 4.0  # seconds: short, so a test sees an escalation
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def client(store: str) -> Iterator[AppClient]:
    with in_process(store, fulfilment=False, incident_sla=SLA, incident_quiet_time=1.0) as running:
        yield running


def created(http: AppClient, url: str, body: Doc) -> Doc:
    answer = http.post(url, json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def network(http: AppClient, customers: int) -> tuple[Doc, list[str]]:
    """A resource (an OLT port) supporting an RFS that one CFS per customer relies on, each realizing the
    customer's product; and the customer ids."""
    olt = created(http, RESOURCES, {"name": f"olt-{uuid.uuid4().hex[:6]}", "@type": "LogicalResource"})
    port = [{"id": olt["id"], "href": olt["href"], "@referredType": "LogicalResource"}]
    spec = {"serviceSpecification": {"id": "ss-broadband", "@referredType": "ServiceSpecification"}}
    access = created(
        http, SERVICES, {"name": "access", "category": "RFS", "state": "active", "supportingResource": port, **spec}
    )
    ids = []
    for n in range(customers):
        cfs = created(
            http,
            SERVICES,
            {
                "name": f"broadband {n}",
                "category": "CFS",
                "state": "active",
                "supportingService": [{"id": access["id"], "href": access["href"]}],
                **spec,
            },
        )
        customer = f"cust-{uuid.uuid4().hex[:8]}"
        created(
            http,
            PRODUCTS,
            {
                "name": "Fibre 500",
                "status": "active",
                "realizingService": [{"id": cfs["id"], "href": cfs["href"], "@referredType": "Service"}],
                "relatedParty": [{"id": customer, "role": "customer", "@referredType": "Individual"}],
            },
        )
        ids.append(customer)
    return olt, ids


def raise_alarm(http: AppClient, resource: Doc, severity: str = "critical", kind: str = "equipmentAlarm") -> Doc:
    return created(
        http,
        ALARMS,
        {
            "alarmType": kind,
            "perceivedSeverity": severity,
            "probableCause": f"cause-{uuid.uuid4().hex[:6]}",
            "alarmedObject": {"id": resource["id"], "@referredType": "LogicalResource"},
            "sourceSystemId": "nms",
            "state": "raised",
            "alarmRaisedTime": "2026-01-01T00:00:00Z",
        },
    )


def tickets_of(http: AppClient, customer: str) -> list[Doc]:
    answer = http.get(TICKETS, params={"relatedParty.id": customer, "ticketType": "incident"})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def clear(http: AppClient, alarm: Doc) -> None:
    answer = http.patch(f"{ALARMS}/{alarm['id']}", json={"state": "cleared"}, headers=MERGE)
    assert answer.status_code == 200, answer.text


def test_an_alarm_opens_one_incident_per_customer_a_correlated_one_joins_and_clearing_resolves(
    client: AppClient,
) -> None:
    http = client
    olt, customers = network(http, 3)
    first = raise_alarm(http, olt)
    opened = {c: wait(lambda c=c: tickets_of(http, c), bool, 20, f"the incident of {c}") for c in customers}
    for customer, (ticket,) in opened.items():
        assert ticket["status"] == "acknowledged" and ticket["severity"] == "critical"
        assert ticket["priority"] == "high" and ticket["expectedResolutionDate"] > ticket["creationDate"]
        roles = {(e["role"], e["@referredType"]) for e in ticket["relatedEntity"]}
        assert roles == {("rootCause", "LogicalResource"), ("alarm", "Alarm"), ("affectedProduct", "Product")}
        assert ticket["relatedParty"] == [{"id": customer, "role": "customer", "@referredType": "Individual"}]
    second = raise_alarm(http, olt, severity="major", kind="communicationsAlarm")
    customer = customers[0]
    joined = wait(
        lambda: tickets_of(http, customer),
        lambda found: len(found) == 1 and second["id"] in {e["id"] for e in found[0]["relatedEntity"]},
        20,
        "the second alarm to join",
    )
    assert joined[0]["id"] == opened[customer][0]["id"] and "joined" in joined[0]["note"][-1]["text"]
    assert all(len(tickets_of(http, c)) == 1 for c in customers)  # no ticket per alarm
    product = next(e for e in joined[0]["relatedEntity"] if e["role"] == "affectedProduct")
    shown = http.get(f"{PRODUCTS}/{product['id']}").json()["productCharacteristic"]
    assert shown == [
        {
            "name": "openTroubleTicket",
            "valueType": "array",
            "value": [{"id": joined[0]["id"], "href": joined[0]["href"]}],
        }
    ]
    clear(http, first)
    clear(http, second)
    for c in customers:
        (done,) = wait(lambda c=c: tickets_of(http, c), lambda f: f[0]["status"] in ("resolved", "closed"), 20, c)
        statuses = [change["status"] for change in done["statusChange"]]
        assert statuses[:3] == ["acknowledged", "inProgress", "resolved"]
        assert any(n["text"].startswith("Resolved: alarms") for n in done["note"])
    assert http.get(f"{PRODUCTS}/{product['id']}").json()["productCharacteristic"] == []
    # After the quiet time, the ticket closes.
    (closed,) = wait(lambda: tickets_of(http, customer), lambda f: f[0]["status"] == "closed", 30, "closure")
    assert closed["note"][-1]["text"] == "Closed: the service stayed restored."


def test_an_incident_still_open_when_its_sla_passes_is_escalated(client: AppClient, tmp_path: Path) -> None:
    http = client
    with ListenerProcess(tmp_path / "listener.log") as listener:
        query = "eventType=TroubleTicketAttributeValueChangeEvent"
        hub = http.post(
            f"{BASE_URL}/tmf-api/troubleTicket/v4/hub", json={"callback": listener.callback, "query": query}
        )
        assert hub.status_code == 201, hub.text
        olt, (customer,) = network(http, 1)
        raise_alarm(http, olt, severity="major")
        (ticket,) = wait(lambda: tickets_of(http, customer), bool, 20, "the incident")
        assert ticket["priority"] == "medium"
        escalation = (lambda: tickets_of(http, customer), lambda f: f[0]["priority"] == "high", SLA + 30, "escalation")
        (escalated,) = wait(*escalation)
        assert escalated["status"] == "acknowledged"
        assert escalated["note"][-1]["text"].startswith("Escalated: not resolved")

        def heard(got: list[Entry]) -> list[Doc]:
            bodies = [entry["body"] for entry in got]
            return [b for b in bodies if b["event"]["troubleTicket"]["id"] == ticket["id"]]

        (event, *_) = heard(listener.wait_for(lambda got: bool(heard(got)), 20))
        assert event["eventType"] == "TroubleTicketAttributeValueChangeEvent" and event["fieldPath"] == "note,priority"
        assert event["event"]["troubleTicket"]["priority"] == "high"
        assert http.delete(f"{BASE_URL}/tmf-api/troubleTicket/v4/hub/{hub.json()['id']}").status_code == 204


def test_minor_alarms_ended_products_and_resources_without_customers_open_no_incident(client: AppClient) -> None:
    http = client
    olt, (customer,) = network(http, 1)
    (product,) = http.get(PRODUCTS, params={"relatedParty.id": customer}).json()
    former = f"cust-{uuid.uuid4().hex[:8]}"
    party = [{"id": former, "role": "customer", "@referredType": "Individual"}]
    ended = {"name": "Fibre 100", "status": "terminated", "startDate": "2026-01-01T00:00:00Z", "relatedParty": party}
    created(http, PRODUCTS, {**ended, "realizingService": product["realizingService"]})
    minor = raise_alarm(http, olt, severity="minor")
    lonely = created(http, RESOURCES, {"name": "spare", "@type": "LogicalResource"})
    raise_alarm(http, lonely)
    # An alarm heard after both, that does open one, shows the reactions ran for the first ones.
    raise_alarm(http, olt)
    (ticket,) = wait(lambda: tickets_of(http, customer), bool, 20, "the incident")
    assert minor["id"] not in {e["id"] for e in ticket["relatedEntity"]}
    spare = http.get(TICKETS, params={"relatedEntity.id": lonely["id"]}).json()
    assert spare == [] and tickets_of(http, former) == []


def test_correlated_alarms_raised_at_once_open_one_incident_per_customer(client: AppClient) -> None:
    http = client
    olt, customers = network(http, 2)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        alarms = list(pool.map(lambda n: raise_alarm(http, olt, kind=f"alarm-{n}"), range(6)))
    ids = {alarm["id"] for alarm in alarms}

    def taken_in(found: list[Doc]) -> bool:
        return len(found) == 1 and ids <= {e["id"] for e in found[0]["relatedEntity"]}

    for customer in customers:
        (ticket,) = wait(lambda c=customer: tickets_of(http, c), taken_in, 30, f"one incident of {customer}")
        assert sum(1 for e in ticket["relatedEntity"] if e["role"] == "alarm") == 6


def test_an_incident_opened_before_the_escalation_had_a_subscription_of_its_own_is_escalated(tmp_path: Path) -> None:
    """A store from before the upgrade: the incident's creation event was fanned out to the tickets
    extension's subscription only (tmfgate.tmf621_trouble_ticket), which no longer escalates."""
    url = f"sqlite:///{tmp_path}/before.db"
    ticket = asyncio.run(_store_the_old_way(url))
    with in_process(url, fulfilment=False, incident_sla=SLA) as http:
        path = f"{TICKETS}/{ticket['id']}"
        (escalated,) = wait(lambda: [http.get(path).json()], lambda f: f[0]["priority"] == "high", 30, "escalation")
        assert escalated["note"][-1]["text"].startswith("Escalated: not resolved")
        settled = http.run(http.gateway.backend.deliveries)
        assert {(d.subscription_id, d.state.value) for d in settled if d.event.resource_id == ticket["id"]} == {
            ("tmfgate.tmf621_trouble_ticket", "delivered"),  # handed over
            ("tmfgate.ticket_escalation", "delivered"),
        }
        time.sleep(1)  # escalated once, however often the event comes
        assert len([n for n in http.get(path).json()["note"] if n["text"].startswith("Escalated")]) == 1


async def _store_the_old_way(url: str) -> Doc:
    api = model.build(specs.load(specs.specs_dir() / "tmf621_trouble_ticket.yaml"))
    id = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    ticket: Doc = {
        "id": id,
        "href": f"{TICKETS}/{id}",
        "@type": "TroubleTicket",
        "name": "fibre down",
        "description": "Service affected by an alarm",
        "ticketType": "incident",
        "severity": "major",
        "priority": "medium",
        "status": "acknowledged",
        "channel": dict(CHANNEL),
        "creationDate": times.stamp(now),
        "expectedResolutionDate": times.stamp(now + dt.timedelta(seconds=1)),
    }
    backend = open_backend(url)
    await backend.open()
    try:
        async with backend.transaction() as tx:
            await tx.create(TICKET_KIND, id, codec.dumps(ticket))
            for event in EventBuilder(api).created(api.resources[TICKET_KIND], ticket, "corr"):
                await tx.add_event(event)
        assert await backend.fan_out(lambda event: ["tmfgate.tmf621_trouble_ticket"]) == 1
    finally:
        await backend.close()
    return ticket
