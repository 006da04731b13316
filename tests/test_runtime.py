"""One gateway process: extensions configured, then started with the store; the delivery worker run and stopped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tmfgate import model, specs
from tmfgate.extensions import Handlers, Registry
from tmfgate.gateway import Gateway
from tmfgate.notifications import admin
from tmfgate.runtime import Runtime, installed, load_apis
from tmfgate.settings import Settings

API = model.build(specs.load(specs.specs_dir() / "tmf629_customer.yaml"))


def test_the_installed_registry_holds_the_operator_api_and_the_handlers() -> None:
    names = {extension.name for extension in installed().extensions}
    assert admin.extension.name in names and "tmf622_product_ordering" in names


def test_apis_are_loaded_from_a_specs_folder(tmp_path: Path) -> None:
    (tmp_path / "tmf629_customer.yaml").write_bytes((specs.specs_dir() / "tmf629_customer.yaml").read_bytes())
    (tmp_path / "tmf_common.yaml").write_bytes((specs.specs_dir() / "tmf_common.yaml").read_bytes())
    [loaded] = load_apis(tmp_path)
    assert loaded.name == "tmf629_customer" and "customer" in loaded.resources


@pytest.mark.anyio
@pytest.mark.parametrize("deliver", [True, False])
async def test_extensions_are_configured_then_started_and_the_worker_runs_while_delivering(deliver: bool) -> None:
    calls: list[str] = []
    extension = Handlers("recording", api=API.name)

    @extension.configuration
    def configure(gateway: Gateway) -> None:
        calls.append("configure")

    @extension.startup
    async def start(gateway: Gateway) -> None:
        calls.append("start")

    other = Handlers("elsewhere", api="tmf999_not_served")
    runtime = Runtime(Settings(database_url="memory://"), registry=Registry((extension, other)), apis=[API])
    assert calls == ["configure"] and [e.name for e in runtime.registry.extensions] == ["recording"]
    await runtime.start(deliver=deliver)
    try:
        assert calls == ["configure", "start"]
        assert (runtime.worker is not None) is deliver
    finally:
        await runtime.stop()
    assert runtime.worker is None


def test_an_operator_command_runs_no_extension() -> None:
    calls: list[str] = []
    extension = Handlers("recording", api=API.name)
    extension.configuration(lambda gateway: calls.append("configure"))
    runtime = Runtime(Settings(database_url="memory://"), registry=Registry((extension,)), apis=[API], prepare=False)
    assert calls == [] and runtime.registry.extensions == ()
