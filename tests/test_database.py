"""``tmfgate db current|upgrade|downgrade``, and ``serve`` refusing a store of an older schema in one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from backends.sql import migrations
from tests.conftest import own_postgres_database
from tmfgate.cli import build_parser, main
from tmfgate.database import describe, sqlite_file
from tmfgate.runtime import installed
from tmfgate.settings import Settings


def made_before_migrations(url: str) -> None:
    """A store at the first revision without Alembic's version table, as the releases before migrations left it."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        migrations.upgrade(connection, "0001")
        connection.execute(sa.text("DROP TABLE alembic_version"))
    engine.dispose()


def test_db_upgrades_shows_and_downgrades_a_sqlite_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    made_before_migrations(url)
    head = migrations.head()
    assert main(["db", "current", "--database-url", url]) == 0
    assert capsys.readouterr().out.startswith("no revision: ")
    assert main(["db", "upgrade", "--database-url", url]) == 0
    assert (
        capsys.readouterr().out.strip()
        == f"upgraded the store from no revision to {head} ({head}: this release's schema)"
    )
    assert main(["db", "current", "--database-url", url]) == 0
    assert capsys.readouterr().out.strip() == f"{head}: this release's schema"
    assert main(["db", "downgrade", "base", "--database-url", url]) == 0
    assert capsys.readouterr().out.startswith(f"downgraded the store from {head} to no revision")
    with sa.create_engine(url).connect() as connection:
        assert sa.inspect(connection).get_table_names() == ["alembic_version"]


def test_db_explains_what_it_cannot_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.db"
    assert main(["db", "current", "--database-url", f"sqlite:///{missing}"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"tmfgate: There is no database at {missing}; give the gateway's --database-url."
    )
    assert not missing.exists()
    assert main(["db", "upgrade", "--database-url", "memory://"]) == 2
    assert "keeps no schema" in capsys.readouterr().err
    url = f"sqlite:///{tmp_path}/store.db"
    assert main(["db", "upgrade", "--database-url", url]) == 0
    assert main(["db", "downgrade", "nonesuch", "--database-url", url]) == 2
    assert "tmfgate db downgrade: Can't locate revision identified by 'nonesuch'" in capsys.readouterr().err


def test_db_upgrades_a_postgresql_store_made_before_migrations(capsys: pytest.CaptureFixture[str]) -> None:
    with own_postgres_database("tmfgate_db_command") as url:
        made_before_migrations(url)
        assert main(["db", "upgrade", "--database-url", url]) == 0
        assert capsys.readouterr().out.strip().endswith(f"({migrations.head()}: this release's schema)")


def test_serve_refuses_a_store_of_an_older_schema_in_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    made_before_migrations(url)
    assert main(["serve", "--database-url", url, "--migrate", "off"]) == 1
    error = capsys.readouterr().err.strip()
    assert error == (
        f"tmfgate: cannot use the store at {url}: The store's schema is that of a release before migrations, "
        f"older than this tmfgate's {migrations.head()}: run 'tmfgate db upgrade' with the same --database-url, "
        "or start with --migrate."
    )


def test_migrating_at_start_is_on_for_sqlite_and_off_for_postgresql_unless_chosen() -> None:
    assert Settings(database_url="sqlite:///a.db").migrates
    assert not Settings(database_url="postgresql://db/tmfgate").migrates
    assert Settings(database_url="postgresql://db/tmfgate", migrate=True).migrates
    assert not Settings(database_url="sqlite:///a.db", migrate=False).migrates
    parser = build_parser(installed())
    assert parser.parse_args(["serve", "--migrate"]).migrate == "on"
    assert Settings.migrate.from_text("auto", "--migrate") is None
    with pytest.raises(Exception, match="--migrate must be auto, on or off, not 'maybe'"):
        Settings.migrate.from_text("maybe", "--migrate")


def test_a_revision_is_described_for_the_operator(tmp_path: Path) -> None:
    assert describe("0001", "0001") == "0001: this release's schema"
    assert describe("0001", "0002") == "0001: not this release's 0002; 'tmfgate db upgrade' takes it there"
    assert sqlite_file(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    assert sqlite_file("sqlite:///relative.db") == Path("relative.db") and sqlite_file("postgresql://db/x") is None
