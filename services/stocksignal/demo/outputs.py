"""What the processor published, read back from its output topics as the demo goes.

One consumer, assigned to every partition of the availability, reservations, movements,
stock-levels, order-decisions and DLQ topics from the beginning; :meth:`OutputReader.pump` takes whatever has
arrived. Nothing is computed here: the demo shows and checks these records, never its own arithmetic.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stocksignal import bootstrap
from stocksignal.contract import topics as catalogue
from stocksignal.settings import Settings

KINDS = {
    catalogue.AVAILABILITY: "availability",
    catalogue.RESERVATIONS: "reservations",
    catalogue.MOVEMENTS: "movements",
    catalogue.STOCK_LEVELS: "levels",
    catalogue.ORDER_DECISIONS: "orders",
    catalogue.DLQ: "dlq",
}


@dataclass(frozen=True)
class Output:
    kind: str  # availability | reservations | movements | levels | orders | dlq
    partition: int
    offset: int
    timestamp: int
    record: dict[str, Any] | None
    headers: dict[str, str]

    @property
    def cause(self) -> str | None:
        return None if self.record is None else self.record.get("cause_event_id")


def placement_of(cause: str | None) -> str | None:
    """The input event behind a cause id: itself, or the placement of a saga's step."""
    if cause is None or "/" not in cause:
        return cause
    return cause.rsplit("/", 1)[0]


class OutputReader:
    def __init__(self, settings: Settings) -> None:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        from stocksignal.cli.common import kafka_client_overrides

        self.codec = bootstrap.make_codec(settings)
        self.consumer = bootstrap.make_consumer(
            settings, f"stocksignal-demo-reader-{uuid.uuid4().hex[:8]}", **kafka_client_overrides()
        )
        # Watermarks are asked of a consumer that is not fetching: on the fetching one each
        # query waits behind a long-poll fetch (fetch.wait.max.ms) on the same connection.
        self.probe = bootstrap.make_consumer(
            settings, f"stocksignal-demo-probe-{uuid.uuid4().hex[:8]}", **kafka_client_overrides()
        )
        self.kind_of = {settings.topic_prefix + base: kind for base, kind in KINDS.items()}
        self.topic_of = {kind: topic for topic, kind in self.kind_of.items()}
        assignment = []
        for topic in self.kind_of:
            metadata = self.consumer.list_topics(topic, timeout=10).topics[topic]
            for p in metadata.partitions:
                assignment.append(TopicPartition(topic, p, OFFSET_BEGINNING))
        self.partitions = {(tp.topic, tp.partition) for tp in assignment}
        self.consumer.assign(assignment)
        self.next_offset: dict[tuple[str, int], int] = defaultdict(int)
        self.records: dict[str, list[Output]] = {kind: [] for kind in KINDS.values()}
        self.latest: dict[str, dict[str, Any]] = {}  # sku -> newest AvailabilityChanged

    def pump(self, timeout: float = 0.1) -> int:
        """Take what has arrived (waiting up to ``timeout``); returns how many records."""
        n = 0
        for msg in self.consumer.consume(1000, timeout):
            if msg.error() is not None:
                continue
            kind = self.kind_of[msg.topic()]
            record = None
            try:
                _, record = (
                    self.codec.decode(msg.value()) if msg.value() is not None else (None, None)
                )
            except Exception:  # an undecodable DLQ value: shown by its headers
                record = None
            headers = {k: (v or b"").decode("utf-8", "replace") for k, v in (msg.headers() or ())}
            out = Output(kind, msg.partition(), msg.offset(), msg.timestamp()[1], record, headers)
            self.records[kind].append(out)
            if kind == "availability" and record is not None:
                old = self.latest.get(record["sku"])
                if old is None or record["version"] > old["version"]:
                    self.latest[record["sku"]] = record
            self.next_offset[(msg.topic(), msg.partition())] = msg.offset() + 1
            n += 1
        return n

    def caught_up(
        self, kinds: Iterable[str] = ("availability", "reservations", "movements", "levels")
    ) -> bool:
        """Whether every record acknowledged so far on these topics has been read."""
        from confluent_kafka import TopicPartition

        for kind in kinds:
            topic = self.topic_of[kind]
            for t, p in self.partitions:
                if t != topic:
                    continue
                _, high = self.probe.get_watermark_offsets(TopicPartition(t, p), timeout=5)
                # The consumer's position, not the last record's offset + 1: the processor
                # writes in transactions, and a transaction's marker follows its last record.
                position = self.consumer.position([TopicPartition(t, p)])[0].offset
                if max(position, self.next_offset[(t, p)]) < high:
                    return False
        return True

    def version(self, sku: str) -> int:
        latest = self.latest.get(sku)
        return 0 if latest is None else latest["version"]

    def caused_by(self, event_ids: Iterable[str]) -> dict[str, list[Output]]:
        """event_id -> the records it caused (availability, decisions, movements, levels, order
        decisions), in topic order. An order saga's own step, such as the release of an
        incomplete all-or-nothing order, names its placement as ``<event id>/<step>``."""
        wanted = set(event_ids)
        out: dict[str, list[Output]] = defaultdict(list)
        for kind in ("reservations", "movements", "availability", "levels", "orders"):
            for o in self.records[kind]:
                cause = o.cause if o.cause in wanted else placement_of(o.cause)
                if cause is not None and cause in wanted:
                    out[cause].append(o)
        return out

    def decisions(self) -> list[dict[str, Any]]:
        return [o.record for o in self.records["reservations"] if o.record is not None]

    def order_decisions(self) -> list[dict[str, Any]]:
        return [o.record for o in self.records["orders"] if o.record is not None]

    def movements(self) -> list[dict[str, Any]]:
        return [o.record for o in self.records["movements"] if o.record is not None]

    def snapshots(self) -> list[dict[str, Any]]:
        return [o.record for o in self.records["availability"] if o.record is not None]

    def close(self) -> None:
        for consumer in (self.consumer, self.probe):
            try:
                consumer.close()
            except Exception:  # already closed or never connected
                pass
