"""The ``tmfgate db`` command: the schema revision of the store, and migrating it up or down."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path

from alembic.util import CommandError

from backends import BackendConfigurationError, open_backend, redacted
from backends.base import StorageError
from backends.sql import SqlBackend, migrations
from tmfgate.errors import ConfigurationError
from tmfgate.settings import Settings

HELP = "show (current), upgrade or downgrade the schema revision of the store (--database-url)"


def arguments(parser: argparse.ArgumentParser, options: Callable[[argparse.ArgumentParser], None]) -> None:
    """The actions of ``tmfgate db``, each with ``options`` (the store's settings)."""
    actions = parser.add_subparsers(
        dest="db_action", metavar="ACTION", required=True, help="current, upgrade or downgrade (each has its --help)"
    )
    now = actions.add_parser("current", help="print the store's revision and whether it is this release's")
    options(now)
    now.set_defaults(revision=None)
    up = actions.add_parser("upgrade", help="migrate the store to this release's revision (or REVISION)")
    options(up)
    up.add_argument("revision", nargs="?", default="heads", help="the revision to reach (default: this release's)")
    down = actions.add_parser("downgrade", help="migrate the store back to REVISION, before running an older release")
    options(down)
    down.add_argument("revision", help="a revision, -1 for the one before, or base for no tables (drops all data)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``db current|upgrade|downgrade`` on the configured store."""
    url = settings.database_url
    try:
        backend = open_backend(url, migrate=False)
    except BackendConfigurationError as exc:
        raise ConfigurationError(str(exc)) from exc
    if not isinstance(backend, SqlBackend):
        raise ConfigurationError(f"The store {redacted(url)} keeps no schema; tmfgate db works on SQLite, PostgreSQL.")
    database = sqlite_file(url)
    if args.db_action != "upgrade" and database is not None and not database.exists():
        raise ConfigurationError(f"There is no database at {database}; give the gateway's --database-url.")
    try:
        print(asyncio.run(_act(backend, args.db_action, args.revision)), flush=True)
    except CommandError as exc:
        raise ConfigurationError(f"tmfgate db {args.db_action}: {exc}.") from exc
    except StorageError as exc:
        raise ConfigurationError(f"Cannot use the store at {redacted(url)}: {' '.join(str(exc).split())}") from exc
    return 0


async def _act(backend: SqlBackend, action: str, revision: str | None) -> str:
    head = migrations.head()
    try:
        before = await backend.revision()
        if action == "upgrade":
            await backend.upgrade(revision or "heads")
        elif action == "downgrade":
            assert revision is not None
            await backend.downgrade(revision)
        else:
            return describe(before, head)
        after = await backend.revision()
    finally:
        await backend.close()
    return f"{action}d the store from {before or 'no revision'} to {after or 'no revision'} ({describe(after, head)})"


def describe(revision: str | None, head: str) -> str:
    """The state of a store at ``revision`` for this release, in words."""
    if revision == head:
        return f"{revision}: this release's schema"
    if revision is None:
        return f"no revision: an empty store or one made before migrations; 'tmfgate db upgrade' takes it to {head}"
    return f"{revision}: not this release's {head}; 'tmfgate db upgrade' takes it there"


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (relative to the working directory, or absolute), else None."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.lower().startswith("sqlite"):
        return None
    return Path(rest[1:].split("?", 1)[0]) if rest.startswith("/") else None


__all__ = ["HELP", "arguments", "describe", "run", "sqlite_file"]
