"""The contract suite's stores: each test runs once per store that serves its protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends.base import Backend, DocumentStore
from tests.backends.conftest import STORES, empty_store, opened

DOCUMENT_STORES = STORES  # the stores the document tests run on
OUTBOX_STORES = STORES  # the stores the outbox tests run on


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
