"""The audit log: a JSON line per write and per refused access, and never a credential."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tests.conftest import RunningGateway
from tests.security.support import AUDIENCE, ISSUER, api_key_file, bearer, make_keys
from tmfgate.errors import ConfigurationError
from tmfgate.security.audit import AuditLog

CUSTOMER = "/tmf-api/customerManagement/v4/customer"
NEW_CUSTOMER = {"name": "Ada", "engagedParty": {"id": "p-1", "@referredType": "Individual"}}
FIELDS = {"time", "partner", "api", "operation", "resourceId", "status", "correlationId"}


def test_writes_and_refusals_are_audited_without_credentials(tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    secret_key = "k-very-secret-0123456789"
    log = tmp_path / "audit.jsonl"
    settings = {"auth": "jwt,apikey", "jwks": str(keys.jwks), "issuer": ISSUER, "audience": AUDIENCE}
    key_file = api_key_file(tmp_path, {secret_key: ("partner-k", "tmf629:read")})
    token = keys.token("partner-a")
    with RunningGateway("memory://", fulfilment=False, audit_log=str(log), api_keys=str(key_file), **settings) as gw:
        url = gw.url + CUSTOMER
        traced = {**bearer(token), "X-Correlation-ID": "trace-1"}
        created = requests.post(url, json=NEW_CUSTOMER, headers=traced, timeout=10)
        id = created.json()["id"]
        requests.get(f"{url}/{id}", headers=bearer(token), timeout=10).raise_for_status()  # a read: not audited
        merge = {**bearer(token), "Content-Type": "application/merge-patch+json"}
        requests.patch(f"{url}/{id}", data=b'{"description": "x"}', headers=merge, timeout=10).raise_for_status()
        assert requests.get(url, timeout=10).status_code == 401
        assert requests.get(url, headers=bearer(token + "x"), timeout=10).status_code == 401
        assert requests.post(url, json=NEW_CUSTOMER, headers={"X-API-Key": secret_key}, timeout=10).status_code == 403
        assert requests.delete(f"{url}/{id}", headers=bearer(keys.token("partner-b")), timeout=10).status_code == 404
    text = log.read_text()
    assert token not in text and secret_key not in text and "Bearer" not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert all(set(record) == FIELDS for record in records)
    seen = [(r["partner"], r["operation"], r["resourceId"], r["status"]) for r in records]
    assert seen == [
        ("partner-a", "createCustomer", id, 201),
        ("partner-a", "patchCustomer", id, 200),
        (None, "listCustomer", None, 401),
        (None, "listCustomer", None, 401),
        ("partner-k", "createCustomer", None, 403),
        ("partner-b", "deleteCustomer", id, 404),
    ]
    assert records[0]["correlationId"] == "trace-1" and all(r["correlationId"] for r in records)
    assert all(r["api"] == "tmf629_customer" for r in records)


def test_a_record_is_one_json_line_appended(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"kept": true}\n')
    audit = AuditLog(str(path))
    for status in (201, 403):
        audit.record(partner="p", api="a", operation="o", resource_id=None, status=status, correlation_id="c")
    audit.close()
    lines = path.read_text().splitlines()
    assert lines[0] == '{"kept": true}' and [json.loads(line)["status"] for line in lines[1:]] == [201, 403]


def test_an_audit_log_that_cannot_be_opened_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--audit-log"):
        AuditLog(str(tmp_path / "missing-folder" / "audit.jsonl"))
