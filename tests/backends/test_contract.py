"""One contract suite for every store: documents and the outbox, with the same assertions on each.

The tests use the protocols of :mod:`backends.base` only. A store joins by adding its name to
``DOCUMENT_STORES`` (and to ``OUTBOX_STORES`` when it has an outbox) and a branch to ``store_url``
in ``tests/backends/conftest.py`` that gives the URL of an empty store ``open_backend`` opens.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from backends.base import (
    Backend,
    Condition,
    Delivery,
    DeliveryState,
    DocumentStore,
    DuplicateId,
    Event,
    NotStored,
    Op,
    Page,
    Query,
    SortKey,
    ValueType,
)
from tests.backends.conftest import STORES, empty_store, opened

pytestmark = pytest.mark.anyio

DOCUMENT_STORES = STORES  # the stores the document tests run on
OUTBOX_STORES = STORES  # the stores the outbox tests run on
LEASE = 30.0


@pytest.fixture(params=DOCUMENT_STORES)
async def documents(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    """An open, empty document store of each kind."""
    async with empty_store(request, request.param, tmp_path) as url, opened(url) as store:
        yield store


@pytest.fixture(params=OUTBOX_STORES)
async def outbox_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with empty_store(request, request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def backend(outbox_url: str) -> AsyncIterator[Backend]:
    """An open, empty store with its outbox, of each kind."""
    async with opened(outbox_url) as backend:
        yield backend


@pytest.fixture
async def other(backend: Backend, outbox_url: str) -> AsyncIterator[Backend]:
    """A second handle on the same store: its own connections on SQL, the same object in memory."""
    if outbox_url.startswith("memory"):
        yield backend
        return
    async with opened(outbox_url) as other:
        yield other


def doc(id: str, **attributes: Any) -> bytes:
    return orjson.dumps({"id": id, **attributes})


def ids(items: list[bytes]) -> list[str]:
    return [orjson.loads(item)["id"] for item in items]


async def create_all(store: DocumentStore, kind: str, *documents: bytes) -> None:
    async with store.transaction() as tx:
        for document in documents:
            await tx.create(kind, orjson.loads(document)["id"], document)


# --- documents: CRUD and transactions ----------------------------------------------------------


async def test_create_get_replace_delete(documents: DocumentStore, kind: str) -> None:
    async with documents.transaction() as tx:
        await tx.create(kind, "1", doc("1", name="first"))
        assert orjson.loads(await tx.get(kind, "1") or b"") == {"id": "1", "name": "first"}
    assert orjson.loads(await documents.get(kind, "1") or b"") == {"id": "1", "name": "first"}
    async with documents.transaction() as tx:
        await tx.replace(kind, "1", doc("1", name="second"))
    assert orjson.loads(await documents.get(kind, "1") or b"")["name"] == "second"
    async with documents.transaction() as tx:
        assert await tx.delete(kind, "1") is True
        assert await tx.get(kind, "1") is None
        assert await tx.delete(kind, "1") is False
    assert await documents.get(kind, "1") is None


async def test_get_returns_bytes_of_the_stored_json(documents: DocumentStore, kind: str) -> None:
    stored = doc("1", price=1.5, tags=["a", "é"], nested={"x": None})
    await create_all(documents, kind, stored)
    raw = await documents.get(kind, "1")
    assert isinstance(raw, bytes)
    assert orjson.loads(raw) == orjson.loads(stored)


async def test_duplicate_id_raises_and_keeps_the_transaction_usable(documents: DocumentStore, kind: str) -> None:
    await create_all(documents, kind, doc("1", v=1))
    async with documents.transaction() as tx:
        with pytest.raises(DuplicateId):
            await tx.create(kind, "1", doc("1", v=2))
        await tx.create(kind, "2", doc("2"))
    assert orjson.loads(await documents.get(kind, "1") or b"")["v"] == 1
    assert await documents.get(kind, "2") is not None


async def test_replace_of_a_missing_document_raises_not_stored(documents: DocumentStore, kind: str) -> None:
    async with documents.transaction() as tx:
        with pytest.raises(NotStored):
            await tx.replace(kind, "missing", doc("missing"))


async def test_an_exception_rolls_everything_back(documents: DocumentStore, kind: str) -> None:
    await create_all(documents, kind, doc("kept", v=1), doc("doomed"))
    with pytest.raises(RuntimeError, match="boom"):
        async with documents.transaction() as tx:
            await tx.create(kind, "new", doc("new"))
            await tx.replace(kind, "kept", doc("kept", v=2))
            assert await tx.delete(kind, "doomed")
            raise RuntimeError("boom")
    assert await documents.get(kind, "new") is None
    assert orjson.loads(await documents.get(kind, "kept") or b"")["v"] == 1
    assert await documents.get(kind, "doomed") is not None
    assert (await documents.query(kind, Query())).total == 2


async def test_uncommitted_writes_are_seen_only_inside(documents: DocumentStore, kind: str) -> None:
    async with documents.transaction() as tx:
        await tx.create(kind, "1", doc("1"))
        assert ids((await tx.query(kind, Query())).items) == ["1"]
        assert await documents.get(kind, "1") is None
        assert (await documents.query(kind, Query())).total == 0
    assert await documents.get(kind, "1") is not None


async def test_kinds_are_separate(documents: DocumentStore, kind: str) -> None:
    await create_all(documents, kind, doc("1"))
    await create_all(documents, f"{kind}b", doc("1"), doc("2"))
    assert (await documents.query(kind, Query())).total == 1
    assert (await documents.query(f"{kind}b", Query())).total == 2


# --- documents: queries ------------------------------------------------------------------------


async def test_paging_and_total(documents: DocumentStore, kind: str) -> None:
    await create_all(documents, kind, *(doc(f"d{i:02}", i=i) for i in range(25)))
    page = await documents.query(kind, Query(offset=10, limit=10))
    assert page.total == 25 and ids(page.items) == [f"d{i:02}" for i in range(10, 20)]
    page = await documents.query(kind, Query(offset=20, limit=10))
    assert page.total == 25 and ids(page.items) == [f"d{i:02}" for i in range(20, 25)]
    assert await documents.query(kind, Query(offset=30, limit=10)) == Page(total=25, items=[])
    assert (await documents.query(kind, Query(limit=0))).items == []
    assert len((await documents.query(kind, Query())).items) == 25
    assert await documents.query(f"{kind}-empty", Query(limit=5)) == Page(total=0, items=[])


async def test_default_order_is_insertion_order(documents: DocumentStore, kind: str) -> None:
    await create_all(documents, kind, doc("b"), doc("c"), doc("a"))
    async with documents.transaction() as tx:
        await tx.replace(kind, "b", doc("b", v=2))  # keeps its place
        await tx.create(kind, "0", doc("0"))
    assert ids((await documents.query(kind, Query())).items) == ["b", "c", "a", "0"]
    async with documents.transaction() as tx:
        await tx.delete(kind, "c")
        await tx.create(kind, "c", doc("c"))  # a new document goes last
    assert ids((await documents.query(kind, Query())).items) == ["b", "a", "0", "c"]


async def test_filters_and_sorts_pass_through(documents: DocumentStore, kind: str) -> None:
    states = ["done", "open", "done", "open", "done", "held"]
    await create_all(documents, kind, *(doc(f"d{i}", state=s, rank=i % 3) for i, s in enumerate(states)))
    done = Condition(path=("state",), op=Op.EQ, value_type=ValueType.STRING, values=("done",))
    page = await documents.query(kind, Query(conditions=(done,), limit=2))
    assert page.total == 3 and ids(page.items) == ["d0", "d2"]
    by_state = Query(sort=(SortKey(path=("state",)),))
    # Ties keep insertion order.
    assert ids((await documents.query(kind, by_state)).items) == ["d0", "d2", "d4", "d5", "d1", "d3"]
    open_or_held = Condition(path=("state",), op=Op.NE, value_type=ValueType.STRING, values=("done",))
    newest_first = Query(conditions=(open_or_held,), sort=(SortKey(("state",), descending=True),), offset=1)
    page = await documents.query(kind, newest_first)
    assert page.total == 3 and ids(page.items) == ["d3", "d5"]


async def test_filter_sort_and_page_together(documents: DocumentStore, kind: str) -> None:
    stored = [doc(f"d{i:02}", priority=(i * 7) % 20, party=[{"role": "a" if i % 2 else "b"}]) for i in range(30)]
    await create_all(documents, kind, *stored)
    at_least_5 = Condition(path=("priority",), op=Op.GTE, value_type=ValueType.NUMBER, values=(Decimal(5),))
    role_a = Condition(path=("party", "role"), op=Op.EQ, value_type=ValueType.STRING, values=("a",))
    query = Query(conditions=(at_least_5, role_a), sort=(SortKey(("priority",), descending=True),))
    expected = sorted(
        (d for d in map(orjson.loads, stored) if d["priority"] >= 5 and d["party"][0]["role"] == "a"),
        key=lambda d: -d["priority"],  # sorted() is stable: ties stay in insertion order
    )
    page = await documents.query(kind, Query(query.conditions, query.sort, offset=2, limit=5))
    assert page.total == len(expected)
    assert ids(page.items) == [d["id"] for d in expected[2:7]]


# --- documents: concurrency --------------------------------------------------------------------


async def increment(store: DocumentStore, kind: str, id: str) -> None:
    """A read-modify-write that loses updates unless the read locks the document."""
    async with store.transaction() as tx:
        counter = orjson.loads(await tx.get(kind, id, for_update=True) or b"")
        await asyncio.sleep(0)  # let the other writers run between the read and the write
        counter["n"] += 1
        await tx.replace(kind, id, orjson.dumps(counter))


async def test_concurrent_writers_lose_no_update(documents: DocumentStore, kind: str) -> None:
    await create_all(documents, kind, doc("counter", n=0))

    async def writer(i: int) -> None:
        await create_all(documents, kind, doc(f"w{i}"))
        await increment(documents, kind, "counter")

    await asyncio.gather(*(writer(i) for i in range(20)))
    assert orjson.loads(await documents.get(kind, "counter") or b"")["n"] == 20
    assert (await documents.query(kind, Query())).total == 21


async def test_concurrent_creates_of_one_id_admit_one(documents: DocumentStore, kind: str) -> None:
    results = await asyncio.gather(
        *(create_all(documents, kind, doc("same", by=i)) for i in range(10)), return_exceptions=True
    )
    assert sum(result is None for result in results) == 1
    assert all(isinstance(result, DuplicateId) for result in results if result is not None)


# --- the outbox: helpers -----------------------------------------------------------------------


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def event(kind: str, resource_id: str, n: int = 0, *, at: dt.datetime | None = None) -> Event:
    id = uuid.uuid4().hex
    return Event(
        id=id,
        api="productOrdering",
        kind=kind,
        resource_id=resource_id,
        type="ProductOrderStateChangeEvent",
        time=at or now(),
        head=orjson.dumps({"eventId": id, "event": {"id": resource_id, "n": n}}),
    )


def to(*subscription_ids: str) -> Callable[[Event], Iterable[str]]:
    return lambda _: subscription_ids


async def record(backend: Backend, *events: Event) -> None:
    """Store each event with the change it describes, one transaction per event."""
    for e in events:
        async with backend.transaction() as tx:
            await tx.create(e.kind, e.id, orjson.dumps({"id": e.id}))
            await tx.add_event(e)


async def fan_out_all(backend: Backend, route: Callable[[Event], Iterable[str]], limit: int = 200) -> int:
    total = 0
    while taken := await backend.fan_out(route, limit=limit):
        total += taken
    return total


def sent(deliveries: list[Delivery]) -> list[tuple[str, int]]:
    """(subscription, n of the event body) of each delivery, as a test reads them easily."""
    return [(d.subscription_id, orjson.loads(d.event.body)["event"]["n"]) for d in deliveries]


# --- the outbox commits with the change ---------------------------------------------------------


async def test_a_committed_event_is_fanned_out_as_recorded(backend: Backend, kind: str) -> None:
    recorded = event(
        kind, "o1", at=dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    )
    await record(backend, recorded)
    routed: list[Event] = []

    def route(e: Event) -> list[str]:
        routed.append(e)
        return ["s1"]

    assert await backend.fan_out(route) == 1
    [seen] = routed
    assert seen.seq > 0 and seen == recorded._replace(seq=seen.seq)
    assert seen.time.utcoffset() == dt.timedelta(0)  # the same instant, given back in UTC
    [delivery] = await backend.deliveries()
    assert delivery.event == seen and delivery.subscription_id == "s1"
    assert delivery.state is DeliveryState.PENDING and delivery.attempts == 0 and delivery.last_error is None
    assert delivery.next_attempt <= now() and delivery.next_attempt.utcoffset() == dt.timedelta(0)


def enveloping(kind: str, resource_id: str, document: bytes, type: str) -> Event:
    """An event whose body carries the document as stored, in parts, as the gateway's events do."""
    id = uuid.uuid4().hex
    head = orjson.dumps({"eventId": id, "eventType": type})[:-1] + b',"event":{"' + kind.encode() + b'":'
    return Event(
        id=id,
        api="productOrdering",
        kind=kind,
        resource_id=resource_id,
        type=type,
        time=now(),
        head=head,
        document=document,
        tail=b"}}",
    )


