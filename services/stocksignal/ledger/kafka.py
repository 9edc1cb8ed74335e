"""Reading one partition of a topic between two log times, as committed.

The processor writes its outputs and commands in Kafka transactions, so a reader:

- reads ``read_committed`` (an aborted transaction's records are never seen);
- knows it reached a partition's end from the consumer's *position* or PARTITION_EOF, never
  from "last record offset = high watermark - 1" (a transaction marker follows the last record);
- finds where a time begins with ``offsets_for_times``. Record timestamps are the writers'
  clocks (CreateTime) and are not strictly ordered across writers, so a range starts and ends
  :data:`CLOCK_SKEW_MS` wider than asked and every record is filtered by its own timestamp.

No consumer group is joined and nothing is committed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from stocksignal import bootstrap
from stocksignal.settings import Settings

CLOCK_SKEW_MS = 60_000
READ_TIMEOUT_S = 120.0


class LedgerUnavailable(Exception):
    """Kafka did not answer, or the topic is not there; the message says which."""


@dataclass(frozen=True)
class Span:
    """A partition's readable offsets; when retention has deleted its start (``low > 0``), the
    time of its first record (else None: it holds everything ever written)."""

    low: int
    high: int
    first_at: int | None


@dataclass(frozen=True)
class Record:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


class PartitionReader:
    """Reads ranges of partitions, outside any consumer group.

    Each :meth:`read` has a consumer of its own: one consumer reused across reads could hand a
    read an end-of-partition event or records fetched for the read before it."""

    def __init__(self, settings: Settings, timeout: float = 10.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self.consumer = self._consumer()  # metadata, watermarks and time lookups only

    def _consumer(self):
        return bootstrap.make_consumer(
            self.settings,
            f"stocksignal-ledger-reader-{uuid.uuid4().hex[:12]}",
            **{
                "enable.partition.eof": True,
                "isolation.level": "read_committed",
                # Short reads that end at a partition's end: don't long-poll there.
                "fetch.wait.max.ms": 100,
            },
        )

    def partitions(self, topic: str) -> list[int]:
        from confluent_kafka import KafkaException

        try:
            metadata = self.consumer.list_topics(topic, timeout=self.timeout).topics.get(topic)
        except KafkaException as exc:
            raise LedgerUnavailable(f"Kafka does not answer: {exc}") from None
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise LedgerUnavailable(f"topic {topic} does not exist")
        return sorted(metadata.partitions)

    def span(self, topic: str, partition: int) -> Span:
        from confluent_kafka import KafkaException, TopicPartition

        try:
            low, high = self.consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=self.timeout
            )
        except KafkaException as exc:
            raise LedgerUnavailable(
                f"cannot read the offsets of {topic}[{partition}]: {exc}"
            ) from None
        first_at = None
        if low > 0 and high > low:
            records = self.read(topic, partition, low, high)
            try:
                first = next(records, None)
            finally:
                records.close()
            first_at = first.timestamp if first is not None else None
        return Span(low, high, first_at)

    def offset_at(self, topic: str, partition: int, at_ms: int) -> int | None:
        """The first offset whose record timestamp is >= ``at_ms``; None: no such record yet."""
        from confluent_kafka import KafkaException, TopicPartition

        try:
            (tp,) = self.consumer.offsets_for_times(
                [TopicPartition(topic, partition, max(0, at_ms))], timeout=self.timeout
            )
        except KafkaException as exc:
            raise LedgerUnavailable(
                f"cannot look up a time in {topic}[{partition}]: {exc}"
            ) from None
        return None if tp.offset < 0 else tp.offset

    def read(
        self,
        topic: str,
        partition: int,
        start: int,
        stop: int | None = None,
        key: bytes | None = None,
        timeout: float = READ_TIMEOUT_S,
    ) -> Iterator[Record]:
        """Records from offset ``start`` up to (not including) ``stop``, or to the end it has now
        (its position passing the end, or PARTITION_EOF: never the last record's offset);
        with ``key``, only the records of that key."""
        from confluent_kafka import KafkaError, TopicPartition

        if stop is None:
            stop = self.span(topic, partition).high
        if start >= stop:
            return
        consumer = self._consumer()
        tp = TopicPartition(topic, partition, start)
        consumer.assign([tp])
        deadline = time.monotonic() + timeout
        try:
            while True:
                if time.monotonic() > deadline:
                    raise LedgerUnavailable(
                        f"reading {topic}[{partition}] did not end within {timeout:.0f}s"
                    )
                for msg in consumer.consume(500, 0.5):
                    if msg.error() is not None:
                        if msg.error().code() == KafkaError._PARTITION_EOF:
                            return
                        raise LedgerUnavailable(f"reading {topic}[{partition}]: {msg.error()}")
                    if msg.offset() >= stop:
                        return
                    if key is not None and msg.key() != key:
                        continue
                    yield Record(msg.offset(), msg.timestamp()[1], msg.key(), msg.value())
                if _position(consumer, tp) >= stop:
                    return  # what is left before ``stop`` are transaction markers
        finally:
            _close(consumer)

    def range(
        self,
        topic: str,
        partition: int,
        since_ms: int | None,
        until_ms: int | None,
        key: bytes | None = None,
    ) -> Iterator[Record]:
        """Records that may have timestamps in ``(since_ms, until_ms]`` (None: open), widened by
        the clock skew; the caller filters by timestamp."""
        start = (
            None if since_ms is None else self.offset_at(topic, partition, since_ms - CLOCK_SKEW_MS)
        )
        if since_ms is not None and start is None:
            return iter(())  # nothing logged since
        stop = (
            None if until_ms is None else self.offset_at(topic, partition, until_ms + CLOCK_SKEW_MS)
        )
        return self.read(
            topic,
            partition,
            start if start is not None else self.span(topic, partition).low,
            stop,
            key,
        )

    def close(self) -> None:
        _close(self.consumer)

    def __enter__(self) -> PartitionReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _position(consumer: Any, tp: Any) -> int:
    from confluent_kafka import TopicPartition

    (pos,) = consumer.position([TopicPartition(tp.topic, tp.partition)])
    return pos.offset


def _close(consumer: Any) -> None:
    try:
        consumer.close()
    except Exception:  # a consumer that never connected has nothing to close
        pass


def committed_offsets(
    settings: Settings, group: str, topic: str, partitions: list[int], timeout: float = 10.0
) -> dict[int, int]:
    """partition -> the group's committed offset (0 where it committed none): what the
    processor has applied, since it commits its consumed offsets in the same transaction."""
    from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition

    admin = bootstrap.make_admin(settings)
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in partitions])
    try:
        (future,) = admin.list_consumer_group_offsets([request], request_timeout=timeout).values()
        answer = future.result(timeout)
    except KafkaException as exc:
        raise LedgerUnavailable(
            f"cannot read the committed offsets of group {group}: {exc}"
        ) from None
    return {tp.partition: max(0, tp.offset) for tp in answer.topic_partitions}
