"""The gateway handlers see: the APIs it serves by name, hrefs outside a request, commits that wake delivery."""

from __future__ import annotations

import pytest

from tmfgate import model, specs
from tmfgate.errors import ConfigurationError
from tmfgate.gateway import Gateway
from tmfgate.settings import Settings

API = model.build(specs.load(specs.specs_dir() / "tmf629_customer.yaml"))


def gateway(**settings: object) -> Gateway:
    return Gateway(Settings(database_url="memory://", **settings), [API])  # type: ignore[arg-type]


def test_served_apis_are_found_by_name() -> None:
    served = gateway()
    assert served.api("tmf629_customer") is API and served.serves("tmf629_customer")
    assert not served.serves("tmf999_nothing")
    with pytest.raises(ConfigurationError, match="The API tmf999_nothing is not served"):
        served.api("tmf999_nothing")


def test_an_href_outside_a_request_uses_the_public_url() -> None:
    served = gateway(public_url="https://api.example.com")
    assert served.href("tmf629_customer", "customer", "7") == (
        "https://api.example.com/tmf-api/customerManagement/v4/customer/7"
    )


def test_a_store_url_nobody_serves_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        Gateway(Settings(database_url="nosuch://x"), [API])


@pytest.mark.anyio
async def test_a_commit_wakes_the_delivery_worker_and_a_rollback_does_not() -> None:
    served = gateway()
    await served.backend.open()
    try:
        with pytest.raises(RuntimeError):
            async with served.transaction() as tx:
                await tx.create("customer", "1", b'{"id": "1"}')
                raise RuntimeError("rolled back")
        assert not served.committed.is_set() and await served.backend.get("customer", "1") is None
        async with served.transaction() as tx:
            await tx.create("customer", "1", b'{"id": "1"}')
        assert served.committed.is_set() and await served.backend.get("customer", "1") == b'{"id": "1"}'
    finally:
        await served.backend.close()