async def test_events_carrying_the_document_come_back_whole(backend: Backend, kind: str) -> None:
    # Created and changed in one transaction, then changed and deleted: each event's body holds
    # the document as it was at that moment (the memory store keeps it once, shared with the
    # store, and must give each event back byte for byte).
    first, second, third = (orjson.dumps({"id": "d1", "v": v}) for v in (1, 2, 3))
    recorded = [enveloping(kind, "d1", first, "CreateEvent"), enveloping(kind, "d1", second, "ChangeEvent")]
    async with backend.transaction() as tx:
        await tx.create(kind, "d1", first)
        await tx.add_event(recorded[0])
        await tx.replace(kind, "d1", second)
        await tx.add_event(recorded[1])
    recorded.append(enveloping(kind, "d1", third, "ChangeEvent"))
    recorded.append(enveloping(kind, "d1", third, "DeleteEvent"))
    async with backend.transaction() as tx:
        await tx.replace(kind, "d1", third)
        await tx.add_event(recorded[2])
        await tx.delete(kind, "d1")
        await tx.add_event(recorded[3])
    routed: list[Event] = []
    assert await fan_out_all(backend, lambda e: routed.append(e) or ["s1"]) == 4
    assert [e.body for e in routed] == [e.body for e in recorded]
    assert await backend.replay("s2", recorded[0].time, lambda e: True) == 4
    replayed = [d.event.body for d in await backend.deliveries(subscription_id="s2")]
    assert replayed == [e.body for e in recorded]


