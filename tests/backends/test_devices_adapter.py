"""The example adapter over HTTP: TMF639 served from a legacy ``devices`` table on MariaDB (and SQLite),
its rows read as resources, writes made as rows, filters run as SQL on its columns."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
import sqlalchemy as sa

from backends.adapters import AdapterContext
from backends.devices.adapter import DevicesAdapter, clause, row_values
from backends.errors import DuplicateId, NotStored, StorageUnavailable, UnstorableDocument, Unsupported
from backends.queries import Condition, Instant, Op, Query, SortKey, ValueType
from tests.conftest import RunningGateway

BASE = "/tmf-api/resourceInventoryManagement/v4/resource"
MARIADB = "mysql+pymysql://root@127.0.0.1:3306"
LEGACY = """CREATE TABLE devices (
    device_id VARCHAR(64) PRIMARY KEY, hostname VARCHAR(255) NOT NULL, device_class VARCHAR(64),
    notes TEXT, fw_version VARCHAR(64), state_code CHAR(3), commissioned_at DATETIME)"""
ROWS = [
    ("d-1", "olt-paris-1", "olt", "rack 4", "7.1", "AVL", "2025-01-10 08:00:00"),
    ("d-2", "olt-lyon-1", "olt", None, "7.2", "RSV", "2025-03-02 12:30:00"),
    ("d-3", "ont-0001", "ont", None, "1.0", "AVL", None),
]


@pytest.fixture(scope="module", params=["mariadb", "sqlite"])
def legacy(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a database that already holds a ``devices`` table with three rows."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('legacy') / 'legacy.db'}"
        yield from _filled(url)
        return
    name = f"tmfgate_devices_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(MARIADB + "/", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # noqa: BLE001 - any failure means: no usable MariaDB here
        admin.dispose()
        pytest.skip(f"MariaDB at {MARIADB} is unreachable or refuses CREATE DATABASE: {exc}")
    try:
        yield from _filled(f"{MARIADB}/{name}")
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE {name}"))
        admin.dispose()


def _filled(url: str) -> Iterator[str]:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(LEGACY))
        for row in ROWS:
            connection.execute(
                sa.text("INSERT INTO devices VALUES (:a, :b, :c, :d, :e, :f, :g)"),
                dict(zip("abcdefg", row, strict=True)),
            )
    engine.dispose()
    yield url


@pytest.fixture(scope="module")
def gateway(legacy: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    config = tmp_path_factory.mktemp("gw") / "tmfgate.yaml"
    config.write_text(f"apis:\n  tmf639: {{adapter: {{name: devices, url: '{legacy}'}}}}\n")
    with RunningGateway("memory://", config=str(config), fulfilment=False) as running:
        yield running


@pytest.fixture
def statements(gateway: RunningGateway) -> Iterator[list[str]]:
    """The SQL the adapter sends while a test runs."""
    engine = gateway.gateway.backend.routes["resource"].engine
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


def rows(legacy: str, where: str = "1=1") -> list[tuple[Any, ...]]:
    engine = sa.create_engine(legacy)
    with engine.connect() as connection:
        found = [tuple(r) for r in connection.execute(sa.text(f"SELECT * FROM devices WHERE {where}"))]
    engine.dispose()
    return found


def test_rows_are_resources(gateway: RunningGateway) -> None:
    got = requests.get(f"{gateway.url}{BASE}/d-1", timeout=10).json()
    assert got == {
        "id": "d-1",
        "href": f"{gateway.url}{BASE}/d-1",
        "@type": "Resource",
        "name": "olt-paris-1",
        "category": "olt",
        "description": "rack 4",
        "resourceVersion": "7.1",
        "resourceStatus": "available",
        "startOperatingDate": "2025-01-10T08:00:00Z",
    }
    assert requests.get(f"{gateway.url}{BASE}/d-404", timeout=10).status_code == 404


def test_filters_sort_and_paging_run_as_sql(gateway: RunningGateway, statements: list[str]) -> None:
    response = requests.get(
        f"{gateway.url}{BASE}?category=olt,ont&resourceStatus=available&sort=-name&limit=1&fields=name", timeout=10
    )
    assert response.status_code == 206
    assert response.json() == [{"id": "d-3", "href": f"{gateway.url}{BASE}/d-3", "name": "ont-0001"}]
    assert response.headers["x-total-count"] == "2"
    assert any("WHERE" in s and "state_code" in s and "device_class" in s and "ORDER BY" in s for s in statements)
    later = requests.get(f"{gateway.url}{BASE}?startOperatingDate.gt=2025-02-01&fields=name", timeout=10).json()
    assert [r["name"] for r in later] == ["olt-lyon-1"]
    day = requests.get(f"{gateway.url}{BASE}?startOperatingDate=2025-01-10", timeout=10).json()
    assert [r["id"] for r in day] == ["d-1"]


def test_writes_are_rows(gateway: RunningGateway, legacy: str) -> None:
    made = requests.post(
        gateway.url + BASE, json={"name": "olt-nice-1", "category": "olt", "resourceStatus": "standby"}, timeout=10
    )
    assert made.status_code == 201, made.text
    id = made.json()["id"]
    assert made.headers["location"] == f"{gateway.url}{BASE}/{id}"
    assert rows(legacy, f"device_id = '{id}'")[0][1:6] == ("olt-nice-1", "olt", None, None, "STB")
    patched = requests.patch(
        f"{gateway.url}{BASE}/{id}",
        json={"resourceStatus": "reserved", "description": "spare"},
        headers={"content-type": "application/merge-patch+json"},
        timeout=10,
    )
    assert patched.status_code == 200 and patched.json()["resourceStatus"] == "reserved"
    assert rows(legacy, f"device_id = '{id}'")[0][3:6] == ("spare", None, "RSV")
    assert requests.delete(f"{gateway.url}{BASE}/{id}", timeout=10).status_code == 204
    assert rows(legacy, f"device_id = '{id}'") == []


def test_an_attribute_without_a_column_is_a_400_and_nothing_is_stored(gateway: RunningGateway, legacy: str) -> None:
    before = rows(legacy)
    response = requests.post(
        gateway.url + BASE, json={"name": "x", "relatedParty": [{"id": "p1", "role": "owner"}]}, timeout=10
    )
    assert response.status_code == 400 and response.json()["@type"] == "Error"
    assert rows(legacy) == before


@pytest.mark.parametrize(
    "query", ["name.regex=^olt", "relatedParty.id=p1", "sort=usageState", "filter=relatedParty[?(@.id=='p1')]"]
)
def test_what_the_table_cannot_do_is_a_declared_501(gateway: RunningGateway, query: str) -> None:
    response = requests.get(f"{gateway.url}{BASE}?{query}", timeout=10)
    assert response.status_code == 501 and response.json()["@type"] == "Error", response.text


def test_an_unknown_adapter_is_refused_at_start(tmp_path: Path) -> None:
    from tmfgate import configuration
    from tmfgate.errors import ConfigurationError
    from tmfgate.runtime import load_apis
    from tmfgate.settings import Settings

    config = tmp_path / "tmfgate.yaml"
    config.write_text("apis:\n  tmf639: {adapter: {name: cmdb, url: 'sqlite:///x.db'}}\n")
    with pytest.raises(ConfigurationError, match="apis.tmf639.adapter.name 'cmdb' is no installed adapter; .*devices"):
        configuration.routing(Settings(config=str(config)), load_apis())


# --- the adapter as a store, without a gateway ---------------------------------------------------


@pytest.fixture
async def adapter(tmp_path: Path) -> AsyncIterator[DevicesAdapter]:
    """The adapter over an empty SQLite ``devices`` table it made itself (``create_table``)."""
    made = DevicesAdapter(AdapterContext(f"sqlite:///{tmp_path / 'legacy.db'}", "http://gw/v4", {"create_table": True}))
    await made.open()
    yield made
    await made.close()


@pytest.mark.anyio
async def test_a_document_is_a_row_and_back(adapter: DevicesAdapter) -> None:
    written = {
        "id": "d-9",
        "name": "olt-9",
        "resourceStatus": "alarm",
        "startOperatingDate": "2025-05-01T10:00:00+02:00",
    }
    async with adapter.transaction() as tx:
        await tx.create("resource", "d-9", orjson.dumps(written))
        with pytest.raises(DuplicateId):
            await tx.create("resource", "d-9", orjson.dumps(written))
    got = orjson.loads(await adapter.get("resource", "d-9") or b"")
    assert got == {
        "id": "d-9",
        "href": "http://gw/v4/resource/d-9",
        "@type": "Resource",
        "name": "olt-9",
        "resourceStatus": "alarm",
        "startOperatingDate": "2025-05-01T08:00:00Z",  # stored in UTC, the column has no zone
    }
    async with adapter.transaction() as tx:
        await tx.replace("resource", "d-9", orjson.dumps({"id": "d-9", "name": "olt-9b"}))
        with pytest.raises(NotStored):
            await tx.replace("resource", "d-0", orjson.dumps({"id": "d-0", "name": "x"}))
    assert orjson.loads(await adapter.get("resource", "d-9") or b"") == {
        "id": "d-9",
        "href": "http://gw/v4/resource/d-9",
        "@type": "Resource",
        "name": "olt-9b",  # a replace is whole: the attributes it leaves out are emptied
    }
    async with adapter.transaction() as tx:
        assert await tx.delete("resource", "d-9") and not await tx.delete("resource", "d-9")


@pytest.mark.anyio
async def test_a_failed_transaction_leaves_the_table_as_it_was(adapter: DevicesAdapter) -> None:
    with pytest.raises(RuntimeError):
        async with adapter.transaction() as tx:
            await tx.create("resource", "d-1", orjson.dumps({"id": "d-1", "name": "a"}))
            raise RuntimeError("boom")
    assert await adapter.get("resource", "d-1") is None


@pytest.mark.anyio
async def test_queries_filter_sort_and_page_in_sql(adapter: DevicesAdapter) -> None:
    async with adapter.transaction() as tx:
        for id, name, status in (("a", "olt-2", "available"), ("b", "olt-1", "reserved"), ("c", "ont-1", "available")):
            await tx.create("resource", id, orjson.dumps({"id": id, "name": name, "resourceStatus": status}))
    available = Condition(("resourceStatus",), Op.EQ, ValueType.STRING, ("available",))
    page = await adapter.query("resource", Query(conditions=(available,), sort=(SortKey(("name",), True),), limit=1))
    assert page.total == 2 and [orjson.loads(i)["id"] for i in page.items] == ["c"]
    other = Condition(("resourceStatus",), Op.NE, ValueType.STRING, ("available",))
    assert [orjson.loads(i)["id"] for i in (await adapter.query("resource", Query(conditions=(other,)))).items] == ["b"]
    unknown = Condition(("resourceStatus",), Op.EQ, ValueType.STRING, ("no-such-status",))
    assert (await adapter.query("resource", Query(conditions=(unknown,)))).total == 0


def test_an_attribute_without_a_column_is_refused() -> None:
    with pytest.raises(UnstorableDocument, match="no column for relatedParty"):
        row_values({"id": "d", "name": "x", "relatedParty": []})
    assert row_values({"id": "d", "href": "h", "@type": "Resource", "category": "olt"}) == {
        "device_id": "d",
        "device_class": "olt",
    }


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (Condition(("name",), Op.REGEX, ValueType.STRING, ("^olt",)), "regular expressions"),
        (Condition(("usageState",), Op.EQ, ValueType.STRING, ("idle",)), "cannot filter on usageState"),
    ],
)
def test_what_the_table_cannot_filter_is_unsupported(condition: Condition, message: str) -> None:
    with pytest.raises(Unsupported, match=message):
        clause(condition)


def test_a_whole_day_is_a_range_of_the_column() -> None:
    day = Instant(dt.datetime(2025, 1, 10, tzinfo=dt.UTC), whole_day=True)
    sql = str(clause(Condition(("startOperatingDate",), Op.EQ, ValueType.DATETIME, (day,))))
    assert "commissioned_at >=" in sql and "commissioned_at <" in sql


@pytest.mark.anyio
async def test_a_closed_adapter_is_unavailable_and_keeps_no_events(adapter: DevicesAdapter) -> None:
    async with adapter.transaction() as tx:
        with pytest.raises(Unsupported, match="keeps no events"):
            await tx.add_event(object())
    await adapter.close()
    with pytest.raises(StorageUnavailable, match="not open"):
        await adapter.get("resource", "d-1")
