"""TMF633 Service Catalog (read-only): the service specifications of the catalog file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers import catalog

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway


def configure(gateway: Gateway) -> None:
    """Read and check the catalog file at start-up."""
    catalog.check(gateway, ("serviceSpecification",))


async def on_start(gateway: Gateway) -> None:
    """Serve the catalog file's service specifications (setting ``catalog``)."""
    await catalog.seed(gateway, ("serviceSpecification",))
