"""Prometheus metrics of one gateway process: its requests, its outbox and its store's connections.

Requests are counted as they are answered; the outbox and the pool are read from the store when
``/metrics`` is scraped, so a quiet gateway costs nothing and the figures are never stale. Each app
has a registry of its own (no import-time state): tests build several in one process.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy.pool import QueuePool

from backends.base import Backend
from backends.events import DeliveryState
from backends.routed import RoutedBackend
from backends.sql import SqlBackend

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds: a read from memory takes well under a millisecond, an order on PostgreSQL a few.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The process's metrics, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tmfgate_requests",
            "Requests answered, by API, operation and status.",
            ["api", "operation", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "tmfgate_request_duration_seconds",
            "Time from a request's arrival to the end of its answer.",
            ["api", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.deliveries = Gauge(
            "tmfgate_deliveries",
            "Deliveries of hub notifications in the outbox, by state.",
            ["state"],
            registry=registry,
        )
        self.oldest_pending = Gauge(
            "tmfgate_outbox_oldest_pending_seconds",
            "Age of the event of the oldest pending delivery (0 when none is pending).",
            registry=registry,
        )
        self.pool = Gauge(
            "tmfgate_db_pool_connections",
            "The store's pooled connections: checked out, or kept idle.",
            ["use"],
            registry=registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, api: str, operation: str, status: int, seconds: float) -> None:
        # The labelled children kept by their labels: labels() costs several times inc() and observe().
        key = (api, operation, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(api, operation, str(status)),
                self.latency.labels(api, operation),
            )
        children[0].inc()
        children[1].observe(seconds)

    async def exposition(self, backend: Backend) -> bytes:
        """Every metric in Prometheus's text format, the store's read now."""
        for state in DeliveryState:
            self.deliveries.labels(state.value).set(await backend.count_deliveries(state=state))
        oldest = await backend.deliveries(state=DeliveryState.PENDING, limit=1)
        age = (dt.datetime.now(dt.UTC) - oldest[0].event.time).total_seconds() if oldest else 0.0
        self.oldest_pending.set(max(age, 0.0))
        checked_out, idle = pool_use(backend)
        self.pool.labels("checked_out").set(checked_out)
        self.pool.labels("idle").set(idle)
        return generate_latest(self.registry)


def pool_use(backend: Backend) -> tuple[int, int]:
    """Connections of a SQL store's pool checked out and idle; none for other stores."""
    local = backend.local if isinstance(backend, RoutedBackend) else backend
    if not isinstance(local, SqlBackend):
        return 0, 0
    engine = local.engine.sync_engine if local.engine is not None else local.loop_engine
    assert engine is not None
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return 0, 0
    return pool.checkedout(), pool.checkedin()


__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "Metrics", "pool_use"]
