"""Idempotency-Key over HTTP on every store: a retry gets the first answer, 20 racing clients one create."""

from __future__ import annotations

import uuid

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import RunningGateway
from tests.security.test_conditional import CUSTOMER, _customer, _race
from tmfgate.security.idempotency import KIND


def test_a_retry_with_the_same_key_gets_the_first_answer(gateway: RunningGateway) -> None:
    name, key = uuid.uuid4().hex, {"Idempotency-Key": uuid.uuid4().hex}
    first = requests.post(gateway.url + CUSTOMER, json=_customer(name), headers=key, timeout=10)
    again = requests.post(gateway.url + CUSTOMER, json=_customer(name), headers=key, timeout=10)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = requests.get(gateway.url + CUSTOMER, params={"name": name}, timeout=10)
    assert listed.headers["X-Total-Count"] == "1"
    other = requests.post(gateway.url + CUSTOMER, json=_customer(name + "x"), headers=key, timeout=10)
    assert other.status_code == 422 and other.json()["@type"] == "Error"
    fresh = requests.post(gateway.url + CUSTOMER, json=_customer(name), timeout=10)  # no key: a new create
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]


def test_a_v5_create_honours_the_key_and_replays_in_v5(gateway: RunningGateway) -> None:
    url, name, key = gateway.url + CUSTOMER.replace("/v4/", "/v5/"), uuid.uuid4().hex, {"Idempotency-Key": "v5"}
    party = {"id": "p-1", "@type": "PartyRef", "@referredType": "Individual"}
    body = {"name": name, "engagedParty": party, "@type": "Customer"}
    first = requests.post(url, json=body, headers=key, timeout=10)
    again = requests.post(url, json=body, headers=key, timeout=10)
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json() and again.headers["Location"] == first.headers["Location"]
    assert "/v5/" in again.headers["Location"] and again.headers["Idempotent-Replayed"] == "true"
    listed = requests.get(gateway.url + CUSTOMER, params={"name": name}, timeout=10)
    assert listed.headers["X-Total-Count"] == "1"


def test_a_refused_create_records_nothing(gateway: RunningGateway) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"name": "no engaged party", "id": "set-by-client"}
    assert requests.post(gateway.url + CUSTOMER, json=body, headers=key, timeout=10).status_code == 400
    assert requests.post(gateway.url + CUSTOMER, json=_customer("ok"), headers=key, timeout=10).status_code == 201


def test_of_20_clients_sending_one_key_one_creates(gateway: RunningGateway) -> None:
    name, key = uuid.uuid4().hex, {"Idempotency-Key": uuid.uuid4().hex}

    def post() -> requests.Response:
        return requests.post(gateway.url + CUSTOMER, json=_customer(name), headers=key, timeout=60)

    answers = _race(post)
    assert {answer.status_code for answer in answers} == {201}, [a.text for a in answers if a.status_code != 201]
    assert len({answer.json()["id"] for answer in answers}) == 1
    listed = requests.get(gateway.url + CUSTOMER, params={"name": name}, timeout=10)
    assert listed.headers["X-Total-Count"] == "1"


def test_the_first_answer_survives_a_restart(store: str, gateway: RunningGateway) -> None:
    if store.startswith("memory"):
        pytest.skip("memory:// keeps nothing across restarts")
    key, body = {"Idempotency-Key": uuid.uuid4().hex}, _customer(uuid.uuid4().hex)
    first = requests.post(gateway.url + CUSTOMER, json=body, headers=key, timeout=10)
    look = sa.create_engine(store)
    with look.connect() as connection:
        kept = connection.execute(sa.text("SELECT count(*) FROM tmf_document WHERE kind = :kind"), {"kind": KIND})
        assert kept.scalar_one() >= 1  # the record is in the store, beside the resource
    look.dispose()
    with RunningGateway(store, fulfilment=False) as restarted:
        again = requests.post(restarted.url + CUSTOMER, json=body, headers=key, timeout=10)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