async def test_an_event_of_a_rolled_back_change_never_appears(backend: Backend, kind: str) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with backend.transaction() as tx:
            await tx.create(kind, "o1", orjson.dumps({"id": "o1"}))
            await tx.add_event(event(kind, "o1"))
            raise RuntimeError("boom")
    assert await backend.get(kind, "o1") is None
    assert await backend.fan_out(to("s1")) == 0
    assert await backend.replay("s1", now() - dt.timedelta(days=1), lambda _: True) == 0
    assert await backend.deliveries() == []


async def test_a_naive_time_is_refused(backend: Backend, kind: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        async with backend.transaction() as tx:
            await tx.add_event(event(kind, "o1", at=dt.datetime(2024, 5, 1)))
    with pytest.raises(ValueError, match="timezone-aware"):
        await backend.claim(limit=1, lease=LEASE, now=dt.datetime(2024, 5, 1))


async def test_times_compare_as_instants_whatever_their_offset(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1"))
    await fan_out_all(backend, to("s1"))
    t = now()
    east, west = dt.timezone(dt.timedelta(hours=5)), dt.timezone(dt.timedelta(hours=-5))
    # An earlier instant whose wall-clock reading is later: not yet due.
    assert await backend.claim(limit=1, lease=LEASE, now=(t - dt.timedelta(minutes=1)).astimezone(east)) == []
    [claimed] = await backend.claim(limit=1, lease=LEASE, now=t.astimezone(west))
    assert claimed.next_attempt <= t


# --- fan-out -----------------------------------------------------------------------------------


async def test_fan_out_routes_each_event_once_oldest_first(backend: Backend, kind: str) -> None:
    await record(backend, *(event(kind, f"o{n}", n) for n in range(5)))
    routes = {0: ["a", "b", "a"], 1: [], 2: ["b"], 3: ["a"], 4: ["a", "b"]}  # "a" twice: one delivery
    routed: list[int] = []

    def route(e: Event) -> list[str]:
        n = orjson.loads(e.body)["event"]["n"]
        routed.append(n)
        return routes[n]

    assert [await backend.fan_out(route, limit=2) for _ in range(4)] == [2, 2, 1, 0]
    assert routed == [0, 1, 2, 3, 4]
    fanned = sent(await backend.deliveries())
    assert [n for _, n in fanned] == [0, 0, 2, 3, 4, 4]  # oldest event first; any order within one
    assert sorted(fanned) == sorted([("a", 0), ("b", 0), ("b", 2), ("a", 3), ("a", 4), ("b", 4)])


async def test_a_failing_route_fans_out_nothing(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1", 1), event(kind, "o2", 2))

    def route(e: Event) -> list[str]:
        if orjson.loads(e.body)["event"]["n"] == 2:
            raise LookupError("subscriptions unavailable")
        return ["s1"]

    with pytest.raises(LookupError):
        await backend.fan_out(route)
    assert await backend.deliveries() == []
    assert await backend.fan_out(to("s1")) == 2
    assert sent(await backend.deliveries()) == [("s1", 1), ("s1", 2)]


async def test_two_fan_outs_at_once_take_each_event_once(backend: Backend, other: Backend, kind: str) -> None:
    await record(backend, *(event(kind, f"o{n % 7}", n) for n in range(40)))
    taken = await asyncio.gather(fan_out_all(backend, to("s1"), limit=3), fan_out_all(other, to("s1"), limit=3))
    assert sum(taken) == 40
    fanned = await backend.deliveries(limit=1000)
    assert sorted(n for _, n in sent(fanned)) == list(range(40))
    assert len({d.event.seq for d in fanned}) == 40


# --- claiming ----------------------------------------------------------------------------------


async def test_claim_waits_for_the_due_time_and_honours_leases(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1"))
    await fan_out_all(backend, to("s1"))
    t = now()
    assert await backend.claim(limit=10, lease=LEASE, now=t - dt.timedelta(hours=1)) == []
    [first] = await backend.claim(limit=10, lease=LEASE, now=t)
    # Leased: nobody else gets it, however often they ask, until the lease runs out.
    assert await backend.claim(limit=10, lease=LEASE, now=t) == []
    assert await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(seconds=LEASE - 1)) == []
    # The claimer crashed without settling: after the lease the delivery goes out again.
    [again] = await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(seconds=LEASE + 1))
    assert again.id == first.id and again.attempts == 0 and again.event.body == first.event.body
    await backend.settle(again.id, delivered=False, error="HTTP 503", retry_at=t + dt.timedelta(minutes=5))
    assert await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(minutes=4)) == []
    [retried] = await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(minutes=5))
    assert (retried.id, retried.attempts, retried.last_error) == (first.id, 1, "HTTP 503")
    assert retried.next_attempt == t + dt.timedelta(minutes=5)


