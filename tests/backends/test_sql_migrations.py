"""Schema migrations: a store of the release before migrations, with data, upgraded losing nothing; an
older or unknown revision refused with what to do; every revision down and up again; the newest
revision makes exactly the schema the code declares."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from backends import open_backend
from backends.sql import SqlBackend, migrations
from backends.sql.schema import RANGE_INDEXED, SQLITE_INDEXED, metadata, range_index
from tests.backends.conftest import SQL_STORES
from tests.backends.contract.support import event, fan_out_all, record, to
from tests.conftest import own_postgres_database

pytestmark = pytest.mark.anyio

TABLES = ("tmf_document", "tmf_event", "tmf_delivery")


@pytest.fixture(params=SQL_STORES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty SQL store of each kind (PostgreSQL: a database of this test's own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
    else:
        with own_postgres_database("tmfgate_migrations") as database:
            yield database


def backend(url: str, *, migrate: bool) -> SqlBackend:
    store = open_backend(url, migrate=migrate)
    assert isinstance(store, SqlBackend)
    return store


def rows(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the store's tables, in key order."""
    with engine.connect() as connection, warnings.catch_warnings():
        # SQLite's expression indexes (revision 0003) are not reflected; the rows are what is compared.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index", sa.exc.SAWarning)
        tables = sa.MetaData()
        tables.reflect(connection, only=TABLES)
        # Generated columns (revision 0004) are the documents' own values again, compared through them.
        stored = {name: [c for c in table.columns if c.computed is None] for name, table in tables.tables.items()}
        return {
            name: [
                tuple(row) for row in connection.execute(sa.select(*stored[name]).order_by(*table.primary_key.columns))
            ]
            for name, table in tables.tables.items()
        }


async def store_of_the_release_before_migrations(url: str) -> sa.Engine:
    """A store with documents, events and deliveries, at the first revision without Alembic's version
    table: what the releases before migrations made (revision 0001 is their schema)."""
    store = backend(url, migrate=True)
    await store.open()
    await record(store, event("productOrder", "o-1", 1), event("productOrder", "o-2", 2))
    assert await fan_out_all(store, to("s1", "s2")) == 2
    async with store.transaction() as tx:
        await tx.create("customer", "c-1", b'{"id":"c-1","name":"Ada"}', owner="partner-a")
    await store.downgrade("0001")
    await store.close()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE alembic_version"))
    return engine


async def test_a_store_of_the_release_before_migrations_is_refused_then_upgraded_losing_nothing(url: str) -> None:
    engine = await store_of_the_release_before_migrations(url)
    before = rows(engine)
    assert len(before["tmf_document"]) == 3 and len(before["tmf_event"]) == 2 and len(before["tmf_delivery"]) == 4
    refusing = backend(url, migrate=False)
    with pytest.raises(migrations.SchemaMismatch, match="release before migrations.*run 'tmfgate db upgrade'"):
        await refusing.open()
    await refusing.close()
    assert rows(engine) == before  # refusing changed nothing
    store = backend(url, migrate=True)
    await store.open()
    assert await store.revision() == migrations.head()
    assert rows(engine) == before
    kept = await store.get("customer", "c-1", owners=("partner-a",))
    assert kept is not None and orjson.loads(kept) == {"id": "c-1", "name": "Ada"}
    await store.close()
    engine.dispose()


async def test_a_store_made_before_tenancy_gets_its_owner_columns_and_keeps_its_documents(url: str) -> None:
    engine = await store_of_the_release_before_migrations(url)
    with engine.begin() as connection:  # as the releases before owners made it
        connection.execute(sa.text("DROP INDEX ix_tmf_document_kind_owner_seq"))
        connection.execute(sa.text("ALTER TABLE tmf_document DROP COLUMN owner"))
        connection.execute(sa.text("ALTER TABLE tmf_event DROP COLUMN owner"))
    store = backend(url, migrate=True)
    await store.open()
    for kind, id, *_ in rows(engine)["tmf_document"]:
        assert await store.get(kind, id, owners=(None,)) is not None  # what was there has no owner
    assert not differences(engine)
    await store.close()
    engine.dispose()


