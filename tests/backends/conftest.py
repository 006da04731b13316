"""Stores for the backend tests: an open, empty store of each kind; PostgreSQL in a database of its own.

The outbox calls take whatever the outbox holds, so PostgreSQL tests get a database of their own
(another run, or a gateway's dispatcher, would take their events), emptied after each test.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from backends import open_backend
from backends.base import Backend
from tests.conftest import own_postgres_database

STORES = ["memory", "sqlite", "postgresql"]
SQL_STORES = ["sqlite", "postgresql"]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this module's own, dropped afterwards; skips when there is none."""
    with own_postgres_database("tmfgate_backends") as url:
        yield url


def store_url(request: pytest.FixtureRequest, store: str, tmp_path: Path) -> str:
    """Where an empty store of that kind is: a new memory store, a new SQLite file, or the module's PostgreSQL."""
    if store == "memory":
        return "memory://"
    if store == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return str(request.getfixturevalue("postgres_url"))


@contextlib.asynccontextmanager
async def opened(url: str) -> AsyncIterator[Backend]:
    """The store at ``url``, open until the block ends."""
    backend = open_backend(url)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


async def emptied(url: str) -> None:
    """Delete every document, event and delivery of a SQL store (the next test starts empty)."""
    from backends.sql import SqlBackend
    from backends.sql.schema import deliveries, documents, events

    backend = open_backend(url)
    assert isinstance(backend, SqlBackend) and backend.engine is not None
    async with backend.engine.begin() as connection:
        for table in (deliveries, events, documents):
            await connection.execute(table.delete())
    await backend.close()


@contextlib.asynccontextmanager
async def empty_store(request: pytest.FixtureRequest, store: str, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty store of that kind, emptied again when the block ends."""
    url = store_url(request, store, tmp_path)
    yield url
    if store == "postgresql":
        await emptied(url)


@pytest.fixture(params=SQL_STORES)
async def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty SQL store of each kind."""
    async with empty_store(request, request.param, tmp_path) as url:
        yield url
