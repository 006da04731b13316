"""The catalog file: checked whole at start-up, seeding an empty store, pools seeded once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from handlers.catalog import loading as catalog
from handlers.catalog import snapshots
from handlers.fulfilment.decomposition import service_specifications
from tests.conftest import RunningGateway
from tmfgate import documents, model, specs
from tmfgate.errors import ConfigurationError
from tmfgate.gateway import Gateway
from tmfgate.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CATALOG = "/tmf-api/productCatalogManagement/v4"
SERVICE_CATALOG = "/tmf-api/serviceCatalogManagement/v4"
RESOURCES = "/tmf-api/resourceInventoryManagement/v4"


def write(tmp_path: Path, content: Any) -> str:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(content))
    return str(path)


def demo() -> Any:
    return yaml.safe_load((ROOT / "catalogs" / "demo.yaml").read_text())


def test_the_demo_catalog_decomposes_every_offering() -> None:
    loaded = catalog.load("demo")
    assert loaded.currency == "EUR"
    for offering in loaded.entries["productOffering"].values():
        parts = [loaded.offering(part) or {} for part in loaded.parts(offering)]
        specs = [spec for each in parts or [offering] for spec in service_specifications(loaded, each)]
        assert specs, offering["id"]  # a bundle's parts have services of their own
        for spec in specs:  # each service's resources come from a pool
            for ref in spec.get("resourceSpecification", []):
                assert loaded.pool(ref["id"]) is not None
    internet = service_specifications(loaded, loaded.offering("po-fibre-100") or {})
    assert [spec["id"] for spec in internet] == ["ss-ftth-access", "ss-internet-access"]  # dependency first
    ports = loaded.pool("rs-gpon-port")
    assert ports is not None and len(ports.names) == 32 and ports.names[0] == "OLT-LDN-01 0/1/1"
    numbers = loaded.pool("rs-geographic-number")
    assert numbers is not None and numbers.names[:2] == ("+44 20 7946 0000", "+44 20 7946 0001")


def test_none_is_an_empty_catalog() -> None:
    assert catalog.load("none").entries["productOffering"] == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["productOffering"][0].update(productSpecification={"id": "ps-nope"}),
            "productOffering po-fibre-100 refers to the productSpecification ps-nope",
        ),
        (
            lambda c: c["productOffering"].append(dict(c["productOffering"][0])),
            "the productOffering id po-fibre-100 is used twice",
        ),
        (lambda c: c.update(bundles=[]), "unknown section bundles"),
        (
            lambda c: c["productOffering"][-1]["bundledProductOffering"].append({"id": "po-does-not-exist"}),
            "the bundle productOffering po-home-bundle refers to the productOffering po-does-not-exist",
        ),
        (
            lambda c: c["productOffering"][-1].pop("bundledProductOffering"),
            "productOffering po-home-bundle is a bundle .isBundle. but names no bundledProductOffering",
        ),
        (
            lambda c: c["resourcePool"].pop(0),
            "ss-ftth-access needs resource rs-gpon-port, which no resourcePool provides",
        ),
        (lambda c: c["resourcePool"][0]["range"].pop("pattern"), "the range of pool rs-gpon-port needs pattern"),
        (lambda c: c["serviceSpecification"][0].pop("id"), "every serviceSpecification needs a string id"),
    ],
)
def test_a_wrong_catalog_is_refused_with_what_is_wrong(tmp_path: Path, change: Any, message: str) -> None:
    content = demo()
    change(content)
    with pytest.raises(ConfigurationError, match=message):
        catalog.load(write(tmp_path, content))


def test_a_catalog_entry_that_breaks_the_spec_stops_the_start(tmp_path: Path) -> None:
    content = demo()
    content["productOffering"][0]["isSellable"] = "yes"  # a boolean in TMF620
    with (
        pytest.raises(ConfigurationError, match="isSellable"),
        RunningGateway("memory://", catalog=write(tmp_path, content)),
    ):
        pass


def test_the_catalog_file_seeds_an_empty_store_and_the_pools_are_seeded_once(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'tmfgate.db'}"
    with RunningGateway(database) as gateway:
        offerings = requests.get(f"{gateway.url}{CATALOG}/productOffering", params={"name": "Fibre 500"}).json()
        assert [o["id"] for o in offerings] == ["po-fibre-500"]
        assert offerings[0]["href"] == f"{gateway.url}{CATALOG}/productOffering/po-fibre-500"
        price = requests.get(f"{gateway.url}{CATALOG}/productOfferingPrice/pop-fibre-installation").json()
        assert (price["priceType"], price["price"]) == ("oneTime", {"unit": "EUR", "value": 49.0})
        specs = requests.get(f"{gateway.url}{SERVICE_CATALOG}/serviceSpecification", params={"fields": "name"})
        assert specs.headers["X-Total-Count"] == "6"
        offered = requests.get(f"{gateway.url}{CATALOG}/productOffering").headers["X-Total-Count"]
        assert offered == str(len(demo()["productOffering"]))
        port = requests.get(
            f"{gateway.url}{RESOURCES}/resource",
            params={"resourceSpecification.id": "rs-gpon-port", "sort": "name", "limit": "1"},
        ).json()[0]
        assert port["resourceStatus"] == "available"
        locked = requests.patch(
            f"{gateway.url}{RESOURCES}/resource/{port['id']}",
            json={"administrativeState": "locked"},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert locked.status_code == 200
    content = demo()
    content["productOffering"] = content["productOffering"][:1]
    content["productSpecification"] = content["productSpecification"][:1]
    with RunningGateway(database, catalog=write(tmp_path, content)) as gateway:
        # The file seeds only an empty store: the catalog is managed through TMF620 from then on...
        assert requests.get(f"{gateway.url}{CATALOG}/productOffering").headers["X-Total-Count"] == offered
        # ...and the inventory keeps what happened to its resources.
        again = requests.get(f"{gateway.url}{RESOURCES}/resource/{port['id']}").json()
        assert again["administrativeState"] == "locked"
        total = requests.get(f"{gateway.url}{RESOURCES}/resource", params={"limit": "0"}).headers["X-Total-Count"]
        assert total == str(32 + 64 + 50 + 50 + 50)


@pytest.mark.anyio
async def test_a_transaction_reads_the_catalog_it_is_about_to_use(tmp_path: Path) -> None:
    """A service create reads the catalog's mark in its own transaction (handlers.catalog.snapshots):
    what that transaction sees is what it reserves by, not what another connection saw before."""
    apis = [model.build(specs.load(specs.specs_dir() / "tmf633_service_catalog.yaml"))]
    gateway = Gateway(Settings(database_url=f"sqlite:///{tmp_path / 'catalog.db'}"), apis)
    await gateway.backend.open()
    try:
        await snapshots.refresh(gateway)
        assert catalog.of(gateway).service_specification("ss-new") is None
        async with gateway.transaction() as tx:
            await documents.create(tx, "serviceSpecification", {"id": "ss-new", "name": "New"})
            await snapshots.mark(tx)
            await snapshots.refresh(gateway)  # outside the transaction: not committed, not seen
            assert catalog.of(gateway).service_specification("ss-new") is None
            await snapshots.refresh(gateway, tx)  # in it: the mark moved, the catalog is read again
            assert catalog.of(gateway).service_specification("ss-new") == {"id": "ss-new", "name": "New"}
    finally:
        await gateway.backend.close()
