"""Storage backends chosen by URL through one alias table; drivers are imported only when used."""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

from .base import Backend
from .errors import BackendConfigurationError


class Alias(NamedTuple):
    """Where a URL scheme's backend class lives and the driver scheme it hands to that class."""

    target: str  # "module:Class", relative to this package
    driver_scheme: str
    pooled: bool = False  # whether the class takes ``pool_size``, the connections it keeps open
    versioned: bool = False  # the store has a schema of revisions (backends.sql.migrations): takes ``migrate``


# Celery style: one table, so the accepted schemes and the error message never disagree.
BACKEND_ALIASES: dict[str, Alias] = {
    "memory": Alias("memory.store:MemoryBackend", "memory"),
    "sqlite": Alias("sql.store:SqlBackend", "sqlite", versioned=True),
    "sqlite+aiosqlite": Alias("sql.store:SqlBackend", "sqlite", versioned=True),  # the driver of earlier versions
    "postgresql": Alias("sql.store:SqlBackend", "postgresql+psycopg", pooled=True, versioned=True),
    "postgresql+psycopg": Alias("sql.store:SqlBackend", "postgresql+psycopg", pooled=True, versioned=True),
    "postgres": Alias("sql.store:SqlBackend", "postgresql+psycopg", pooled=True, versioned=True),
}

_IN_MEMORY_SQLITE = ("", ":memory:")


def open_backend(url: str, *, pool_size: int | None = None, migrate: bool = True) -> Backend:
    """The backend for ``url``, not yet opened (call ``await backend.open()``); ``pool_size`` is the
    connections a client-server database's store keeps open (its default when None); with ``migrate``,
    opening migrates a store of an older schema revision, without it opening refuses one."""
    scheme, sep, rest = url.partition("://")
    alias = BACKEND_ALIASES.get(scheme.lower()) if sep else None
    if alias is None:
        accepted = ", ".join(f"{name}://" for name in BACKEND_ALIASES)
        raise BackendConfigurationError(
            f"The database URL {redacted(url)!r} has no known scheme; use one of {accepted} "
            "(for example sqlite:///tmfgate.db or postgresql://user@host/db)."
        )
    if alias.driver_scheme.startswith("sqlite") and rest.lstrip("/").split("?")[0] in _IN_MEMORY_SQLITE:
        # Every pooled connection would get its own empty in-memory database.
        raise BackendConfigurationError(
            f"The database URL {url!r} names an in-memory SQLite database; use memory:// for an "
            "in-memory store, or give a file path such as sqlite:///tmfgate.db."
        )
    module_name, _, class_name = alias.target.partition(":")
    module = importlib.import_module(f".{module_name}", __package__)
    options: dict[str, Any] = {"pool_size": pool_size} if alias.pooled and pool_size is not None else {}
    if alias.versioned:
        options["migrate"] = migrate
    backend: Backend = getattr(module, class_name)(f"{alias.driver_scheme}://{rest}", **options)
    return backend


def redacted(url: str) -> str:
    """The URL without its password, fit for an error message."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not (sep and at and ":" in credentials):
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


__all__ = ["BACKEND_ALIASES", "Backend", "BackendConfigurationError", "open_backend", "redacted"]
