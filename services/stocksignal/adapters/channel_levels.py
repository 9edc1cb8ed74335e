"""The channels' low-stock thresholds, for the projector's stock levels (docs/adapters.md#the-redis-read-model).

The read model stores each channel's level beside its available (``lv:<channel_id>``), written
in the same guarded hash write, so the two never disagree and a rebuild restores both from
the compacted availability topic. A level needs the channel's ``low_stock_threshold``, which
only the compacted channels topic carries: the projector reads it to its end before
projecting, then follows it. (The stock-level feed is not compacted: it cannot rebuild a read
model.) The level is the core's rule (``stocksignal.domain.level_of``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from stocksignal.domain import DEFAULT_CHANNEL, ValidationError, validate

log = logging.getLogger(__name__)


class Thresholds:
    """channel_id -> low_stock_threshold of the configured channels; pure, no I/O."""

    def __init__(self) -> None:
        self.configured: dict[str, int] = {}

    def apply(self, key: bytes | None, name: str | None, record: Mapping[str, Any] | None) -> None:
        """One record of the channels topic (``name``/``record`` None: a tombstone of ``key``).
        A record the processor would reject configures nothing (it goes to its DLQ)."""
        if record is None:
            if key is not None:
                self.configured.pop(key.decode(), None)
            return
        try:
            validate(name, record)
        except ValidationError:
            return
        if name == "ChannelConfigured":
            self.configured[record["channel_id"]] = record.get("low_stock_threshold", 0)
        elif name == "ChannelRemoved":
            self.configured.pop(record["channel_id"], None)

    def of(self, channel_id: str) -> int:
        """A channel that is not configured is decided (and listed) with ``default``'s rules."""
        found = self.configured.get(channel_id)
        if found is None:
            found = self.configured.get(DEFAULT_CHANNEL, 0)
        return found


class ChannelFeed:
    """Follows the channels topic with an assigned (group-less, never committing) consumer."""

    def __init__(
        self, consumer: Any, topic: str, codec: Any, thresholds: Thresholds | None = None
    ) -> None:
        self.consumer = consumer
        self.topic = topic
        self.codec = codec
        self.thresholds = thresholds or Thresholds()
        self.started = False

    def start(self, timeout_s: float = 30.0) -> None:
        """Assign every partition from its beginning and read to the end (the thresholds
        configured now), before the first snapshot is projected."""
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        partitions = (
            self.consumer.list_topics(self.topic, timeout=timeout_s).topics[self.topic].partitions
        )
        ends = {p: self._end(TopicPartition(self.topic, p), timeout_s) for p in partitions}
        self.consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
        self.started = True
        deadline = time.monotonic() + timeout_s
        position = {p: 0 for p in partitions}
        while any(position[p] < ends[p] for p in partitions) and time.monotonic() < deadline:
            for message in self._take(1000, 0.2):
                position[message.partition()] = message.offset() + 1

    def _end(self, tp, timeout_s: float) -> int:
        """The partition's end offset, asked again while the cluster says "not yet" (a new
        topic's leader being elected right after the broker started)."""
        from confluent_kafka import KafkaException

        from stocksignal.adapters import kafka_io

        deadline, pause = time.monotonic() + timeout_s, 0.1
        while True:
            try:
                return self.consumer.get_watermark_offsets(tp, timeout=timeout_s)[1]
            except KafkaException as exc:
                if not kafka_io.is_transient(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 2.0)

    def poll(self) -> None:
        """Take whatever arrived since (never waits)."""
        if self.started:
            self._take(500, 0)

    def close(self) -> None:
        self.consumer.close()

    def _take(self, n: int, timeout_s: float) -> list:
        taken = []
        for message in self.consumer.consume(n, timeout_s):
            if message.error() is not None:
                continue  # end of partition and transient errors: the next poll goes on
            taken.append(message)
            if message.value() is None:
                self.thresholds.apply(message.key(), None, None)
                continue
            try:
                name, record = self.codec.decode(message.value())
            except Exception as exc:  # noqa: BLE001 - an undecodable record configures nothing
                log.warning(
                    "channels topic: undecodable record at %d@%d: %s",
                    message.partition(),
                    message.offset(),
                    exc,
                )
                continue
            self.thresholds.apply(message.key(), name, record)
        return taken
