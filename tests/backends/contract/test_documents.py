"""The document store contract: CRUD, transactions, queries and concurrent writers.

Each test uses the ids the store gives what it creates (an upstream TMF server chooses its own);
those needing client-chosen ids, transactions or a sort by any attribute say so (``needs``)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import orjson
import pytest

from backends.base import Condition, DocumentStore, DuplicateId, NotStored, Op, Page, Query, SortKey, ValueType
from tests.backends.contract.support import content, create_all, ids, increment, named, stored_id

pytestmark = pytest.mark.anyio


# --- documents: CRUD and transactions ----------------------------------------------------------


async def test_create_get_replace_delete(documents: DocumentStore, kind: str) -> None:
    async with documents.transaction() as tx:
        id = stored_id(await tx.create(kind, "1", named("1", name="first")), named("1"))
        assert content(await tx.get(kind, id)) == {"name": "first"}
    assert orjson.loads(await documents.get(kind, id) or b"")["id"] == id
    assert content(await documents.get(kind, id)) == {"name": "first"}
    async with documents.transaction() as tx:
        await tx.replace(kind, id, named(id, name="second"))
    assert content(await documents.get(kind, id)) == {"name": "second"}
    async with documents.transaction() as tx:
        assert await tx.delete(kind, id) is True
        assert await tx.get(kind, id) is None
        assert await tx.delete(kind, id) is False
    assert await documents.get(kind, id) is None


async def test_get_returns_bytes_of_the_stored_json(documents: DocumentStore, kind: str) -> None:
    stored = named("1", price=1.5, tags=["a", "é"], nested={"x": None})
    (id,) = await create_all(documents, kind, stored)
    raw = await documents.get(kind, id)
    assert isinstance(raw, bytes)
    assert content(raw) == content(stored)


@pytest.mark.needs("client ids")
async def test_duplicate_id_raises_and_keeps_the_transaction_usable(documents: DocumentStore, kind: str) -> None:
    await create_all(documents, kind, named("1", v=1))
    async with documents.transaction() as tx:
        with pytest.raises(DuplicateId):
            await tx.create(kind, "1", named("1", v=2))
        await tx.create(kind, "2", named("2"))
    assert orjson.loads(await documents.get(kind, "1") or b"")["v"] == 1
    assert await documents.get(kind, "2") is not None


async def test_replace_of_a_missing_document_raises_not_stored(documents: DocumentStore, kind: str) -> None:
    async with documents.transaction() as tx:
        with pytest.raises(NotStored):
            await tx.replace(kind, "missing", named("missing"))


@pytest.mark.needs("transactions")
async def test_an_exception_rolls_everything_back(documents: DocumentStore, kind: str) -> None:
    await create_all(documents, kind, named("kept", v=1), named("doomed"))
    with pytest.raises(RuntimeError, match="boom"):
        async with documents.transaction() as tx:
            await tx.create(kind, "new", named("new"))
            await tx.replace(kind, "kept", named("kept", v=2))
            assert await tx.delete(kind, "doomed")
            raise RuntimeError("boom")
    assert await documents.get(kind, "new") is None
    assert orjson.loads(await documents.get(kind, "kept") or b"")["v"] == 1
    assert await documents.get(kind, "doomed") is not None
    assert (await documents.query(kind, Query())).total == 2


@pytest.mark.needs("transactions")
async def test_uncommitted_writes_are_seen_only_inside(documents: DocumentStore, kind: str) -> None:
    async with documents.transaction() as tx:
        await tx.create(kind, "1", named("1"))
        assert ids((await tx.query(kind, Query())).items) == ["1"]
        assert await documents.get(kind, "1") is None
        assert (await documents.query(kind, Query())).total == 0
    assert await documents.get(kind, "1") is not None


async def test_kinds_are_separate(documents: DocumentStore, kind: str, other_kind: str) -> None:
    await create_all(documents, kind, named("1"))
    await create_all(documents, other_kind, named("1"), named("2"))
    assert (await documents.query(kind, Query())).total == 1
    assert (await documents.query(other_kind, Query())).total == 2


# --- documents: queries ------------------------------------------------------------------------


async def test_paging_and_total(documents: DocumentStore, kind: str, other_kind: str) -> None:
    made = await create_all(documents, kind, *(named(f"d{i:02}", i=i) for i in range(25)))
    page = await documents.query(kind, Query(offset=10, limit=10))
    assert page.total == 25 and ids(page.items) == made[10:20]
    page = await documents.query(kind, Query(offset=20, limit=10))
    assert page.total == 25 and ids(page.items) == made[20:25]
    assert await documents.query(kind, Query(offset=30, limit=10)) == Page(total=25, items=[])
    assert (await documents.query(kind, Query(limit=0))).items == []
    assert len((await documents.query(kind, Query())).items) == 25
    assert await documents.query(other_kind, Query(limit=5)) == Page(total=0, items=[])


async def test_default_order_is_insertion_order(documents: DocumentStore, kind: str) -> None:
    b, c, a = await create_all(documents, kind, named("b"), named("c"), named("a"))
    async with documents.transaction() as tx:
        await tx.replace(kind, b, named(b, v=2))  # keeps its place
        zero = stored_id(await tx.create(kind, "0", named("0")), named("0"))
    assert ids((await documents.query(kind, Query())).items) == [b, c, a, zero]
    async with documents.transaction() as tx:
        await tx.delete(kind, c)
    (d,) = await create_all(documents, kind, named("d"))  # a new document goes last
    assert ids((await documents.query(kind, Query())).items) == [b, a, zero, d]


async def test_filters_and_sorts_pass_through(documents: DocumentStore, kind: str) -> None:
    # ``category`` and ``name``: attributes a TMF resource has, so an upstream sorts by them too.
    states = ["done", "open", "done", "open", "done", "held"]
    d = await create_all(documents, kind, *(named(f"d{i}", category=s, name=f"n{i % 3}") for i, s in enumerate(states)))
    done = Condition(path=("category",), op=Op.EQ, value_type=ValueType.STRING, values=("done",))
    page = await documents.query(kind, Query(conditions=(done,), limit=2))
    assert page.total == 3 and ids(page.items) == [d[0], d[2]]
    by_state = Query(sort=(SortKey(path=("category",)),))
    # Ties keep insertion order.
    assert ids((await documents.query(kind, by_state)).items) == [d[0], d[2], d[4], d[5], d[1], d[3]]
    open_or_held = Condition(path=("category",), op=Op.NE, value_type=ValueType.STRING, values=("done",))
    newest_first = Query(conditions=(open_or_held,), sort=(SortKey(("category",), descending=True),), offset=1)
    page = await documents.query(kind, newest_first)
    assert page.total == 3 and ids(page.items) == [d[3], d[5]]


@pytest.mark.needs("any sort")
async def test_filter_sort_and_page_together(documents: DocumentStore, kind: str) -> None:
    stored = [named(f"d{i:02}", priority=(i * 7) % 20, party=[{"role": "a" if i % 2 else "b"}]) for i in range(30)]
    made = dict(zip((orjson.loads(s)["id"] for s in stored), await create_all(documents, kind, *stored), strict=True))
    at_least_5 = Condition(path=("priority",), op=Op.GTE, value_type=ValueType.NUMBER, values=(Decimal(5),))
    role_a = Condition(path=("party", "role"), op=Op.EQ, value_type=ValueType.STRING, values=("a",))
    query = Query(conditions=(at_least_5, role_a), sort=(SortKey(("priority",), descending=True),))
    expected = sorted(
        (d for d in map(orjson.loads, stored) if d["priority"] >= 5 and d["party"][0]["role"] == "a"),
        key=lambda d: -d["priority"],  # sorted() is stable: ties stay in insertion order
    )
    page = await documents.query(kind, Query(query.conditions, query.sort, offset=2, limit=5))
    assert page.total == len(expected)
    assert ids(page.items) == [made[d["id"]] for d in expected[2:7]]


async def test_filters_on_numbers_and_inside_arrays(documents: DocumentStore, kind: str) -> None:
    stored = [named(f"d{i:02}", priority=(i * 7) % 20, party=[{"role": "a" if i % 2 else "b"}]) for i in range(12)]
    made = await create_all(documents, kind, *stored)
    at_least_5 = Condition(path=("priority",), op=Op.GTE, value_type=ValueType.NUMBER, values=(Decimal(5),))
    role_a = Condition(path=("party", "role"), op=Op.EQ, value_type=ValueType.STRING, values=("a",))
    page = await documents.query(kind, Query(conditions=(at_least_5, role_a), offset=1, limit=3))
    expected = [
        id
        for id, d in zip(made, map(orjson.loads, stored), strict=True)
        if d["priority"] >= 5 and d["party"][0]["role"] == "a"
    ]
    assert page.total == len(expected) and ids(page.items) == expected[1:4]


# --- documents: concurrency --------------------------------------------------------------------


@pytest.mark.needs("transactions")
async def test_concurrent_writers_lose_no_update(documents: DocumentStore, kind: str) -> None:
    await create_all(documents, kind, named("counter", n=0))

    async def writer(i: int) -> None:
        await create_all(documents, kind, named(f"w{i}"))
        await increment(documents, kind, "counter")

    await asyncio.gather(*(writer(i) for i in range(20)))
    assert orjson.loads(await documents.get(kind, "counter") or b"")["n"] == 20
    assert (await documents.query(kind, Query())).total == 21


@pytest.mark.needs("client ids")
async def test_concurrent_creates_of_one_id_admit_one(documents: DocumentStore, kind: str) -> None:
    results = await asyncio.gather(
        *(create_all(documents, kind, named("same", by=i)) for i in range(10)), return_exceptions=True
    )
    assert sum(isinstance(result, list) for result in results) == 1
    assert all(isinstance(result, DuplicateId) for result in results if not isinstance(result, list))


@pytest.mark.needs("client ids")
async def test_many_are_created_and_read_at_once_as_one_by_one(documents: DocumentStore, kind: str) -> None:
    await create_all(documents, kind, named("0", v=0))
    async with documents.transaction() as tx:
        assert await tx.create_many(kind, [(str(n), named(str(n), v=n)) for n in range(1, 4)]) == [None] * 3
        assert await tx.create_many(kind, []) == []
        found = await tx.get_many(kind, ["3", "0", "9", "1"])
        assert {id: content(raw)["v"] for id, raw in found.items()} == {"0": 0, "1": 1, "3": 3}
    assert [content(await documents.get(kind, str(n)))["v"] for n in range(4)] == [0, 1, 2, 3]
    page = await documents.query(kind, Query())
    assert [orjson.loads(raw)["id"] for raw in page.items] == ["0", "1", "2", "3"]  # in the order created


@pytest.mark.needs("client ids")
async def test_many_are_replaced_and_their_owners_read_at_once_as_one_by_one(
    documents: DocumentStore, kind: str
) -> None:
    async with documents.transaction() as tx:
        await tx.create_many(kind, [(str(n), named(str(n), v=n)) for n in range(3)], owner="acme")
        await tx.create(kind, "3", named("3", v=3))
        await tx.replace_many(kind, [("2", named("2", v=20)), ("0", named("0", v=10))])
        await tx.replace_many(kind, [])
        assert await tx.owner_many(kind, ["3", "9", "0"]) == {"0": "acme", "3": None}
        locked = await tx.get_many(kind, ["3", "9", "1"], for_update=True)
        assert {id: content(raw)["v"] for id, raw in locked.items()} == {"1": 1, "3": 3}
    assert [content(await documents.get(kind, str(n)))["v"] for n in range(4)] == [10, 1, 20, 3]


@pytest.mark.needs("client ids")
async def test_replacing_many_with_a_missing_id_raises_not_stored(documents: DocumentStore, kind: str) -> None:
    await create_all(documents, kind, named("1", v=1))
    with pytest.raises(NotStored):
        async with documents.transaction() as tx:
            await tx.replace_many(kind, [("1", named("1", v=2)), ("9", named("9"))])
    assert content(await documents.get(kind, "1"))["v"] == 1


@pytest.mark.needs("client ids")
async def test_creating_many_with_a_stored_id_raises_and_stores_none_once_rolled_back(
    documents: DocumentStore, kind: str
) -> None:
    await create_all(documents, kind, named("2", v=2))
    with pytest.raises(DuplicateId):
        async with documents.transaction() as tx:
            await tx.create_many(kind, [(str(n), named(str(n))) for n in range(1, 4)])
    assert (await documents.query(kind, Query())).total == 1
    assert content(await documents.get(kind, "2"))["v"] == 2
