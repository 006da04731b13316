"""Shared fixtures: a real gateway over real HTTP, on every store (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

POSTGRES_URL = os.environ.get("TMFGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
STORES = ["memory", "sqlite", "postgresql"]
# Test gateways serve one client address as fast as it asks (tests/test_limits.py checks the rate
# limit), and call the tests' listeners on loopback (tests/notifications/test_callbacks.py checks
# that a gateway refuses them by default).
LOOPBACK_CALLBACKS = "*,127.0.0.0/8,::1"
TEST_SETTINGS = {"rate_limit": 0.0, "callback_hosts": LOOPBACK_CALLBACKS}


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (anyio's pytest plugin)."""
    return "asyncio"


@pytest.fixture
def kind() -> str:
    """A resource kind no other test (or test run sharing a PostgreSQL database) uses."""
    return f"t{uuid.uuid4().hex[:16]}"


PORTS_FROM, PORT_BLOCK, PORT_BLOCKS = 20_000, 1_000, 12  # 20000-31999: under Linux's ephemeral 32768-60999


def _worker_ports() -> Iterator[int]:
    """This process's ports: a block of its own per xdist worker (``gw0``, ``gw1``...), below the kernel's
    ephemeral range so no outgoing connection holds one, walked from a random start so that separate runs
    on one machine seldom meet."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) + 1 if worker[2:].isdigit() else 0
    block = range(PORTS_FROM + (index % PORT_BLOCKS) * PORT_BLOCK, PORTS_FROM + (index % PORT_BLOCKS + 1) * PORT_BLOCK)
    start = random.randrange(len(block))
    return itertools.cycle([*block[start:], *block[:start]])


_ports = _worker_ports()


def free_port() -> int:
    """A port nothing listens on now, from this worker's block (the next one it hands out is another)."""
    for _ in range(PORT_BLOCK):
        port = next(_ports)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port among this worker's {PORT_BLOCK}")


@contextlib.contextmanager
def own_postgres_database(prefix: str) -> Iterator[str]:
    """A PostgreSQL database of its own, dropped afterwards; skips the test when there is none.

    Tests of the outbox need one: fan_out and claim take whatever the outbox holds, so in a shared
    database another run (or a gateway's dispatcher) would take this run's events.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(POSTGRES_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means: no usable PostgreSQL here
        engine.dispose()
        pytest.skip(
            f"PostgreSQL at {POSTGRES_URL} is unreachable or refuses CREATE DATABASE "
            f"(set TMFGATE_TEST_POSTGRES_URL): {exc}"
        )
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of its own for this test session."""
    with own_postgres_database("tmfgate_test") as url:
        yield url


@pytest.fixture(scope="module", params=STORES)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The database URL of each store in turn."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'tmfgate.db'}"
    return str(request.getfixturevalue("postgres_database"))


@contextlib.contextmanager
def in_thread(server: Any, timeout: float = 30) -> Iterator[None]:
    """Run a ``uvicorn.Server`` in a thread of this process until the block ends (the real HTTP stack)."""
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)


class RunningGateway:
    """A gateway served by uvicorn in a thread on a free port, as a client reaches it."""

    def __init__(self, database_url: str, specs_dir: Path | None = None, **settings: Any) -> None:
        import uvicorn

        from tmfgate.app import create_app
        from tmfgate.settings import Settings

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = {**TEST_SETTINGS, **settings}
        app = create_app(Settings(database_url=database_url, port=self.port, **settings), specs_dir=specs_dir)
        self.gateway = app.gateway  # type: ignore[attr-defined]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self._serving = in_thread(self.server)

    def __enter__(self) -> RunningGateway:
        self._serving.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._serving.__exit__(None, None, None)


@pytest.fixture(scope="module")
def gateway(store: str) -> Iterator[RunningGateway]:
    """A running gateway on each store, leaving orders where clients put them (no fulfilment)."""
    with RunningGateway(store, fulfilment=False) as running:
        yield running


@pytest.fixture(scope="module")
def app_client(store: str) -> Iterator[Any]:
    """The gateway in process on each store, leaving orders where clients put them (no fulfilment): the
    client of API tests that need no real server (``tests.api.clients``)."""
    from tests.api.clients import in_process

    with in_process(store, fulfilment=False) as client:
        yield client
