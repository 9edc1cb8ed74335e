"""The processor's Prometheus metrics, in a registry of its own (one per processor instance)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ProcessorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._children: dict = {}
        self._pending: dict = {}
        r = self.registry
        self.events_in = Counter(
            "stocksignal_events_in_total",
            "Input records consumed, by record type",
            ["event_type"],
            registry=r,
        )
        self.commands_applied = Counter(
            "stocksignal_commands_applied_total",
            "Per-SKU commands applied, by type",
            ["command"],
            registry=r,
        )
        self.decisions = Counter(
            "stocksignal_decisions_total",
            "Reservation decisions published, by status",
            ["status"],
            registry=r,
        )
        self.dlq = Counter(
            "stocksignal_dlq_records_total",
            "Input records sent to the DLQ, by reason and input topic",
            ["reason", "topic"],
            registry=r,
        )
        self.duplicates = Counter(
            "stocksignal_duplicates_dropped_total",
            "Commands dropped as repeats of an event applied within the dedupe window",
            ["event_type"],
            registry=r,
        )
        self.replayed = Counter(
            "stocksignal_commands_replayed_total",
            "Commands seen again after a restart or rebalance (state already had them)",
            registry=r,
        )
        self.availability_published = Counter(
            "stocksignal_availability_published_total",
            "AvailabilityChanged records published",
            registry=r,
        )
        self.movements = Counter(
            "stocksignal_movements_total",
            "Ledger movements published, by reason",
            ["reason"],
            registry=r,
        )
        self.cycle_counts = Counter(
            "stocksignal_cycle_counts_total",
            "Cycle counts applied (StockCounted), by location and outcome: agreed with the books or corrected them",
            ["location", "outcome"],
            registry=r,
        )
        self.count_corrections = Counter(
            "stocksignal_count_correction_units_total",
            "Units by which cycle counts corrected on_hand, by location and direction (up, down)",
            ["location", "direction"],
            registry=r,
        )
        self.notes = Counter(
            "stocksignal_domain_notes_total",
            "Notable domain events (default channel used, clamped, unreserved shipment, ...)",
            ["note"],
            registry=r,
        )
        self.latency = Histogram(
            "stocksignal_output_latency_seconds",
            "From the cause event's occurred_at to the commit of the transaction carrying its AvailabilityChanged",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.holds_expired_commands = Counter(
            "stocksignal_expiry_commands_total",
            "ExpireHolds commands appended by the timer",
            registry=r,
        )
        self.oversell_guard = Counter(
            "stocksignal_oversell_guard_tripped_total",
            "Times a position was found with reserved > on_hand or a negative bucket after a command",
            registry=r,
        )
        self.recovery_remaining = Gauge(
            "stocksignal_table_recovery_remaining_records",
            "Changelog records left to restore before the worker is ready",
            registry=r,
        )
        self.janitor_deleted = Counter(
            "stocksignal_janitor_deleted_total",
            "Expired entries deleted from the state tables, by kind (dedupe markers, order memory)",
            ["kind"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "stocksignal_consumer_lag_records",
            "Records in the worker's assigned partitions not yet committed, by topic",
            ["topic"],
            registry=r,
        )
        self.ready = Gauge(
            "stocksignal_ready", "1 when tables are recovered and the worker is ready", registry=r
        )
        self.transactions = Counter(
            "stocksignal_transactions_total",
            "Transactions ended, by outcome (committed, aborted, fenced: the broker refused a stale writer)",
            ["outcome"],
            registry=r,
        )
        self.commit_seconds = Histogram(
            "stocksignal_commit_seconds",
            "Time to commit one transaction (flush, send offsets, commit)",
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
            registry=r,
        )
        self.restoring_partitions = Gauge(
            "stocksignal_restoring_partitions",
            "Store partitions being restored from their changelog",
            registry=r,
        )
        self.restored_records = Counter(
            "stocksignal_restored_records_total",
            "Changelog records restored into local stores",
            registry=r,
        )
        self.store_wipes = Counter(
            "stocksignal_store_wipes_total",
            "Local stores wiped because their checkpoint was missing or did not match the changelog",
            registry=r,
        )
        self.route_idle_timeouts = Counter(
            "stocksignal_route_idle_timeouts_total",
            "Times routing stopped waiting (max_task_idle_ms) for an input partition with records not yet fetched",
            registry=r,
        )
        self.rebalances = Counter(
            "stocksignal_rebalances_total",
            "Partition assignments received from the consumer group",
            registry=r,
        )
        self.assigned_partitions = Gauge(
            "stocksignal_assigned_partitions",
            "Partitions assigned to this worker, by topic",
            ["topic"],
            registry=r,
        )

    def bump(self, metric, label: str, n: int = 1) -> None:
        """Count now, publish at :meth:`flush_counts` when the transaction commits (dropped by
        :meth:`discard_counts` when it aborts): counters say what consumers can see, and a
        labelled ``inc()`` costs microseconds where the hot path makes several per command."""
        key = (metric, label)
        self._pending[key] = self._pending.get(key, 0) + n

    def dead_lettered(self, reason: str, topic: str) -> None:
        key = (self.dlq, reason, topic)
        self._pending[key] = self._pending.get(key, 0) + 1

    def counted(self, location_id: str, movements) -> None:
        """A cycle count was applied: whether it agreed with the books, and by how many units it
        corrected on_hand (its CYCLE_COUNT movement there). Published at commit, as every count."""
        delta = sum(
            m.delta for m in movements if m.bucket == "ON_HAND" and m.reason == "CYCLE_COUNT"
        )
        pending = self._pending
        key = (self.cycle_counts, location_id, "corrected" if delta else "agreed")
        pending[key] = pending.get(key, 0) + 1
        if delta:
            key = (self.count_corrections, location_id, "up" if delta > 0 else "down")
            pending[key] = pending.get(key, 0) + abs(delta)

    def discard_counts(self) -> None:
        """The transaction aborted: what it counted never became visible."""
        self._pending.clear()

    def take_counts(self) -> dict:
        """The counts so far (their transaction is committing); counting starts afresh."""
        pending, self._pending = self._pending, {}
        return pending

    def flush_counts(self, counts: dict | None = None) -> None:
        for (metric, *labels), n in (self.take_counts() if counts is None else counts).items():
            self.child(metric, *labels).inc(n)

    def child(self, metric, *labels: str):
        """``metric.labels(*labels)``, memoised: labels() costs microseconds on the hot path."""
        key = (metric, *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def bind_recovery(self, remaining: Callable[[], int], ready: Callable[[], bool]) -> None:
        self.recovery_remaining.set_function(remaining)
        self.ready.set_function(lambda: 1.0 if ready() else 0.0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