async def test_an_empty_store_gets_the_schema_even_when_migrating_is_off(url: str) -> None:
    store = backend(url, migrate=False)
    await store.open()
    assert await store.revision() == migrations.head()
    await store.close()


async def test_an_older_revision_is_refused_with_what_to_do(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = backend(url, migrate=False)
    await store.open()
    at = migrations.head()
    monkeypatch.setattr(migrations, "head", lambda: "9999")  # as a release with a revision after this store's
    with pytest.raises(migrations.SchemaMismatch, match=rf"revision {at}, older than this tmfgate's 9999: run"):
        await store.open()
    await store.close()


async def test_a_store_migrated_by_a_newer_release_is_refused(url: str) -> None:
    store = backend(url, migrate=True)
    await store.open()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    with pytest.raises(migrations.SchemaMismatch, match="revision f00d, which this tmfgate does not know"):
        await store.open()  # even when migrating: nothing here knows how
    await store.close()
    engine.dispose()


async def test_every_revision_goes_down_and_up_again(url: str) -> None:
    store = backend(url, migrate=True)
    await store.open()
    revisions = [script.revision for script in migrations.scripts().walk_revisions()]  # newest first
    for revision in [*revisions[1:], "base"]:
        await store.downgrade("-1")
        assert await store.revision() == (None if revision == "base" else revision)
    await store.upgrade()
    assert await store.revision() == migrations.head()
    await store.close()
    engine = sa.create_engine(url)
    assert not differences(engine)
    engine.dispose()


def expression_indexes(engine: sa.Engine) -> set[str]:
    """The names of SQLite's indexes on ``json_extract`` expressions, which reflection skips."""
    with engine.connect() as connection:
        found = connection.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
        return {name for name, sql in found if sql and "json_extract(doc, '$." in sql}


def differences(engine: sa.Engine) -> list[Any]:
    """What the store's tables lack or have beyond the schema the code declares (backends.sql.schema)
    for its database: indexes declared for another database only (``ddl_if``) are not its."""
    dialect = engine.dialect.name

    def ours(item: Any, name: str | None, kind: str, reflected: bool, compared: Any) -> bool:
        if kind == "index" and name in {range_index(*pair) for pair in RANGE_INDEXED}:
            return False  # partial expression indexes compare as text against SQL: checked by name below
        only = getattr(item, "_ddl_if", None) if kind == "index" and not reflected else None
        return only is None or only.dialect in (None, dialect)

    with engine.connect() as connection, warnings.catch_warnings():
        # Neither database's expression indexes are reflected: expression_indexes() checks SQLite's.
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based", UserWarning)
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index", sa.exc.SAWarning)
        context = MigrationContext.configure(connection, opts={"include_object": ours})
        return list(compare_metadata(context, metadata))


async def test_the_newest_revision_makes_the_schema_the_code_declares(url: str) -> None:
    store = backend(url, migrate=True)
    await store.open()
    await store.close()
    engine = sa.create_engine(url)
    assert differences(engine) == []
    if engine.dialect.name == "sqlite":
        members = {f"ix_tmf_document_json_{name}" for name in SQLITE_INDEXED}
        assert expression_indexes(engine) == members | {range_index(*pair) for pair in RANGE_INDEXED}
    else:
        with engine.connect() as connection:
            found = connection.exec_driver_sql("SELECT indexname, indexdef FROM pg_indexes")
            partial = {name: sql for name, sql in found if "WHERE" in sql}
        for pair in RANGE_INDEXED:
            assert f"WHERE ((kind)::text = '{pair[0]}'::text)" in partial[range_index(*pair)], partial
    with engine.begin() as connection:  # the comparison sees a missing index
        connection.execute(sa.text("DROP INDEX ix_tmf_delivery_event"))
    assert [difference[0] for difference in differences(engine)] == ["add_index"]
    engine.dispose()
