"""Turn outcomes into encoded output records and send them to their topics.

A record is encoded once, when the command is applied: the same bytes go into the SKU's
outbox (so a replay re-sends byte-identical records) and to Kafka.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from stocksignal.contract import Codec, partition_for
from stocksignal.contract import topics as catalogue
from stocksignal.domain import Outcome
from stocksignal.processor.delivery import Record, Ticket
from stocksignal.processor.metrics import ProcessorMetrics

DECISION, MOVEMENT, AVAILABILITY = 0, 1, 2
_NAMES = {DECISION: "ReservationDecided", MOVEMENT: "StockMoved", AVAILABILITY: "AvailabilityChanged"}


@dataclass(frozen=True, slots=True)
class Encoded:
    """One output record, ready to send: its kind, key, Avro bytes, and (for availability)
    its version and cause time."""

    kind: int
    key: bytes
    value: bytes
    version: int = 0
    occurred_at: int = 0


@dataclass(frozen=True)
class OutputTopics:
    """Where each output record goes, and how many partitions each topic has."""

    availability: str
    reservations: str
    movements: str
    partitions: dict[str, int]  # topic -> partition count, read from the cluster at start

    def for_kind(self, kind: int) -> str:
        return (self.reservations, self.movements, self.availability)[kind]


class Publisher:
    def __init__(
        self,
        codec: Codec,
        topics: OutputTopics,
        metrics: ProcessorMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.codec = codec
        self.topics = topics
        self.metrics = metrics
        self.clock = clock
        self._latest: dict[bytes, tuple[Encoded, Ticket]] = {}
        self._headers = {kind: [("stocksignal.record", name.encode())] for kind, name in _NAMES.items()}
        self._partitions: dict[tuple[str, bytes], int] = {}

    def encode(self, outcome: Outcome, published_at: int) -> list[Encoded]:
        """Decisions, then movements, then the availability snapshot (consumers see the why
        before the number). Our records come from typed domain objects: the codec's
        field-by-field check is skipped."""
        encode = self.codec.encode
        out = []
        for d in outcome.decisions:
            out.append(Encoded(DECISION, d.order_id.encode(), encode("ReservationDecided", d.to_record(), check=False)))
            self.metrics.bump(self.metrics.decisions, str(d.status))
        for m in outcome.movements:
            out.append(Encoded(MOVEMENT, m.sku.encode(), encode("StockMoved", m.to_record(), check=False)))
            self.metrics.bump(self.metrics.movements, str(m.reason))
        a = outcome.availability
        if a is not None:
            snapshot = a.to_record()
            snapshot["published_at"] = published_at
            value = encode("AvailabilityChanged", snapshot, check=False)
            out.append(Encoded(AVAILABILITY, a.sku.encode(), value, a.version, a.occurred_at))
        return out

    def publish(self, records: list[Encoded], ticket: Ticket) -> None:
        """Send decisions and movements now; hold availability until :meth:`flush`.

        Within one batch only the newest snapshot per SKU is sent (the spec allows coalescing
        to the newest per SKU within a commit): a hot SKU's burst costs one record, not one
        per command. Versions stay strictly increasing; some are simply never published.
        """
        for r in records:
            if r.kind == AVAILABILITY:
                self._latest[r.key] = (r, ticket)
            else:
                self._send(r, ticket)

    def flush(self) -> None:
        """Send the held availability snapshots (call before sealing the batch's ticket)."""
        if not self._latest:
            return
        for r, ticket in self._latest.values():
            self._send(r, ticket)
            ticket.occurred.append(r.occurred_at)
        self.metrics.availability_published.inc(len(self._latest))
        self._latest.clear()

    def _send(self, r: Encoded, ticket: Ticket) -> None:
        topic = self.topics.for_kind(r.kind)
        ticket.add(Record(topic, self._partition(topic, r.key), r.key, r.value, self._headers[r.kind]))

    def _partition(self, topic: str, key: bytes) -> int:
        """The partitioner everyone uses (murmur2), computed here so every record has an
        explicit partition (delivery.py reports per partition); memoised, keys repeat."""
        cache = self._partitions
        found = cache.get((topic, key))
        if found is None:
            if len(cache) > 500_000:
                cache.clear()
            found = cache[(topic, key)] = partition_for(key, self.topics.partitions[topic])
        return found

    def observe_latency(self, ticket: Ticket) -> None:
        """When a batch landed: how long from each snapshot's cause to now."""
        if ticket.occurred:
            now = self.clock()
            observe = self.metrics.latency.observe
            for occurred_at in ticket.occurred:
                observe(max(0.0, now - occurred_at / 1000.0))


def output_topics(topic_name: Callable[[str], str], partitions: dict[str, int]) -> OutputTopics:
    return OutputTopics(
        availability=topic_name(catalogue.AVAILABILITY),
        reservations=topic_name(catalogue.RESERVATIONS),
        movements=topic_name(catalogue.MOVEMENTS),
        partitions=partitions,
    )