async def test_claim_takes_the_oldest_events_first_up_to_the_limit(backend: Backend, kind: str) -> None:
    await record(backend, *(event(kind, f"o{n}", n) for n in range(5)))
    await fan_out_all(backend, to("s1"))
    t = now()
    assert sent(await backend.claim(limit=3, lease=LEASE, now=t)) == [("s1", 0), ("s1", 1), ("s1", 2)]
    assert sent(await backend.claim(limit=3, lease=LEASE, now=t)) == [("s1", 3), ("s1", 4)]
    assert await backend.claim(limit=0, lease=LEASE, now=t) == []


async def test_a_resource_s_events_go_out_one_at_a_time_in_order(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1", 1), event(kind, "o1", 2), event(kind, "o2", 3))
    await fan_out_all(backend, to("s1", "s2"))
    t = now()
    # e2 waits behind e1 for each subscription; o2 and the other subscription do not.
    claimed = await backend.claim(limit=10, lease=LEASE, now=t)
    assert sorted(sent(claimed)) == [("s1", 1), ("s1", 3), ("s2", 1), ("s2", 3)]
    assert await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(seconds=LEASE / 2)) == []
    first_to_s1 = next(d for d in claimed if sent([d]) == [("s1", 1)])
    await backend.settle(first_to_s1.id, delivered=True)
    assert sent(await backend.claim(limit=10, lease=LEASE, now=t)) == [("s1", 2)]


