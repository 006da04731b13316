"""The document store contract: CRUD, transactions, queries and concurrent writers."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import orjson
import pytest

from backends.base import Condition, DocumentStore, DuplicateId, NotStored, Op, Page, Query, SortKey, ValueType
from tests.backends.contract.support import create_all, doc, ids, increment

pytestmark = pytest.mark.anyio


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
