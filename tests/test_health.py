"""Health: live while the process answers; ready while the store answers and has this release's schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from backends import open_backend
from tmfgate.health import live, ready

pytestmark = pytest.mark.anyio


def test_live_says_the_process_answers() -> None:
    assert live() == (200, {"status": "live"})


async def test_ready_needs_the_store_and_its_current_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    backend = open_backend(url)
    await backend.open()
    assert await ready(backend) == (200, {"status": "ready"})
    engine = sa.create_engine(url)
    with engine.begin() as connection:  # as a store another release took to its own revision
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    engine.dispose()
    status, body = await ready(backend)
    assert status == 503 and body["reason"].startswith("the store's schema is f00d, not ")
    await backend.close()


async def test_a_store_that_does_not_answer_is_not_ready() -> None:
    backend = open_backend("postgresql://nobody@127.0.0.1:1/none")
    status, body = await ready(backend)
    await backend.close()
    assert status == 503 and body["reason"].startswith("The store is unavailable")
    memory = open_backend("memory://")
    await memory.open()
    assert await ready(memory) == (200, {"status": "ready"})
