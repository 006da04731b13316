"""The operator commands on a store: list deliveries, redeliver parked ones, replay a subscription."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import orjson
import pytest

from backends import open_backend
from backends.base import Backend, Delivery, DeliveryState, Event
from tmfgate import times
from tmfgate.cli import main
from tmfgate.notifications import commands

T = TypeVar("T")
API = "tmf622_product_ordering"
HUB = "tmfgate:hub"  # tmfgate.subscriptions.HUB_KIND


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An SQLite store that exists; the environment names another, so --database-url must win."""
    monkeypatch.setenv("TMFGATE_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    database = f"sqlite:///{tmp_path / 'tmfgate.db'}"
    asyncio.run(_on(database, _nothing))
    return database


async def _nothing(backend: Backend) -> None:
    return None


async def _on(url: str, action: Callable[[Backend], Awaitable[T]]) -> T:
    backend = open_backend(url)
    await backend.open()
    try:
        return await action(backend)
    finally:
        await backend.close()


def setup(url: str, *, orders: int, park: bool) -> tuple[str, list[str]]:
    """A subscription and ``orders`` create events sent to it once: parked, or delivered."""
    subscription = str(uuid.uuid4())
    resources = [str(uuid.uuid4()) for _ in range(orders)]

    async def build(backend: Backend) -> None:
        doc = {
            "id": subscription,
            "callback": "http://127.0.0.1:9/listener",
            "query": "",
            "createdAt": times.now(),
            "api": API,
        }
        async with backend.transaction() as tx:
            await tx.create(HUB, subscription, orjson.dumps(doc))
        for resource in resources:
            async with backend.transaction() as tx:
                await tx.add_event(event(resource))
        while await backend.fan_out(lambda e: [subscription] if e.resource_id in resources else []):
            pass
        for delivery in await backend.claim(limit=1000, lease=30, now=dt.datetime.now(dt.UTC)):
            if delivery.subscription_id == subscription:
                await backend.settle(delivery.id, delivered=not park, error=None if not park else "HTTP 503")

    asyncio.run(_on(url, build))
    return subscription, resources


def event(resource_id: str) -> Event:
    id = str(uuid.uuid4())
    moment = dt.datetime.now(dt.UTC)
    body = {
        "eventId": id,
        "eventTime": times.stamp(moment),
        "eventType": "ProductOrderCreateEvent",
        "event": {"productOrder": {"id": resource_id}},
    }
    return Event(
        id=id,
        api=API,
        kind="productOrder",
        resource_id=resource_id,
        type="ProductOrderCreateEvent",
        time=moment,
        head=orjson.dumps(body),
    )


def deliveries(url: str, subscription: str, state: DeliveryState | None = None) -> list[Delivery]:
    async def read(backend: Backend) -> list[Delivery]:
        return await backend.deliveries(state=state, subscription_id=subscription, limit=1000)

    return asyncio.run(_on(url, read))


def test_deliveries_prints_a_table(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    parked, resources = setup(url, orders=2, park=True)
    delivered, _ = setup(url, orders=1, park=False)

    assert main(["deliveries", "--state", "parked", "--subscription", parked, "--database-url", url]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "ID",
        "SUBSCRIPTION",
        "STATE",
        "ATTEMPTS",
        "NEXT",
        "ATTEMPT",
        "EVENT",
        "RESOURCE",
        "LAST",
        "ERROR",
    ]
    assert len(rows) == 2
    ids = [d.id for d in deliveries(url, parked)]
    for row, id, resource in zip(rows, ids, resources, strict=True):
        cells = row.split()
        assert cells[:4] == [id, parked, "parked", "1"]
        assert cells[5:] == ["ProductOrderCreateEvent", f"productOrder/{resource}", "HTTP", "503"]

    assert main(["deliveries", "--state", "parked", "--subscription", delivered, "--database-url", url]) == 0
    assert capsys.readouterr().out == "No deliveries match.\n"
    assert main(["deliveries", "--limit", "1", "--database-url", url]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2
    assert "--limit" in err


def test_redeliver_makes_parked_deliveries_pending(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    parked, _ = setup(url, orders=2, park=True)
    first, second = (d.id for d in deliveries(url, parked))

    assert main(["redeliver", first, "--database-url", url]) == 0
    assert capsys.readouterr().out == f"{first}: pending again, due now\n"
    states = {d.id: (d.state, d.attempts) for d in deliveries(url, parked)}
    assert states == {first: (DeliveryState.PENDING, 0), second: (DeliveryState.PARKED, 1)}

    unknown = str(uuid.uuid4())
    assert main(["redeliver", first, second, unknown, "--database-url", url]) == 1
    out, err = capsys.readouterr()
    assert out == f"{second}: pending again, due now\n"
    assert f"{first}: not redelivered" in err and f"{unknown}: not redelivered" in err


def test_replay_queues_a_subscriptions_events(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    since = dt.datetime.now(dt.UTC).isoformat()
    subscription, resources = setup(url, orders=3, park=False)

    assert main(["replay", subscription, "--since", since, "--database-url", url]) == 0
    assert capsys.readouterr().out.startswith(f"3 events since {since[:23]}")
    pending = deliveries(url, subscription, DeliveryState.PENDING)
    assert [d.event.resource_id for d in pending] == resources

    assert main(["replay", subscription, "--since", "2999-01-01T00:00:00+01:00", "--database-url", url]) == 0
    assert capsys.readouterr().out.startswith("0 events since 2998-12-31T23:00:00.000Z")
    assert main(["replay", str(uuid.uuid4()), "--since", since, "--database-url", url]) == 1
    assert "no hub subscription" in capsys.readouterr().err


@pytest.mark.parametrize("since", ["2026-11-25T00:00:00", "yesterday"])
def test_replay_needs_a_date_time_with_a_zone(url: str, since: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["replay", "s1", "--since", since, "--database-url", url])
    assert exit.value.code == 2
    assert "2026-11-25T00:00:00Z" in capsys.readouterr().err


def test_the_store_comes_from_the_environment(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    parked, _ = setup(url, orders=1, park=True)
    monkeypatch.setenv("TMFGATE_DATABASE_URL", url)
    assert main(["deliveries", "--subscription", parked]) == 0
    assert parked in capsys.readouterr().out


@pytest.mark.parametrize("database", ["memory://", "sqlite:///{tmp}/missing.db", "nosuch://x"])
def test_a_store_the_commands_cannot_use_is_refused(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = database.format(tmp=tmp_path)
    assert main(["deliveries", "--database-url", database]) == 2
    assert capsys.readouterr().err.startswith("tmfgate: ")
    assert not (tmp_path / "missing.db").exists()  # not created empty by mistake


def test_the_table_aligns_its_columns_and_shortens_long_errors() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    event = Event(
        id="e1", api="a", kind="productOrder", resource_id="o1", type="ProductOrderCreateEvent", time=when, head=b"{}"
    )
    long = Delivery("d-long-id", "s1", event, DeliveryState.PARKED, 3, when, "The listener\nanswered " + "x" * 80)
    short = Delivery("d2", "s1", event, DeliveryState.PENDING, 0, when)
    header, first, second = commands.table([long, short]).splitlines()
    assert header.split() == [
        "ID",
        "SUBSCRIPTION",
        "STATE",
        "ATTEMPTS",
        "NEXT",
        "ATTEMPT",
        "EVENT",
        "RESOURCE",
        "LAST",
        "ERROR",
    ]
    assert first.startswith("d-long-id  s1") and second.startswith("d2         s1")
    assert first.index("parked") == second.index("pending") == header.index("STATE")
    assert first.endswith("…") and "The listener answered xxx" in first and len(first.split("  ")[-1]) == 60
    assert "productOrder/o1" in second and second.rstrip() == second
