"""The app factory: specs in, one ASGI app out; its lifespan opens the store and runs delivery; specs checked once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api.clients import BASE_URL, AppClient
from tmfgate import routing, specs
from tmfgate.app import GatewayApp, create_app
from tmfgate.settings import Settings


def test_an_app_serves_the_specs_of_its_folder_only(tmp_path: Path) -> None:
    for name in ("tmf629_customer.yaml", "tmf_common.yaml"):
        (tmp_path / name).write_bytes((specs.specs_dir() / name).read_bytes())
    app = create_app(Settings(database_url="memory://", fulfilment=False), specs_dir=tmp_path)
    assert isinstance(app, GatewayApp) and [api.name for api in app.gateway.apis] == ["tmf629_customer"]
    with AppClient(app, base_url=BASE_URL) as client:
        assert client.get("/tmf-api/customerManagement/v4/customer").status_code == 200
        missing = client.get("/tmf-api/productOrderingManagement/v4/productOrder")
        assert missing.status_code == 404 and missing.json()["@type"] == "Error"


@pytest.mark.parametrize("dispatcher", [True, False])
def test_the_lifespan_opens_the_store_and_runs_the_delivery_worker_when_asked(dispatcher: bool) -> None:
    app = create_app(Settings(database_url="memory://", fulfilment=False, dispatcher=dispatcher))
    with AppClient(app, base_url=BASE_URL):
        assert (app.runtime.worker is not None) is dispatcher
    assert app.runtime.worker is None  # stopped with the app


def test_a_second_app_of_the_same_specs_does_not_check_them_again(monkeypatch: pytest.MonkeyPatch) -> None:
    create_app(Settings(database_url="memory://"))  # every shipped spec checked once in this process
    checked: list[Any] = []
    original = routing.OpenAPISpecification._validate_spec.__func__  # type: ignore[attr-defined]

    def counting(cls: type, spec: dict[str, Any]) -> None:
        checked.append(spec)
        original(cls, spec)

    monkeypatch.setattr(routing.OpenAPISpecification, "_validate_spec", classmethod(counting))
    create_app(Settings(database_url="memory://"))
    assert checked == []
    changed = specs.load(specs.specs_dir() / "tmf629_customer.yaml").document
    changed["info"]["title"] = "Another text"
    routing.CheckedSpecification(changed)  # a document not seen before is checked
    assert len(checked) == 1