async def test_a_retried_delivery_holds_back_the_resource_s_later_events(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1", 1), event(kind, "o1", 2))
    await fan_out_all(backend, to("s1"))
    t = now()
    [e1] = await backend.claim(limit=10, lease=LEASE, now=t)
    await backend.settle(e1.id, delivered=False, error="timeout", retry_at=t + dt.timedelta(minutes=1))
    # e1 is pending but not due; e2 must still wait for it.
    assert await backend.claim(limit=10, lease=LEASE, now=t) == []
    [again] = await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(minutes=1))
    assert again.id == e1.id
    await backend.settle(e1.id, delivered=False, error="timeout")  # no retry_at: parked
    assert sent(await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(minutes=1))) == [("s1", 2)]


async def test_a_failure_without_retry_parks_until_redelivered(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1", 1))
    await fan_out_all(backend, to("s1"))
    t = now()
    [claimed] = await backend.claim(limit=1, lease=LEASE, now=t)
    await backend.settle(claimed.id, delivered=False, error="HTTP 410 Gone")
    [parked] = await backend.deliveries(state=DeliveryState.PARKED)
    assert (parked.id, parked.attempts, parked.last_error) == (claimed.id, 1, "HTTP 410 Gone")
    assert await backend.delivery(claimed.id) == parked
    assert await backend.claim(limit=1, lease=LEASE, now=t + dt.timedelta(days=365)) == []
    later = t + dt.timedelta(hours=1)
    assert await backend.redeliver(claimed.id, now=later) is True
    assert await backend.redeliver(claimed.id, now=later) is False  # pending now, not parked
    [pending] = await backend.deliveries(state=DeliveryState.PENDING)
    assert (pending.id, pending.attempts, pending.next_attempt) == (claimed.id, 0, later)
    assert await backend.claim(limit=1, lease=LEASE, now=later - dt.timedelta(seconds=1)) == []
    [redelivered] = await backend.claim(limit=1, lease=LEASE, now=later)
    await backend.settle(redelivered.id, delivered=True)
    [done] = await backend.deliveries(state=DeliveryState.DELIVERED)
    assert (done.id, done.attempts) == (claimed.id, 1)


async def test_redeliver_of_an_unknown_delivery_is_false(backend: Backend) -> None:
    assert await backend.redeliver(str(uuid.uuid4()), now=now()) is False
    assert await backend.redeliver("not-a-delivery-id", now=now()) is False
    await backend.settle("not-a-delivery-id", delivered=True)  # nothing to settle; no error


async def test_a_late_failure_does_not_undo_a_delivery(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1", 1))
    await fan_out_all(backend, to("s1"))
    [claimed] = await backend.claim(limit=1, lease=LEASE, now=now())
    await backend.settle(claimed.id, delivered=True)
    await backend.settle(claimed.id, delivered=False, error="lease had expired", retry_at=now())
    [delivery] = await backend.deliveries()
    assert (delivery.state, delivery.attempts, delivery.last_error) == (DeliveryState.DELIVERED, 1, None)


# --- operators ---------------------------------------------------------------------------------


async def test_deliveries_are_listed_by_state_and_subscription(backend: Backend, kind: str) -> None:
    await record(backend, *(event(kind, f"o{n}", n) for n in range(4)))
    await fan_out_all(backend, to("s1", "s2"))
    t = now()
    for delivery in await backend.claim(limit=10, lease=LEASE, now=t):
        n = sent([delivery])[0][1]
        if delivery.subscription_id == "s1" and n < 2:
            await backend.settle(delivery.id, delivered=True)
        elif delivery.subscription_id == "s2" and n == 3:
            await backend.settle(delivery.id, delivered=False, error="refused")
    assert sent(await backend.deliveries(state=DeliveryState.DELIVERED)) == [("s1", 0), ("s1", 1)]
    assert sent(await backend.deliveries(state=DeliveryState.PARKED)) == [("s2", 3)]
    assert sent(await backend.deliveries(subscription_id="s2")) == [("s2", n) for n in range(4)]
    pending_s1 = await backend.deliveries(state=DeliveryState.PENDING, subscription_id="s1")
    assert sent(pending_s1) == [("s1", 2), ("s1", 3)]
    everything = await backend.deliveries()
    assert [d.event.seq for d in everything] == sorted(d.event.seq for d in everything)
    assert everything[2:5] == await backend.deliveries(offset=2, limit=3)
    assert await backend.deliveries(subscription_id="nobody") == []
    # Counted over every page, as the operator API's X-Total-Count needs.
    assert await backend.count_deliveries() == len(everything) == 8
    assert await backend.count_deliveries(state=DeliveryState.DELIVERED) == 2
    assert await backend.count_deliveries(state=DeliveryState.PARKED) == 1
    assert await backend.count_deliveries(subscription_id="s2") == 4
    assert await backend.count_deliveries(state=DeliveryState.PENDING, subscription_id="s1") == 2
    assert await backend.count_deliveries(subscription_id="nobody") == 0


async def test_one_delivery_is_found_by_its_id(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1", 1), event(kind, "o2", 2))
    await fan_out_all(backend, to("s1", "s2"))
    everything = await backend.deliveries()
    for listed in everything:
        assert await backend.delivery(listed.id) == listed
    [claimed, *_] = await backend.claim(limit=1, lease=LEASE, now=now())
    await backend.settle(claimed.id, delivered=False, error="refused")
    found = await backend.delivery(claimed.id)
    assert found is not None and (found.state, found.attempts, found.last_error) == (DeliveryState.PARKED, 1, "refused")
    assert found.event.body == claimed.event.body
    assert await backend.delivery(str(uuid.uuid4())) is None
    assert await backend.delivery("not-a-delivery-id") is None


async def test_replay_sends_a_subscription_the_events_since_a_time(backend: Backend, kind: str) -> None:
    t = now()
    await record(backend, *(event(kind, f"o{n}", n, at=t - dt.timedelta(hours=4 - n)) for n in range(4)))
    await fan_out_all(backend, to("s1"))
    for delivery in await backend.claim(limit=10, lease=LEASE, now=now()):
        await backend.settle(delivery.id, delivered=True)
    accepted = lambda e: e.kind == kind and orjson.loads(e.body)["event"]["n"] != 3  # noqa: E731
    # Events at t-4h .. t-1h; since t-3h takes n=1, 2 and 3, and the route turns 3 away.
    assert await backend.replay("s9", t - dt.timedelta(hours=3), accepted) == 2
    replayed = await backend.deliveries(subscription_id="s9")
    assert sent(replayed) == [("s9", 1), ("s9", 2)]
    assert all(d.state is DeliveryState.PENDING and d.attempts == 0 for d in replayed)
    assert sent(await backend.claim(limit=10, lease=LEASE, now=now())) == [("s9", 1), ("s9", 2)]
    assert await backend.replay("s9", t, accepted) == 0


async def test_drop_deliveries_keeps_only_what_was_delivered(backend: Backend, kind: str) -> None:
    await record(backend, *(event(kind, f"o{n}", n) for n in range(3)))
    await fan_out_all(backend, to("gone", "kept"))
    claimed = await backend.claim(limit=10, lease=LEASE, now=now())
    by_n = {sent([d])[0]: d for d in claimed}
    await backend.settle(by_n[("gone", 0)].id, delivered=True)
    await backend.settle(by_n[("gone", 1)].id, delivered=False, error="gone")  # parked; 2 stays leased
    assert await backend.drop_deliveries("gone") == 2
    assert sent(await backend.deliveries(subscription_id="gone")) == [("gone", 0)]
    assert len(await backend.deliveries(subscription_id="kept")) == 3
    # The dispatcher holding the dropped delivery settles it: nothing comes back.
    await backend.settle(by_n[("gone", 2)].id, delivered=False, error="late", retry_at=now())
    assert sent(await backend.deliveries(subscription_id="gone")) == [("gone", 0)]
    assert await backend.drop_deliveries("gone") == 0


async def test_prune_forgets_old_events_once_every_delivery_of_them_was_delivered(backend: Backend, kind: str) -> None:
    t = now()
    hours_ago = [5, 4, 3, 2, 0]  # n=0..4; with a cut-off at t-1h, n=0..3 are old enough
    await record(backend, *(event(kind, f"o{n}", n, at=t - dt.timedelta(hours=h)) for n, h in enumerate(hours_ago)))
    await fan_out_all(backend, lambda e: ["s1"] if orjson.loads(e.body)["event"]["n"] != 2 else [])
    await record(backend, event(kind, "late", 9, at=t - dt.timedelta(hours=6)))  # old, but not fanned out yet
    by_n = {sent([d])[0][1]: d for d in await backend.claim(limit=10, lease=LEASE, now=now())}
    await backend.settle(by_n[0].id, delivered=True)
    await backend.settle(by_n[1].id, delivered=False, error="down")  # parked: kept for an operator
    await backend.settle(by_n[3].id, delivered=False, error="slow", retry_at=now())  # still pending
    await backend.settle(by_n[4].id, delivered=True)  # delivered, but recent
    cut_off = t - dt.timedelta(hours=1)
    assert await backend.prune(cut_off, limit=1) == 1  # n=0 (oldest first); n=2 had no deliveries
    assert await backend.prune(cut_off) == 1  # n=2
    assert await backend.prune(cut_off) == 0
    left = await backend.deliveries()
    assert sorted(sent(left)) == [("s1", 1), ("s1", 3), ("s1", 4)]
    everything = lambda e: True  # noqa: E731
    replayed = await backend.replay("s2", t - dt.timedelta(days=1), everything)
    assert replayed == 4  # n=1, 3, 4 and the late one; the pruned events are gone
    # Once the parked one is redelivered and delivered, its event goes too; the pending ones stay.
    assert await backend.redeliver(by_n[1].id, now=now())
    for delivery in await backend.claim(limit=10, lease=LEASE, now=now()):
        if delivery.id == by_n[1].id:
            await backend.settle(delivery.id, delivered=True)
    assert await backend.prune(cut_off) == 0  # s2's replayed delivery of n=1 is pending
    await backend.drop_deliveries("s2")
    assert await backend.prune(cut_off) == 1
    assert await backend.fan_out(to("s1")) == 1  # the late event was kept and fans out as usual


# --- several dispatchers -----------------------------------------------------------------------


async def claim_all(backend: Backend, limit: int = 4) -> list[str]:
    """Claim until nothing is left for this claimer; the ids it got."""
    ids: list[str] = []
    while claimed := await backend.claim(limit=limit, lease=LEASE, now=now()):
        ids.extend(d.id for d in claimed)
        await asyncio.sleep(0)
    return ids


async def test_two_claimers_at_once_never_share_a_delivery(backend: Backend, other: Backend, kind: str) -> None:
    await record(backend, *(event(kind, f"o{n}", n) for n in range(60)))
    await fan_out_all(backend, to("s1"))
    first, second = await asyncio.gather(claim_all(backend), claim_all(other))
    # One claimer may stop early while the other holds rows locked; a last sweep takes what is left.
    leftovers = await claim_all(backend)
    claimed = Counter([*first, *second, *leftovers])
    assert claimed.most_common(1)[0][1] == 1, "a delivery was claimed twice"
    assert len(claimed) == 60


async def test_older_events_made_pending_again_are_claimed_first(backend: Backend, kind: str) -> None:
    """A replay or a redelivery brings back older events behind newer pending ones; still oldest first."""
    await record(backend, *(event(kind, f"o{n}", n) for n in range(4)))
    await backend.fan_out(to("s1"), limit=2)
    t = now()
    first, second = await backend.claim(limit=10, lease=LEASE, now=t)
    await backend.settle(first.id, delivered=True)
    await backend.settle(second.id, delivered=False, error="refused")  # parked
    await fan_out_all(backend, to("s1"))
    assert await backend.replay("s2", t - dt.timedelta(hours=1), lambda e: e.kind == kind) == 4
    assert await backend.redeliver(second.id, now=t) is True
    claimed = await backend.claim(limit=3, lease=LEASE, now=now())
    assert sorted(sent(claimed)) == [("s1", 1), ("s2", 0), ("s2", 1)]
