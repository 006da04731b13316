"""Helpers shared by the end-to-end tests that order over HTTP (fulfilment, billing, alarms)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import own_postgres_database

Doc = dict[str, Any]


class GatewayClient:
    """A client of one gateway over HTTP, on a session of its own; test modules add their calls."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def get(self, path: str, **params: str) -> Any:
        """The JSON of a GET, which must answer 200 or 206."""
        response = self.http.get(self.url + path, params=params, timeout=10)
        assert response.status_code in (200, 206), response.text
        return response.json()


def database_fixture(prefix: str) -> Callable[..., Any]:
    """The fixture ``database`` for a test module to assign to that name: a store of each test's own,
    SQLite then PostgreSQL (a database named ``prefix_…``, skipped with the reason when there is none)."""

    @pytest.fixture(params=["sqlite", "postgresql"])
    def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
        """A store of the test's own: the pools start full."""
        if request.param == "sqlite":
            yield f"sqlite:///{tmp_path / 'tmfgate.db'}"
        else:
            with own_postgres_database(prefix) as url:
                yield url

    return database


def wait(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float, what: str) -> Any:
    """What ``read`` returns once ``done`` holds for it, polled; an AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last seen: {value}")
        time.sleep(0.05)


def add(id: str, offering: str, **characteristics: Any) -> Doc:
    """A TMF622 product order item that adds one product of the offering with these characteristics."""
    item: Doc = {"id": id, "action": "add", "quantity": 1, "productOffering": {"id": offering}}
    if characteristics:
        item["product"] = {"productCharacteristic": [{"name": k, "value": v} for k, v in characteristics.items()]}
    return item
