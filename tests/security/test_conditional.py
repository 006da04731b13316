"""Conditional requests: the ETag of a stored document, If-None-Match and If-Match, over HTTP on every
store and raced by 20 clients."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.conftest import RunningGateway
from tmfgate.errors import PreconditionFailed, PreconditionRequired
from tmfgate.security.conditional import check_match, etag, none_match

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


def test_the_etag_is_strong_and_changes_with_the_document() -> None:
    tag = etag(b'{"id":"1"}')
    assert tag.startswith(b'"') and tag.endswith(b'"') and tag == etag(b'{"id":"1"}') != etag(b'{"id":"2"}')
    assert not none_match(tag, tag) and not none_match(b"*", tag) and not none_match(b'"x", W/' + tag, tag)
    assert none_match(b'"x"', tag)
    check_match(tag, tag, required=True)
    check_match(b'"x", ' + tag, tag, required=False)
    check_match(None, tag, required=False)
    with pytest.raises(PreconditionFailed):
        check_match(b"W/" + tag, tag, required=False)  # If-Match compares strongly
    with pytest.raises(PreconditionRequired):
        check_match(None, tag, required=True)
