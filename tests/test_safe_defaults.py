"""Safe defaults (issue 13 item 4): loopback only without authentication, hrefs from --public-url
whatever the Host header says, hub secrets encrypted at rest. Callbacks: tests/notifications/test_callbacks.py."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from tests.conftest import RunningGateway, free_port
from tests.gateways import log_of, served
from tmfgate.cli import _exposure, main
from tmfgate.settings import Settings, auth_configured

CUSTOMERS = "/tmf-api/customerManagement/v4/customer"
HUB = "/tmf-api/customerManagement/v4/hub"


def test_auth_is_configured_by_any_of_its_settings() -> None:
    assert not auth_configured(Settings())
    for name in ("auth", "jwks", "api_keys"):
        assert auth_configured(Settings(**{name: "x"}))
    assert _exposure(Settings(host="0.0.0.0", auth="jwt")) is None


def test_serve_refuses_another_address_without_authentication(capsys: pytest.CaptureFixture[str]) -> None:
    for host in ("0.0.0.0", "::", "192.0.2.10", "gateway.example"):
        assert main(["serve", "--host", host, "--port", str(free_port()), "--database-url", "memory://"]) == 2
        error = capsys.readouterr().err
        assert f"Listening on {host} without authentication" in error and "--insecure" in error


def test_serve_says_it_listens_on_loopback_only(tmp_path: Path) -> None:
    with served("memory://", tmp_path) as (_, url):
        assert requests.get(f"{url}{CUSTOMERS}?limit=1", timeout=30).status_code == 200
    assert "listening on loopback only, 127.0.0.1" in log_of(tmp_path, url).read_text()


def test_serve_insecure_serves_every_address_and_warns(tmp_path: Path) -> None:
    with served("memory://", tmp_path, "--host", "0.0.0.0", "--insecure") as (_, url):
        assert requests.get(f"{url}{CUSTOMERS}?limit=1", timeout=30).status_code == 200
    assert "warning: no authentication (--auth) on 0.0.0.0" in log_of(tmp_path, url).read_text()


def test_with_a_public_url_no_host_header_reaches_a_stored_href() -> None:
    with RunningGateway("memory://", fulfilment=False, public_url="https://api.operator.example") as gateway:
        body = {"name": "x", "engagedParty": {"id": "1", "@referredType": "Individual"}}
        for host in ("attacker.example:666", "a@b/../c?d#"):
            created = requests.post(f"{gateway.url}{CUSTOMERS}", json=body, headers={"Host": host}, timeout=30)
            assert created.status_code == 201, created.text
            href = f"https://api.operator.example{CUSTOMERS}/{created.json()['id']}"
            assert created.json()["href"] == href and created.headers["Location"] == href
            assert requests.get(href.replace("https://api.operator.example", gateway.url)).json()["href"] == href


def test_a_hub_secret_needs_a_key_and_is_stored_encrypted(tmp_path: Path) -> None:
    secret = f"secret-{uuid.uuid4().hex}"
    subscription = {"callback": "http://93.184.215.14/hook", "secret": secret}
    with RunningGateway("memory://", fulfilment=False) as gateway:
        refused = requests.post(f"{gateway.url}{HUB}", json=subscription, timeout=30)
        assert refused.status_code == 400 and "--hub-secret-key" in refused.json()["message"]
    database = tmp_path / "store.db"
    key = Fernet.generate_key().decode()
    with RunningGateway(f"sqlite:///{database}", fulfilment=False, hub_secret_key=key) as gateway:
        created = requests.post(f"{gateway.url}{HUB}", json=subscription, timeout=30)
        assert created.status_code == 201, created.text
        assert "secret" not in created.json()
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("store.db*"))
    assert secret.encode() not in stored and b"fernet:" in stored


def test_a_hub_secret_key_must_be_a_fernet_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["dispatch", "--hub-secret-key", "not-a-key"])
    assert "must be a Fernet key" in capsys.readouterr().err
