"""The operator API's own rules: which clients it serves, admin_hosts parsed at start-up, instants it reads.

Its operations over HTTP, on every store, are in ``tests/api/test_admin.py``.
"""

from __future__ import annotations

import ipaddress

import pytest

from tests.api.clients import in_process
from tmfgate.errors import BadRequest, ConfigurationError
from tmfgate.notifications import admin

ADMIN = "/tmfgate/admin/v1"


def test_loopback_is_always_allowed_and_admin_hosts_adds_addresses_and_networks() -> None:
    assert admin.allowed_networks("") == admin.LOOPBACK
    extra = admin.allowed_networks(" 10.0.0.5, 192.0.2.0/24 ,2001:db8::/32")
    assert extra[len(admin.LOOPBACK) :] == (
        ipaddress.ip_network("10.0.0.5/32"),
        ipaddress.ip_network("192.0.2.0/24"),
        ipaddress.ip_network("2001:db8::/32"),
    )


def test_a_bad_admin_hosts_entry_stops_the_start_with_what_to_write() -> None:
    with pytest.raises(ConfigurationError, match="'nonsense', which is not an IP address or network"):
        admin.allowed_networks("10.0.0.5,nonsense")


def test_instants_are_read_with_their_offset() -> None:
    assert admin.parse_instant("2026-01-02T03:04:05Z", "since").isoformat() == "2026-01-02T03:04:05+00:00"
    with pytest.raises(BadRequest):
        admin.parse_instant("yesterday", "since")


def test_a_client_that_is_not_allowed_is_refused_with_a_403() -> None:
    with in_process(fulfilment=False, dispatcher=False) as client:  # the test client's address is not an IP
        response = client.get(f"{ADMIN}/delivery")
    assert response.status_code == 403 and response.json()["@type"] == "Error"
