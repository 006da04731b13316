"""The store's schema versions, moved by Alembic: which revision a store is at, and upgrading it.

The revisions live in ``migrations/`` at the root of a checkout (``backends/sql/_migrations`` once
installed). A store made before migrations existed has the tables but no version table: the first
revision adopts it, creating only what it lacks.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from backends.errors import StorageError

# The table every release has had: a store without it is empty.
_FIRST_TABLE = "tmf_document"


class SchemaMismatch(StorageError):
    """The store's schema is not the one this code needs, and may not be changed here and now."""


def script_dir() -> Path:
    """The folder of the revisions: shipped with the package, or the checkout's ``migrations/``."""
    here = Path(__file__).resolve().parent
    installed = here / "_migrations"
    return installed if installed.is_dir() else here.parents[1] / "migrations"


@functools.cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory(str(script_dir()))


def head() -> str:
    """The revision this code's schema is at."""
    revision = scripts().get_current_head()
    assert revision is not None, "migrations/ holds no revision"
    return revision


def current(connection: Connection) -> str | None:
    """The revision the store is at; None for an empty store or one made before migrations."""
    return MigrationContext.configure(connection).get_current_revision()


def made_before_migrations(connection: Connection) -> bool:
    return current(connection) is None and inspect(connection).has_table(_FIRST_TABLE)


def upgrade(connection: Connection, target: str = "heads") -> None:
    """Migrate the store up to ``target``, in the connection's transaction."""
    command.upgrade(_config(connection), target)


def downgrade(connection: Connection, target: str) -> None:
    """Migrate the store down to ``target`` (a revision, ``-1``, or ``base`` for an empty store)."""
    command.downgrade(_config(connection), target)


def prepare(connection: Connection, *, migrate: bool) -> None:
    """Make the store's schema this code's: create it in an empty store, migrate an older one when
    ``migrate``, else raise SchemaMismatch with what the operator should do."""
    at = current(connection)
    wanted = head()
    if at == wanted:
        return
    if at is not None and at not in {script.revision for script in scripts().walk_revisions()}:
        raise SchemaMismatch(
            f"The store's schema is at revision {at}, which this tmfgate does not know (its newest is "
            f"{wanted}): a newer release migrated it, so run that release, or its 'tmfgate db downgrade {wanted}'."
        )
    if migrate or (at is None and not inspect(connection).has_table(_FIRST_TABLE)):
        upgrade(connection)
        return
    found = f"at revision {at}" if at is not None else "that of a release before migrations"
    raise SchemaMismatch(
        f"The store's schema is {found}, older than this tmfgate's {wanted}: run 'tmfgate db upgrade' "
        "with the same --database-url, or start with --migrate."
    )


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_dir()))
    config.attributes["connection"] = connection  # read by migrations/env.py
    return config


__all__ = ["SchemaMismatch", "current", "downgrade", "head", "made_before_migrations", "prepare", "upgrade"]
