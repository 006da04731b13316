"""The in-process client every API test that needs no real server uses: the gateway's ASGI app, its
lifespan run (store opened, delivery worker started), requests handed to it without a socket.

Tests that need a real server keep one: crash recovery and restarts (``tests.gateways.served``),
notifications to real listener processes, the kits and schemathesis (``tests.conftest.RunningGateway``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from starlette.testclient import TestClient

from tests.conftest import TEST_SETTINGS
from tmfgate.app import GatewayApp, create_app
from tmfgate.settings import Settings

T = TypeVar("T")
BASE_URL = "http://testserver"  # the host the gateway sees, so hrefs read http://testserver/tmf-api/...


class AppClient(TestClient):
    """An httpx client of one in-process gateway; ``gateway`` is its runtime's ``Gateway``."""

    app: GatewayApp

    @property
    def gateway(self) -> Any:
        return self.app.gateway

    def run(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Await ``function(*args)`` on the gateway's event loop (to read or seed its store)."""
        assert self.portal is not None, "the client is not started: use it in a with block"
        return self.portal.call(function, *args)


@contextlib.contextmanager
def in_process(database_url: str = "memory://", **settings: Any) -> Iterator[AppClient]:
    """A gateway on ``database_url`` with ``settings``, in this process, for the block."""
    app = create_app(Settings(database_url=database_url, **{**TEST_SETTINGS, **settings}))
    with AppClient(app, base_url=BASE_URL) as client:
        yield client
