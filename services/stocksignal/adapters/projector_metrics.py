"""Prometheus metrics of the projector, on a registry of its own (several may share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ProjectorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.lag = Gauge(
            "stocksignal_projector_consumer_lag",
            "Records between position and end",
            ["partition"],
            registry=r,
        )
        self.writes = Counter(
            "stocksignal_projector_writes_total", "Snapshots written to Redis", registry=r
        )
        self.stale = Counter(
            "stocksignal_projector_stale_writes_refused_total",
            "Records refused by the version guard (same or older version)",
            registry=r,
        )
        self.skipped = Counter(
            "stocksignal_projector_skipped_records_total",
            "Records that are no AvailabilityChanged",
            ["reason"],
            registry=r,
        )
        self.rebuilds = Counter(
            "stocksignal_projector_rebuilds_total",
            "Rebuilds started from the beginning of the topic",
            ["reason"],
            registry=r,
        )
        self.rebuilding = Gauge(
            "stocksignal_projector_rebuilding_partitions",
            "Owned partitions being replayed for a rebuild",
            registry=r,
        )
        self.batch_seconds = Histogram(
            "stocksignal_projector_batch_seconds",
            "Decode + Redis round trip + commit of one batch",
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.redis_errors = Counter(
            "stocksignal_projector_redis_errors_total", "Failed Redis round trips", registry=r
        )
