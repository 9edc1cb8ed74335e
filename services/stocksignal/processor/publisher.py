"""Turn outcomes into encoded output records, inside the worker's open transaction.

Decisions and movements are produced at once (librdkafka sends them while the worker goes
on); the availability snapshot of a SKU is held until the transaction commits and only the
newest one per SKU is produced (docs/contract.md allows coalescing within a commit): a hot
SKU's burst costs one record, versions stay strictly increasing, some are never published.
Records carry no headers: the fingerprint says what each is, and a header doubles the cost of
producing a record.

Stock-level records (docs/semantics.md#stock-level-signals) are made at flush too, from the snapshot actually
produced: they compare its channels' levels with those of the SKU's previous *published*
snapshot (``SkuState.levels``), so they carry that snapshot's version and never describe an
intermediate snapshot no reader saw. The new levels go back into the SKU's state through
``on_levels`` (the applier writes the envelope again), in the same transaction as the records.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from stocksignal.contract import Codec
from stocksignal.contract import topics as catalogue
from stocksignal.domain import Outcome, SkuState, publish_levels
from stocksignal.processor.metrics import ProcessorMetrics

Send = Callable[[str, int, bytes | None, bytes | None, list | None], None]
# (owner given to publish, the SKU's state with the levels just published)
OnLevels = Callable[[object, SkuState], None]

# The producer's own partitioner places output records by key (murmur2, as everything else):
# a Python murmur2 per record cost microseconds.
ANY_PARTITION = -1


@dataclass(frozen=True)
class OutputTopics:
    """Where each output record goes, and how many partitions each topic has."""

    availability: str
    reservations: str
    movements: str
    stock_levels: str
    partitions: dict[str, int]  # topic -> partition count, read from the cluster at start


class Publisher:
    def __init__(
        self,
        codec: Codec,
        topics: OutputTopics,
        metrics: ProcessorMetrics,
        send: Send,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.codec = codec
        self.topics = topics
        self.metrics = metrics
        self.send = send
        self.clock = clock
        self._held: dict[str, tuple[Outcome, int, object]] = {}
        self.on_levels: OnLevels | None = None  # set by the applier, which owns the states
        # (owner, sku, snapshot record) after each snapshot produced: bundles.py follows components
        self.on_snapshot: Callable[[object, str, dict], None] | None = None
        self._flushed: list[int] = []  # log times of the causes of the open transaction's snapshots
        self._encoders: dict[str, Callable[[dict], bytes]] = {}

    def _encoder(self, record_name: str) -> Callable[[dict], bytes]:
        """The codec's encoder of ``record_name`` (records from typed domain objects: no
        field-by-field check), bound at its first record: a few lookups less per record."""
        found = self._encoders.get(record_name)
        if found is None:
            found = self._encoders[record_name] = self.codec.encoder(record_name)
        return found

    def publish(
        self,
        outcome: Outcome,
        published_at: int,
        movements: list[dict] | None = None,
        owner: object = None,
    ) -> None:
        """Decisions, then movements (consumers see the why before the number); the snapshot
        is held for :meth:`flush`. ``movements``: the movements' records when the caller made
        them already. ``owner``: handed back to ``on_levels`` with the SKU's new levels. Our
        records come from typed domain objects: the codec's field-by-field check is skipped."""
        send, metrics = self.send, self.metrics
        if outcome.decisions:
            topic = self.topics.reservations
            encode = self._encoder("ReservationDecided")
            for d in outcome.decisions:
                send(topic, ANY_PARTITION, d.order_id.encode(), encode(d.to_record()), None)
                metrics.bump(metrics.decisions, str(d.status))
        if outcome.movements:
            topic = self.topics.movements
            encode = self._encoder("StockMoved")
            key = outcome.state.sku.encode()
            records = (
                movements if movements is not None else [m.to_record() for m in outcome.movements]
            )
            for m in records:
                send(topic, ANY_PARTITION, key, encode(m), None)
                metrics.bump(metrics.movements, m["reason"])
        if outcome.changed:  # the snapshot itself is built at flush, for the newest only
            self._held[outcome.state.sku] = (outcome, published_at, owner)

    def flush(self) -> None:
        """Produce the held snapshots (the newest per SKU); called just before the commit."""
        if not self._held:
            return
        topic, send = self.topics.availability, self.send
        encode = self._encoder("AvailabilityChanged")
        levels_topic = self.topics.stock_levels
        for sku, (outcome, published_at, owner) in self._held.items():
            snapshot = outcome.availability_record()
            assert snapshot is not None  # only changed outcomes are held
            snapshot["published_at"] = published_at
            key = sku.encode()
            send(topic, ANY_PARTITION, key, encode(snapshot), None)
            self._flushed.append(outcome.logged_at)
            if self.on_snapshot is not None:
                self.on_snapshot(owner, sku, snapshot)
            state, changes = publish_levels(outcome.state, outcome.book, snapshot)
            for change in changes:
                send(
                    levels_topic,
                    ANY_PARTITION,
                    key,
                    self._encoder("StockLevelChanged")(change.to_record()),
                    None,
                )
            if state is not outcome.state and self.on_levels is not None:
                self.on_levels(owner, state)
        self.metrics.availability_published.inc(len(self._held))
        self._held.clear()

    def take_flushed(self) -> list[int]:
        """The cause times of the snapshots produced so far (their transaction is committing)."""
        flushed, self._flushed = self._flushed, []
        return flushed

    def committed(self, flushed: list[int] | None = None) -> None:
        """A transaction committed: its snapshots are now visible to read_committed readers."""
        flushed = self.take_flushed() if flushed is None else flushed
        if flushed:
            now = self.clock()
            observe = self.metrics.latency.observe
            for logged_at in flushed:
                observe(max(0.0, now - logged_at / 1000.0))

    def aborted(self) -> None:
        self._held.clear()
        self._flushed.clear()


def output_topics(topic_name: Callable[[str], str], partitions: dict[str, int]) -> OutputTopics:
    return OutputTopics(
        availability=topic_name(catalogue.AVAILABILITY),
        reservations=topic_name(catalogue.RESERVATIONS),
        movements=topic_name(catalogue.MOVEMENTS),
        partitions=partitions,
        stock_levels=topic_name(catalogue.STOCK_LEVELS),
    )
