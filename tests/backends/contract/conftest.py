"""The contract suite's stores: each test runs once per store that serves its protocol.

A store that cannot have a capability declares it in ``LACKS`` with the reason; a test that needs
it is marked ``@pytest.mark.needs(capability)`` and is skipped on that store with the reason. A
capability a store declines in ``DECLINES`` is a declared capability instead: the test runs there and
must end in ``Unsupported`` (the gateway's 501 TMF Error), which passes it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from backends import open_backend
from backends.base import Backend, DocumentStore
from backends.errors import Unsupported
from backends.routed import RoutedBackend
from backends.upstream import UpstreamOptions, UpstreamStore
from tests.backends.conftest import STORES, empty_store, opened
from tests.gateways import served

DOCUMENT_STORES = [*STORES, "upstream"]  # the stores the document tests run on
OUTBOX_STORES = STORES  # the stores the outbox tests run on: an upstream keeps no outbox (the gateway's is local)

# The kind kept at the upstream (a tmfgate process), with its API's base path: TMF639 resources
# need only a name. Other kinds stay in the routed backend's local store.
UPSTREAM_KINDS = {"resource": "/tmf-api/resourceInventoryManagement/v4"}
LACKS: dict[str, dict[str, str]] = {
    "upstream": {
        "transactions": "an upstream TMF server has no transactions: each write is one call, made at once",
        "client ids": "an upstream TMF server chooses the ids of what is created there",
        "owners": "an upstream TMF server records no owner (the gateway answers 501 to a partner-limited read)",
    },
}
DECLINES: dict[str, dict[str, str]] = {
    "upstream": {
        "any sort": "an upstream TMF server sorts by the attributes it chooses; a refused sort is a 501",
    },
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(capability): a store without the capability skips the test")


def _store(request: pytest.FixtureRequest) -> str | None:
    callspec = getattr(request.node, "callspec", None)
    return None if callspec is None else callspec.params.get("documents")


@pytest.fixture(autouse=True)
def _capabilities(request: pytest.FixtureRequest) -> None:
    """Skip, with the store's reason, a test needing a capability the store declares it lacks."""
    lacks = LACKS.get(_store(request) or "", {})
    for marker in request.node.iter_markers("needs"):
        for capability in marker.args:
            if capability in lacks:
                pytest.skip(f"declared: {lacks[capability]}")


def _declined(item: pytest.Item) -> list[str]:
    callspec = getattr(item, "callspec", None)
    declines = DECLINES.get("" if callspec is None else callspec.params.get("documents") or "", {})
    return [c for marker in item.iter_markers("needs") for c in marker.args if c in declines]


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Iterator[None]:
    """A test needing a capability its store declines passes when, and only when, it meets Unsupported."""
    declined = _declined(pyfuncitem)
    outcome = yield
    if not declined:
        return
    excinfo = outcome.excinfo
    if excinfo is not None and issubclass(excinfo[0], Unsupported):
        outcome.force_result(True)
        return
    outcome.force_exception(
        AssertionError(f"the store declares it cannot do {', '.join(declined)}, so the test must meet Unsupported")
    )


@pytest.fixture
def kind(request: pytest.FixtureRequest) -> str:
    """A kind no other test uses; on the upstream, a kind it serves, emptied after each test."""
    return "resource" if _store(request) == "upstream" else f"t{uuid.uuid4().hex[:16]}"


@pytest.fixture
def other_kind(kind: str) -> str:
    """A second kind, empty, apart from ``kind`` (on the upstream store, one kept locally)."""
    return f"{kind}b"


@pytest.fixture(scope="module")
def upstream_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tmfgate process on SQLite: the upstream TMF server of the upstream store."""
    folder = tmp_path_factory.mktemp("upstream")
    (folder / "catalog.yaml").write_text("{}\n")  # no resource pools to seed: its inventory starts empty
    options = ("--fulfilment", "off", "--catalog", str(folder / "catalog.yaml"))
    with served(f"sqlite:///{folder / 'upstream.db'}", folder, *options) as (_process, url):
        yield url


def _emptied(url: str) -> None:
    """Delete every document of the upstream's kinds (the next test starts empty)."""
    with httpx.Client(timeout=10) as client:
        for kind, base in UPSTREAM_KINDS.items():
            while found := client.get(f"{url}{base}/{kind}", params={"fields": "id", "limit": "100"}).json():
                for item in found:
                    client.delete(f"{url}{base}/{kind}/{item['id']}")


async def _upstream(url: str) -> AsyncIterator[DocumentStore]:
    """The gateway's routed backend with the upstream's kinds at the upstream, as in gateway mode."""
    _emptied(url)  # empty before, too: a test stopped midway may have left documents there
    stores = {kind: UpstreamStore(UpstreamOptions(url=url + base, retries=0)) for kind, base in UPSTREAM_KINDS.items()}
    backend = RoutedBackend(open_backend("memory://"), stores)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()
        _emptied(url)


@pytest.fixture(params=DOCUMENT_STORES)
async def documents(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    """An open, empty document store of each kind."""
    if request.param == "upstream":
        async for backend in _upstream(str(request.getfixturevalue("upstream_url"))):
            yield backend
        return
    async with empty_store(request, request.param, tmp_path) as url, opened(url) as store:
        yield store


@pytest.fixture(params=OUTBOX_STORES)
async def outbox_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with empty_store(request, request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def backend(outbox_url: str) -> AsyncIterator[Backend]:
    """An open, empty store with its outbox, of each kind."""
    async with opened(outbox_url) as backend:
        yield backend


@pytest.fixture
async def other(backend: Backend, outbox_url: str) -> AsyncIterator[Backend]:
    """A second handle on the same store: its own connections on SQL, the same object in memory."""
    if outbox_url.startswith("memory"):
        yield backend
        return
    async with opened(outbox_url) as other:
        yield other
