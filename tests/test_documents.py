"""The handlers' document helpers, on a real memory store and a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends import open_backend
from backends.base import Backend, DuplicateId, NotStored, where
from tmfgate import documents

pytestmark = pytest.mark.anyio
BIG = 12345678901234567890123  # beyond 64 bits: orjson alone would read it as a float


@pytest.fixture(params=["memory", "sqlite"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/documents.db"
    store = open_backend(url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def test_get_and_locked_give_documents_or_none(backend: Backend) -> None:
    async with backend.transaction() as tx:
        await documents.create(tx, "thing", {"id": "1", "count": BIG, "name": "é"})
    async with backend.transaction() as tx:
        got = await documents.get(tx, "thing", "1")
        assert got == {"id": "1", "count": BIG, "name": "é"}
        assert isinstance(got["count"], int)
        assert await documents.locked(tx, "thing", "1") == got
        assert await documents.get(tx, "thing", "2") is None
        assert await documents.locked(tx, "thing", "2") is None


async def test_create_and_replace_keep_the_contract_and_raise_no_event(backend: Backend) -> None:
    async with backend.transaction() as tx:
        await documents.create(tx, "record", {"id": "r", "n": 1})
        await documents.replace(tx, "record", {"id": "r", "n": 2})
    with pytest.raises(DuplicateId):
        async with backend.transaction() as tx:
            await documents.create(tx, "record", {"id": "r", "n": 3})
    with pytest.raises(NotStored):
        async with backend.transaction() as tx:
            await documents.replace(tx, "record", {"id": "missing"})
    async with backend.transaction() as tx:
        assert await documents.get(tx, "record", "r") == {"id": "r", "n": 2}
    assert await backend.fan_out(lambda event: [], limit=10) == 0


async def test_find_filters_sorts_and_pages_in_the_store(backend: Backend) -> None:
    async with backend.transaction() as tx:
        for id, state, name in (("1", "open", "b"), ("2", "done", "a"), ("3", "open", "c"), ("4", "open", "a")):
            await documents.create(tx, "task", {"id": id, "state": state, "name": name, "order": {"id": "o1"}})
        open_tasks = await documents.find(tx, "task", where("state", eq="open"), where("order.id", eq="o1"))
        assert sorted(doc["id"] for doc in open_tasks) == ["1", "3", "4"]
        by_name = await documents.find(tx, "task", where("state", eq="open"), sort="name")
        assert [doc["id"] for doc in by_name] == ["4", "1", "3"]
        descending = await documents.find(tx, "task", sort=("-name", "id"), limit=3)
        assert [doc["id"] for doc in descending] == ["3", "1", "2"]
        assert await documents.find(tx, "task", where("state", eq="gone")) == []
    # Outside a transaction, on the store itself.
    assert [doc["id"] for doc in await documents.find(backend, "task", where("id", gt="2"), sort="id")] == ["3", "4"]
