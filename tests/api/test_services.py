"""Services that clients activate, terminate and delete through TMF640 and TMF638 hold and free resources."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.api.test_fulfilment import ACTIVATION, RESOURCES, SERVICES, catalog
from tests.conftest import RunningGateway, own_postgres_database

MERGE = {"Content-Type": "application/merge-patch+json"}
LINE = {"name": "Office line", "state": "active", "serviceSpecification": {"id": "ss-voip-line"}}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    def serve(database: str) -> Iterator[str]:
        with RunningGateway(database, catalog=catalog(tmp_path, geographic_number=2)) as running:
            yield running.url

    if request.param == "sqlite":
        yield from serve(f"sqlite:///{tmp_path / 'tmfgate.db'}")
    else:
        with own_postgres_database("tmfgate_services") as database:
            yield from serve(database)


def numbers(url: str, status: str) -> list[str]:
    found = requests.get(
        f"{url}{RESOURCES}/resource",
        params={"resourceSpecification.id": "rs-geographic-number", "resourceStatus": status},
    ).json()
    return sorted(resource["id"] for resource in found)


def test_an_activation_reserves_what_the_specification_needs_and_is_monitored(url: str) -> None:
    created = requests.post(f"{url}{ACTIVATION}/service", json=LINE)
    assert created.status_code == 201, created.text
    line = created.json()
    assert [ref["id"] for ref in line["supportingResource"]] == numbers(url, "reserved")
    assert line["startDate"]
    monitors = requests.get(f"{url}{ACTIVATION}/monitor", params={"sourceHref": line["href"]}).json()
    assert [(m["state"], m["request"]["method"], m["response"]["statusCode"]) for m in monitors] == [
        ("Completed", "POST", "201")
    ]
    # The same service in the inventory API, which records no monitor of its own.
    assert requests.get(f"{url}{SERVICES}/service/{line['id']}").json() == line
    plain = requests.post(f"{url}{SERVICES}/service", json={**LINE, "name": "Second line"})
    assert plain.status_code == 201 and len(numbers(url, "reserved")) == 2
    assert len(requests.get(f"{url}{ACTIVATION}/monitor").json()) == 1


def test_an_activation_that_cannot_be_done_stores_nothing(url: str) -> None:
    offered = {
        "name": "Internet",
        "state": "active",
        "serviceSpecification": {"id": "ss-internet-access"},
        "serviceCharacteristic": [{"name": "downloadSpeed", "value": 2000}],
    }
    refused = requests.post(f"{url}{ACTIVATION}/service", json=offered)
    assert refused.status_code == 400 and "does not offer downloadSpeed 2000" in refused.json()["message"]
    for _ in range(2):
        assert requests.post(f"{url}{ACTIVATION}/service", json=LINE).status_code == 201
    exhausted = requests.post(f"{url}{ACTIVATION}/service", json=LINE)
    assert exhausted.status_code == 409 and "exhausted" in exhausted.json()["message"]
    assert requests.get(f"{url}{SERVICES}/service").headers["X-Total-Count"] == "2"
    designed = requests.post(f"{url}{SERVICES}/service", json={**LINE, "state": "designed"})
    assert designed.status_code == 201 and "supportingResource" not in designed.json()  # nothing held yet
    unknown = requests.post(f"{url}{SERVICES}/service", json={**LINE, "serviceSpecification": {"id": "ss-legacy"}})
    assert unknown.status_code == 201 and "supportingResource" not in unknown.json()


def test_termination_and_deletion_give_the_resources_back(url: str) -> None:
    first = requests.post(f"{url}{SERVICES}/service", json=LINE).json()
    second = requests.post(f"{url}{SERVICES}/service", json=LINE).json()
    assert numbers(url, "available") == []
    ended = requests.patch(f"{url}{ACTIVATION}/service/{first['id']}", json={"state": "terminated"}, headers=MERGE)
    assert ended.status_code == 200 and ended.json()["endDate"]
    assert numbers(url, "available") == [first["supportingResource"][0]["id"]]
    again = requests.patch(f"{url}{SERVICES}/service/{first['id']}", json={"state": "active"}, headers=MERGE)
    assert again.status_code == 409 and again.json()["reason"] == "Illegal state change"
    assert requests.delete(f"{url}{SERVICES}/service/{second['id']}").status_code == 204
    assert len(numbers(url, "available")) == 2
    assert requests.delete(f"{url}{SERVICES}/service/{first['id']}").status_code == 204  # freed once only
    assert len(numbers(url, "available")) == 2
