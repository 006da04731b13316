"""Prometheus metrics of one gateway process: its requests, its outbox, its delivery worker's work and its
store's connections.

Requests are counted as they are answered; the outbox and the pool are read from the store when
``/metrics`` is scraped, so a quiet gateway costs nothing and the figures are never stale. Each app
has a registry of its own (no import-time state): tests build several in one process.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool

from backends.base import Backend
from backends.events import DeliveryState
from backends.routed import RoutedBackend
from backends.sql import SqlBackend

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds: a read from memory takes well under a millisecond, an order on PostgreSQL a few.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The process's metrics, in a registry of their own.

    Requests are tallied in plain dictionaries and turned into Prometheus families when scraped
    (:class:`RequestCollector`): prometheus_client's own counters take a lock and check their labels
    on every ``inc``, which cost more than the rest of the observation on a request of 0.3 ms."""

    def __init__(self, work: WorkTally | None = None) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.tally = RequestCollector()
        registry.register(self.tally)
        if work is not None:
            registry.register(work)
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

    def observe(self, api: str, operation: str, status: int, seconds: float) -> None:
        self.tally.observe(api, operation, status, seconds)

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


class RequestCollector(Collector):
    """Requests by API, operation and status, and their latency by API and operation, as tallied."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], int] = {}
        # Per API and operation: how many fell in each bucket (the last is +Inf), and their sum.
        self.latencies: dict[tuple[str, str], tuple[list[int], list[float]]] = {}

    def observe(self, api: str, operation: str, status: int, seconds: float) -> None:
        key = (api, operation, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        latency = self.latencies.get((api, operation))
        if latency is None:
            latency = self.latencies[(api, operation)] = ([0] * (len(LATENCY_BUCKETS) + 1), [0.0])
        latency[0][bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latency[1][0] += seconds

    def describe(self) -> Iterable[Metric]:
        return self.collect()

    def collect(self) -> Iterable[Metric]:
        requests = CounterMetricFamily(
            "tmfgate_requests",
            "Requests answered, by API, operation and status.",
            labels=["api", "operation", "status"],
        )
        for (api, operation, status), count in sorted(self.counts.items()):
            requests.add_metric([api, operation, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            "tmfgate_request_duration_seconds",
            "Time from a request's arrival to the end of its answer.",
            labels=["api", "operation"],
        )
        bounds = [str(bound) for bound in LATENCY_BUCKETS] + ["+Inf"]
        for (api, operation), (buckets, total) in sorted(self.latencies.items()):
            cumulative = list(itertools.accumulate(buckets))
            latency.add_metric([api, operation], list(zip(bounds, cumulative, strict=True)), total[0])
        yield latency


class WorkTally(Collector):
    """What this process's delivery worker did: deliveries settled, by kind (``callback``, ``reaction``)
    and outcome (``delivered``, ``retried``, ``deferred``, ``parked``); and each run of the gateway's own
    reactions (the fulfilment steps, the event bus's publishes, the other extensions' work) by reaction,
    event type and outcome (``done``, ``later``, ``failed``), with its duration. Tallied in dictionaries,
    as requests are, and turned into families when scraped."""

    def __init__(self) -> None:
        self.settled: dict[tuple[str, str], int] = {}
        self.reactions: dict[tuple[str, str, str], int] = {}
        self.durations: dict[str, tuple[list[int], list[float]]] = {}

    def delivery(self, kind: str, outcome: str) -> None:
        self.settled[(kind, outcome)] = self.settled.get((kind, outcome), 0) + 1

    def reaction(self, name: str, event_type: str, outcome: str, seconds: float) -> None:
        key = (name, event_type, outcome)
        self.reactions[key] = self.reactions.get(key, 0) + 1
        duration = self.durations.get(name)
        if duration is None:
            duration = self.durations[name] = ([0] * (len(LATENCY_BUCKETS) + 1), [0.0])
        duration[0][bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        duration[1][0] += seconds

    def describe(self) -> Iterable[Metric]:
        return self.collect()

    def collect(self) -> Iterable[Metric]:
        settled = CounterMetricFamily(
            "tmfgate_delivery_outcomes",
            "Deliveries this process settled, by kind (callback, reaction) and outcome.",
            labels=["kind", "outcome"],
        )
        for (kind, outcome), count in sorted(self.settled.items()):
            settled.add_metric([kind, outcome], count)
        yield settled
        reactions = CounterMetricFamily(
            "tmfgate_reactions",
            "Runs of the gateway's own reactions (fulfilment steps, event bus) by reaction, event type and outcome.",
            labels=["reaction", "event_type", "outcome"],
        )
        for (name, event_type, outcome), count in sorted(self.reactions.items()):
            reactions.add_metric([name, event_type, outcome], count)
        yield reactions
        duration = HistogramMetricFamily(
            "tmfgate_reaction_duration_seconds", "Time one run of a reaction took.", labels=["reaction"]
        )
        bounds = [str(bound) for bound in LATENCY_BUCKETS] + ["+Inf"]
        for name, (buckets, total) in sorted(self.durations.items()):
            duration.add_metric([name], list(zip(bounds, itertools.accumulate(buckets), strict=True)), total[0])
        yield duration


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


__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "Metrics", "RequestCollector", "WorkTally", "pool_use"]
