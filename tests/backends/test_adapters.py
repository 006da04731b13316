"""The adapter contract: adapters are found by name in the ``tmfgate.adapters`` entry-point group and
made from an :class:`AdapterContext`; the example one serves its kinds through it."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import orjson
import pytest

from backends.adapters import GROUP, Adapter, AdapterContext, AdapterFactory
from backends.base import Query

pytestmark = pytest.mark.anyio


def installed(name: str) -> AdapterFactory:
    (point,) = entry_points(group=GROUP, name=name)
    factory: AdapterFactory = point.load()
    return factory


def test_the_group_is_the_documented_one_and_holds_the_example() -> None:
    assert GROUP == "tmfgate.adapters"
    assert "devices" in {point.name for point in entry_points(group=GROUP)}


def test_a_context_has_no_options_unless_given() -> None:
    context = AdapterContext("sqlite:///x.db", "http://gw/tmf-api/resourceInventoryManagement/v4")
    assert dict(context.options) == {}


async def test_an_installed_adapter_is_made_from_its_context_and_keeps_its_kinds(tmp_path: Path) -> None:
    base = "http://gw/tmf-api/resourceInventoryManagement/v4"
    context = AdapterContext(f"sqlite:///{tmp_path / 'legacy.db'}", base, {"create_table": True})
    adapter: Adapter = installed("devices")(context)
    assert adapter.kinds == ("resource",) and adapter.url == context.url
    await adapter.open()
    try:
        async with adapter.transaction() as tx:
            await tx.create("resource", "d-1", orjson.dumps({"id": "d-1", "name": "olt-1"}))
        got = orjson.loads(await adapter.get("resource", "d-1") or b"")
        assert got["href"] == f"{base}/resource/d-1" and got["name"] == "olt-1"
        assert (await adapter.query("resource", Query())).total == 1
    finally:
        await adapter.close()
