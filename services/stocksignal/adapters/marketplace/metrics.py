"""Prometheus metrics of one sync worker (labelled with its channel)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class SyncMetrics:
    def __init__(self, channel_id: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r, ch = self.registry, ["channel"]
        self.requests = Counter(
            "stocksignal_marketplace_requests_total",
            "Pushes by outcome (ok, transient, permanent, fatal, tls)",
            ch + ["outcome"],
            registry=r,
        )
        self.pushed = Counter(
            "stocksignal_marketplace_updates_pushed_total",
            "Updates the marketplace acknowledged",
            ch,
            registry=r,
        )
        self.unchanged = Counter(
            "stocksignal_marketplace_unchanged_skipped_total",
            "Changes equal to what the marketplace holds: not pushed",
            ch,
            registry=r,
        )
        self.stale = Counter(
            "stocksignal_marketplace_stale_skipped_total",
            "Records older than (or repeating) a value already pending, in flight or acknowledged",
            ch,
            registry=r,
        )
        self.skipped = Counter(
            "stocksignal_marketplace_skipped_records_total",
            "Records that are no AvailabilityChanged",
            ch + ["reason"],
            registry=r,
        )
        self.dead = Counter(
            "stocksignal_marketplace_dead_lettered_total",
            "Updates sent to the dead-letter topic",
            ch + ["reason"],
            registry=r,
        )
        self.pending = Gauge(
            "stocksignal_marketplace_pending_skus", "SKUs waiting to be pushed", ch, registry=r
        )
        self.pending_priority = Gauge(
            "stocksignal_marketplace_pending_priority_skus",
            "Waiting SKUs whose change crosses 0",
            ch,
            registry=r,
        )
        self.unresolved = Gauge(
            "stocksignal_marketplace_unresolved_records",
            "Consumed records not yet committable",
            ch,
            registry=r,
        )
        self.request_seconds = Histogram(
            "stocksignal_marketplace_request_seconds",
            "Duration of one push",
            ch,
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.tls_failures = Counter(
            "stocksignal_marketplace_tls_failures_total",
            "Pushes that failed because the marketplace's certificate did not verify",
            ch,
            registry=r,
        )
        self.retry_wait = Counter(
            "stocksignal_marketplace_retry_wait_seconds_total",
            "Time spent waiting before retries",
            ch,
            registry=r,
        )
        self.lag = Gauge(
            "stocksignal_marketplace_consumer_lag",
            "Records between position and end",
            ch + ["partition"],
            registry=r,
        )
        self.channel = channel_id
