"""The SQL schema: indexes and columns of a newer version added to an existing store, and UTC times on SQLite."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from backends import open_backend
from backends.sql.schema import UtcDateTime
from tests.backends.conftest import SQL_STORES

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("store", SQL_STORES)
async def test_an_index_added_by_a_newer_version_is_created_on_an_existing_store(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path}/old.db" if store == "sqlite" else str(request.getfixturevalue("postgres_url"))
    backend = open_backend(url)
    await backend.open()
    look = sa.create_engine(url)  # a connection of our own, beside the store's

    def indexes() -> set[str]:
        with look.connect() as connection:
            return {index["name"] or "" for index in sa.inspect(connection).get_indexes("tmf_delivery")}

    assert "ix_tmf_delivery_event" in indexes()
    with look.begin() as connection:  # as a store made before the index existed
        connection.execute(sa.text("DROP INDEX ix_tmf_delivery_event"))
    assert "ix_tmf_delivery_event" not in indexes()
    await backend.open()
    assert "ix_tmf_delivery_event" in indexes()
    await backend.close()
    look.dispose()


def test_sqlite_keeps_instants_in_utc_and_compares_them_as_text(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/times.db")
    table = sa.Table("times", sa.MetaData(), sa.Column("at", UtcDateTime()))
    east = dt.timezone(dt.timedelta(hours=5))
    early = dt.datetime(2024, 5, 1, 12, 0, tzinfo=east)  # 07:00Z
    late = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)  # an earlier wall clock, a later instant
    with engine.begin() as connection:
        table.create(connection)
        connection.execute(table.insert(), [{"at": late}, {"at": early}, {"at": None}])
        stored = list(connection.scalars(sa.select(table.c.at).order_by(table.c.at)))
        after = connection.scalars(
            sa.select(table.c.at).where(table.c.at > dt.datetime(2024, 5, 1, 7, 30, tzinfo=dt.UTC))
        )
        later = list(after)
    engine.dispose()
    assert stored == [None, early, late]
    assert all(moment is None or moment.tzinfo is dt.UTC for moment in stored)
    assert later == [late]


@pytest.mark.parametrize("store", SQL_STORES)
async def test_the_owner_columns_are_added_to_a_store_made_before_tenancy(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path}/old.db" if store == "sqlite" else str(request.getfixturevalue("postgres_url"))
    backend = open_backend(url)
    await backend.open()
    async with backend.transaction() as tx:
        await tx.create("thing", "kept", b'{"id":"kept"}')
    look = sa.create_engine(url)

    def columns(table: str) -> set[str]:
        with look.connect() as connection:
            return {column["name"] for column in sa.inspect(connection).get_columns(table)}

    with look.begin() as connection:  # as a store made before owners existed
        connection.execute(sa.text("DROP INDEX ix_tmf_document_kind_owner_seq"))
        connection.execute(sa.text("ALTER TABLE tmf_document DROP COLUMN owner"))
        connection.execute(sa.text("ALTER TABLE tmf_event DROP COLUMN owner"))
    assert "owner" not in columns("tmf_document") | columns("tmf_event")
    await backend.open()
    assert "owner" in columns("tmf_document") and "owner" in columns("tmf_event")
    kept = await backend.get("thing", "kept", owners=(None,))  # what was there has no owner
    assert kept is not None and json.loads(kept) == {"id": "kept"}
    await backend.close()
    look.dispose()
