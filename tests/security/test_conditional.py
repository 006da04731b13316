"""ETags, If-Match, If-None-Match and Idempotency-Key over HTTP on every store, raced by 20 clients."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from tests.conftest import RunningGateway

CUSTOMER = "/tmf-api/customerManagement/v4/customer"
MERGE = {"Content-Type": "application/merge-patch+json"}
CLIENTS = 20


def _customer(name: str) -> dict[str, Any]:
    return {"name": name, "engagedParty": {"id": "p-1", "@referredType": "Individual"}}


def _create(gateway: RunningGateway) -> str:
    created = requests.post(gateway.url + CUSTOMER, json=_customer(uuid.uuid4().hex), timeout=10)
    assert created.status_code == 201, created.text
    return str(created.headers["Location"])


def _race(call: Callable[[], requests.Response]) -> list[requests.Response]:
    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(lambda _: call(), range(CLIENTS)))


def test_a_read_carries_a_strong_etag_and_if_none_match_answers_304(gateway: RunningGateway) -> None:
    url = _create(gateway)
    first = requests.get(url, timeout=10)
    tag = first.headers["ETag"]
    assert tag.startswith('"') and not tag.startswith("W/")
    assert requests.get(url, timeout=10).headers["ETag"] == tag  # the same version, the same tag
    same = requests.get(url, headers={"If-None-Match": tag}, timeout=10)
    assert same.status_code == 304 and same.content == b"" and same.headers["ETag"] == tag
    assert requests.get(url, headers={"If-None-Match": '"other"'}, timeout=10).status_code == 200
    requests.patch(url, data=b'{"description": "changed"}', headers=MERGE, timeout=10).raise_for_status()
    changed = requests.get(url, headers={"If-None-Match": tag}, timeout=10)
    assert changed.status_code == 200 and changed.headers["ETag"] != tag


def test_if_match_refuses_a_stale_version_with_412(gateway: RunningGateway) -> None:
    url = _create(gateway)
    tag = requests.get(url, timeout=10).headers["ETag"]
    stale = requests.patch(url, data=b'{"description": "x"}', headers={**MERGE, "If-Match": '"stale"'}, timeout=10)
    assert stale.status_code == 412 and stale.json()["@type"] == "Error"
    assert "description" not in requests.get(url, timeout=10).json()  # nothing stored
    assert requests.delete(url, headers={"If-Match": '"stale"'}, timeout=10).status_code == 412
    fresh = requests.patch(url, data=b'{"description": "x"}', headers={**MERGE, "If-Match": tag}, timeout=10)
    assert fresh.status_code == 200, fresh.text
    assert requests.delete(url, headers={"If-Match": tag}, timeout=10).status_code == 412  # changed since
    new_tag = requests.get(url, timeout=10).headers["ETag"]
    assert requests.delete(url, headers={"If-Match": new_tag}, timeout=10).status_code == 204


def test_of_20_clients_patching_one_version_one_wins(gateway: RunningGateway) -> None:
    url = _create(gateway)
    tag = requests.get(url, timeout=10).headers["ETag"]

    def patch() -> requests.Response:
        note = uuid.uuid4().hex.encode()
        return requests.patch(url, data=b'{"description": "%s"}' % note, headers={**MERGE, "If-Match": tag}, timeout=30)

    statuses = Counter(answer.status_code for answer in _race(patch))
    assert statuses == {200: 1, 412: CLIENTS - 1}


def test_if_match_can_be_required() -> None:
    with RunningGateway("memory://", fulfilment=False, require_if_match=True) as running:
        url = _create(running)
        answer = requests.patch(url, data=b'{"description": "x"}', headers=MERGE, timeout=10)
        assert answer.status_code == 428 and answer.json()["status"] == "428"
        assert requests.delete(url, timeout=10).status_code == 428
        tag = requests.get(url, timeout=10).headers["ETag"]
        assert requests.delete(url, headers={"If-Match": tag}, timeout=10).status_code == 204


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
