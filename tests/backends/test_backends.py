"""Choosing a store by URL through the one alias table."""

from __future__ import annotations

import pytest

from backends import BACKEND_ALIASES, BackendConfigurationError, open_backend

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("url", "class_name", "driver_url"),
    [
        ("memory://", "MemoryBackend", "memory://"),
        ("sqlite:///relative.db", "SqlBackend", "sqlite:///relative.db"),
        ("sqlite:////abs/path.db", "SqlBackend", "sqlite:////abs/path.db"),
        ("sqlite+aiosqlite:///x.db", "SqlBackend", "sqlite:///x.db"),
        ("postgresql://u@h/db", "SqlBackend", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "SqlBackend", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "SqlBackend", "postgresql+psycopg://u@h/db"),
        ("PostgreSQL://u@h/db", "SqlBackend", "postgresql+psycopg://u@h/db"),
    ],
)
async def test_open_backend_chooses_by_scheme(url: str, class_name: str, driver_url: str) -> None:
    backend = open_backend(url)
    assert type(backend).__name__ == class_name and backend.url == driver_url
    await backend.close()


@pytest.mark.parametrize("url", ["mysql://root:secret@h/db", "tmfgate.db", "sqlite://", "sqlite:///:memory:"])
def test_open_backend_rejects_what_it_cannot_use(url: str) -> None:
    with pytest.raises(BackendConfigurationError) as raised:
        open_backend(url)
    assert "secret" not in str(raised.value)
    if "memory" not in url and url != "sqlite://":
        assert all(f"{scheme}://" in str(raised.value) for scheme in BACKEND_ALIASES)


def test_every_alias_names_a_store_class() -> None:
    import importlib

    for alias in BACKEND_ALIASES.values():
        module_name, _, class_name = alias.target.partition(":")
        module = importlib.import_module(f"backends.{module_name}")
        assert isinstance(getattr(module, class_name), type)
