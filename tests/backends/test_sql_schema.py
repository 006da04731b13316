"""The SQL schema: an index of a newer version added to a store made before migrations, and UTC times on SQLite
(the owner columns: tests/backends/test_sql_migrations.py)."""

from __future__ import annotations

import datetime as dt
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
    with look.begin() as connection:  # as a store made before the index existed, and before migrations
        connection.execute(sa.text("DROP INDEX ix_tmf_delivery_event"))
        connection.execute(sa.text("DROP TABLE alembic_version"))
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
