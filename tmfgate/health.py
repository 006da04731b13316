"""Health for load balancers and orchestrators: live while the process serves, ready while its store
answers and has this release's schema."""

from __future__ import annotations

from typing import Any

from backends.base import Backend, StorageError
from backends.routed import RoutedBackend
from backends.sql import SqlBackend, migrations


def live() -> tuple[int, dict[str, Any]]:
    """The process answers: that is all liveness says (a restart would not mend a store outage)."""
    return 200, {"status": "live"}


async def ready(backend: Backend) -> tuple[int, dict[str, Any]]:
    """200 when the store answers and its schema is current; 503 with the reason otherwise."""
    local = backend.local if isinstance(backend, RoutedBackend) else backend
    try:
        if isinstance(local, SqlBackend):
            revision, wanted = await local.revision(), migrations.head()
            if revision != wanted:
                return 503, {"status": "not ready", "reason": f"the store's schema is {revision}, not {wanted}"}
        else:
            await local.count_deliveries()
    except StorageError as exc:
        return 503, {"status": "not ready", "reason": " ".join(str(exc).split())}
    return 200, {"status": "ready"}


__all__ = ["live", "ready"]
