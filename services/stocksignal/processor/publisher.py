"""Turn outcomes into output records, encode them and send them to their topics."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from stocksignal.contract import Codec, partition_for
from stocksignal.contract import topics as catalogue
from stocksignal.domain import Outcome
from stocksignal.processor.delivery import Record, Ticket
from stocksignal.processor.metrics import ProcessorMetrics

# [record name, record dict]: what an outbox keeps and what publish() sends.
OutputRecord = list[Any]

_KEY_FIELD = {
    "ReservationDecided": "order_id",
    "StockMoved": "sku",
    "AvailabilityChanged": "sku",
}


@dataclass(frozen=True)
class OutputTopics:
    """Where each output record goes, and how many partitions each topic has."""

    availability: str
    reservations: str
    movements: str
    partitions: dict[str, int]  # topic -> partition count, read from the cluster at start

    def for_record(self, name: str) -> str:
        return {
            "AvailabilityChanged": self.availability,
            "ReservationDecided": self.reservations,
            "StockMoved": self.movements,
        }[name]


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
        self._latest: dict[str, tuple[dict[str, Any], Ticket]] = {}
        self._headers = {name: [("stocksignal.record", name.encode())] for name in _KEY_FIELD}
        self._partitions: dict[tuple[str, bytes], int] = {}

    @staticmethod
    def records_of(outcome: Outcome, published_at: int) -> list[OutputRecord]:
        """Decisions, then movements, then the availability snapshot (consumers see the why
        before the number)."""
        records: list[OutputRecord] = [["ReservationDecided", d.to_record()] for d in outcome.decisions]
        records += [["StockMoved", m.to_record()] for m in outcome.movements]
        if outcome.availability is not None:
            snapshot = outcome.availability.to_record()
            snapshot["published_at"] = published_at
            records.append(["AvailabilityChanged", snapshot])
        return records

    def publish(self, records: list[OutputRecord], ticket: Ticket) -> None:
        """Send decisions and movements now; hold availability until :meth:`flush`.

        Within one batch only the newest snapshot per SKU is sent (the spec allows coalescing
        to the newest per SKU within a commit): a hot SKU's burst costs one record, not one
        per command. Versions stay strictly increasing; some are simply never published.
        """
        for name, record in records:
            if name == "AvailabilityChanged":
                self._latest[record["sku"]] = (record, ticket)
            else:
                self._send(name, record, ticket)

    def flush(self) -> None:
        """Send the held availability snapshots (call before sealing the batch's ticket)."""
        for record, ticket in self._latest.values():
            self._send("AvailabilityChanged", record, ticket)
        self._latest.clear()

    def _send(self, name: str, record: dict[str, Any], ticket: Ticket) -> None:
        # Our records are built from typed domain objects: skip the field-by-field check.
        value = self.codec.encode(name, record, check=False)
        key = record[_KEY_FIELD[name]].encode()
        topic = self.topics.for_record(name)
        ticket.add(Record(topic, self._partition(topic, key), key, value, self._headers[name]))
        if name == "AvailabilityChanged":
            ticket.occurred.append(record["occurred_at"])
        self._count(name, record)

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

    def _count(self, name: str, record: dict[str, Any]) -> None:
        if name == "ReservationDecided":
            self.metrics.child(self.metrics.decisions, record["status"]).inc()
        elif name == "StockMoved":
            self.metrics.child(self.metrics.movements, record["reason"]).inc()
        else:
            self.metrics.availability_published.inc()


def output_topics(topic_name: Callable[[str], str], partitions: dict[str, int]) -> OutputTopics:
    return OutputTopics(
        availability=topic_name(catalogue.AVAILABILITY),
        reservations=topic_name(catalogue.RESERVATIONS),
        movements=topic_name(catalogue.MOVEMENTS),
        partitions=partitions,
    )
