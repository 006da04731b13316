"""TMF639 Resource Inventory: resources, starting with the pools of the catalog file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers import catalog

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway


def configure(gateway: Gateway) -> None:
    """Read and check the catalog file at start-up."""
    catalog.check(gateway, ("resource",))


async def on_start(gateway: Gateway) -> None:
    """Add the catalog's pool resources the inventory does not hold yet (never resetting one)."""
    await catalog.seed(gateway, ("resource",))
