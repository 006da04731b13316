"""The tenancy part of the store contract: each document's owner, kept to in every read and count."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from backends.base import Backend, Condition, DocumentStore, Event, Op, Query, ValueType
from tests.backends.contract.support import doc, event, record

pytestmark = pytest.mark.anyio


async def _three(documents: DocumentStore, kind: str) -> None:
    async with documents.transaction() as tx:
        await tx.create(kind, "a1", doc("a1", name="x"), owner="A")
        await tx.create(kind, "b1", doc("b1", name="x"), owner="B")
        await tx.create(kind, "n1", doc("n1", name="x"))


@pytest.mark.needs("owners")
async def test_a_read_sees_only_the_owners_asked_for(documents: DocumentStore, kind: str) -> None:
    await _three(documents, kind)
    assert await documents.get(kind, "b1", owners=("A",)) is None
    assert await documents.get(kind, "n1", owners=("A",)) is None
    assert await documents.get(kind, "n1", owners=("A", None)) is not None
    assert orjson.loads(await documents.get(kind, "a1", owners=("A",)) or b"")["id"] == "a1"
    assert await documents.get(kind, "b1") is not None  # no owners: every document
    async with documents.transaction() as tx:
        assert await tx.get(kind, "b1", for_update=True, owners=("A",)) is None
        assert await tx.get(kind, "a1", for_update=True, owners=("A",)) is not None


@pytest.mark.needs("owners")
async def test_lists_and_counts_keep_to_the_owners(documents: DocumentStore, kind: str) -> None:
    await _three(documents, kind)
    named = (Condition(("name",), Op.EQ, ValueType.STRING, ("x",)),)
    page = await documents.query(kind, Query(conditions=named, owners=("A",)))
    assert page.total == 1 and [orjson.loads(item)["id"] for item in page.items] == ["a1"]
    page = await documents.query(kind, Query(owners=("B", None), limit=1))
    assert page.total == 2 and len(page.items) == 1
    assert (await documents.query(kind, Query(owners=("C",)))).total == 0
    assert (await documents.query(kind, Query())).total == 3
    async with documents.transaction() as tx:
        await tx.create(kind, "a2", doc("a2"), owner="A")
        assert (await tx.query(kind, Query(owners=("A",)))).total == 2  # this transaction's write too


@pytest.mark.needs("owners")
async def test_replace_keeps_the_owner_and_an_id_is_taken_whoever_owns_it(documents: DocumentStore, kind: str) -> None:
    await _three(documents, kind)
    async with documents.transaction() as tx:
        await tx.replace(kind, "a1", doc("a1", name="y"))
    assert orjson.loads(await documents.get(kind, "a1", owners=("A",)) or b"")["name"] == "y"
    async with documents.transaction() as tx:
        assert await tx.delete(kind, "a1")
        await tx.create(kind, "a1", doc("a1"), owner="B")
    assert await documents.get(kind, "a1", owners=("A",)) is None
    assert await documents.get(kind, "a1", owners=("B",)) is not None


async def test_an_event_keeps_its_owner_through_the_outbox(backend: Backend, kind: str) -> None:
    owned = event(kind, "o1")._replace(owner="A")
    await record(backend, owned, event(kind, "o2"))
    routed: list[Event] = []

    def route(e: Event) -> list[str]:
        routed.append(e)
        return []

    while await backend.fan_out(route):
        pass
    owners = {e.resource_id: e.owner for e in routed if e.kind == kind}
    assert owners == {"o1": "A", "o2": None}
    replayed: list[Event] = []
    await backend.replay("s", dt.datetime(2000, 1, 1, tzinfo=dt.UTC), lambda e: replayed.append(e) or False)
    assert {e.resource_id: e.owner for e in replayed if e.kind == kind} == owners


@pytest.mark.needs("owners")
async def test_the_owner_of_a_document_is_told(documents: DocumentStore, kind: str) -> None:
    await _three(documents, kind)
    async with documents.transaction() as tx:
        assert await tx.owner(kind, "a1") == "A"
        assert await tx.owner(kind, "n1") is None
        assert await tx.owner(kind, "missing") is None
        await tx.create(kind, "b2", doc("b2"), owner="B")
        assert await tx.owner(kind, "b2") == "B"  # this transaction's write too
