"""Routes resolved into a backend: upstream APIs' kinds to an upstream store with their options and
href mappings, adapters' kinds to the adapter, the rest (and the gateway's own hub) local."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import open_backend
from backends.devices.adapter import DevicesAdapter
from backends.routed import RoutedBackend
from backends.upstream.store import UpstreamStore
from tests.conftest import TEST_SETTINGS
from tmfgate import configuration
from tmfgate.configuration import Upstream
from tmfgate.runtime import load_apis
from tmfgate.settings import Settings
from tmfgate.upstreams import SpecCheck, outward, routed

APIS = load_apis()
INVENTORY = next(api for api in APIS if api.name == "tmf639_resource_inventory")
OSS = "http://oss:9001/tmf-api"


def settings_with(tmp_path: Path, text: str, **values: object) -> Settings:
    config = tmp_path / "tmfgate.yaml"
    config.write_text(text)
    return Settings(database_url="memory://", config=str(config), public_url="http://gw", **{**TEST_SETTINGS, **values})


def test_without_routes_the_local_backend_is_used_as_it_is() -> None:
    local = open_backend("memory://")
    assert routed(local, Settings(database_url="memory://"), APIS, configuration.Routing()) is local


def test_an_upstream_api_s_kinds_go_to_one_store_with_its_options(tmp_path: Path) -> None:
    settings = settings_with(
        tmp_path,
        f"apis:\n  tmf639: {{upstream: {{url: '{OSS}/resourceInventoryManagement/v4', timeout: 3}}}}\n"
        f"  tmf638: {{upstream: {{url: '{OSS}/serviceInventory/v4'}}}}\n",
        upstream_retries=1,
        upstream_answers="refuse",
    )
    backend = routed(open_backend("memory://"), settings, APIS, configuration.routing(settings, APIS))
    assert isinstance(backend, RoutedBackend)
    resources = backend.routes["resource"]
    assert isinstance(resources, UpstreamStore) and resources.url == f"{OSS}/resourceInventoryManagement/v4"
    assert resources.options.timeout == 3 and resources.options.retries == 1
    assert resources.options.refuse_nonconforming
    assert backend.routes["service"] is not resources and backend.routes["service"].url.endswith("/serviceInventory/v4")
    assert "hub" not in backend.routes and "individual" not in backend.routes  # subscribers and local APIs stay here
    assert set(INVENTORY.resources) - {"hub"} <= set(backend.routes)
    # request bodies of any routed API point at the upstream, answers at the gateway
    assert (f"http://gw{INVENTORY.base_path}", f"{OSS}/resourceInventoryManagement/v4") in resources.options.inward
    assert resources.options.outward[0] == (f"{OSS}/resourceInventoryManagement/v4", f"http://gw{INVENTORY.base_path}")


def test_an_adapter_route_makes_the_installed_adapter(tmp_path: Path) -> None:
    settings = settings_with(
        tmp_path, f"apis:\n  tmf639: {{adapter: {{name: devices, url: 'sqlite:///{tmp_path}/d.db'}}}}\n"
    )
    backend = routed(open_backend("memory://"), settings, APIS, configuration.routing(settings, APIS))
    assert isinstance(backend, RoutedBackend)
    adapter = backend.routes["resource"]
    assert isinstance(adapter, DevicesAdapter) and adapter.base == f"http://gw{INVENTORY.base_path}"


def test_outward_maps_the_upstream_s_base_then_its_origin() -> None:
    upstream = Upstream(url=f"{OSS}/resourceInventoryManagement/v4")
    settings = Settings(public_url="https://api.example.com")
    assert outward(upstream, INVENTORY, settings) == (
        (f"{OSS}/resourceInventoryManagement/v4", f"https://api.example.com{INVENTORY.base_path}"),
        ("http://oss:9001/", "https://api.example.com/"),
    )


@pytest.mark.parametrize(
    ("document", "wrong"),
    [({"name": "olt"}, False), ({"name": 7}, True), ({"href": None}, True)],
)
def test_the_spec_check_tells_what_our_spec_refuses(document: dict[str, object], wrong: bool) -> None:
    document = {"id": "r1", "href": "http://gw/r1", "@type": "Resource", **document}
    problem = SpecCheck(INVENTORY)("resource", document)
    assert (problem is not None) is wrong
    assert SpecCheck(INVENTORY)("noSuchKind", document) is None


def test_the_spec_check_tells_whether_a_whole_page_conforms_in_one_call() -> None:
    good = [{"id": f"r{n}", "href": f"http://gw/r{n}", "@type": "Resource", "name": "olt"} for n in range(3)]
    check = SpecCheck(INVENTORY)
    assert check.conforms("resource", good) and check.conforms("resource", [])
    assert not check.conforms("resource", [*good, {**good[0], "name": 7}])
    assert check.conforms("noSuchKind", [{"name": 7}])


def test_creates_at_the_southbound_oss_alone_are_guarded_by_external_id(tmp_path: Path) -> None:
    settings = settings_with(
        tmp_path,
        f"apis:\n  tmf639: {{upstream: {{url: '{OSS}/resourceInventoryManagement/v4'}}}}\n"
        f"fulfilment:\n  southbound: {{url: '{OSS}/serviceOrdering/v4'}}\n",
    )
    backend = routed(open_backend("memory://"), settings, APIS, configuration.routing(settings, APIS))
    assert isinstance(backend, RoutedBackend)
    orders, resources = backend.routes["serviceOrder"], backend.routes["resource"]
    assert isinstance(orders, UpstreamStore) and isinstance(resources, UpstreamStore)
    assert (orders.options.guard, resources.options.guard) == ("externalId", None)
