"""The Redis projector: availability records -> the read model, batch by batch.

One loop: consume up to ``batch_size`` records, write them to Redis in one pipeline round trip
(each behind the version guard), then commit their offsets. Offsets are committed only after
Redis acknowledged the writes, so a crash replays at most the last batch, which the guard
turns into no-ops. Each round trip also checks that Redis is still the instance the read model
was built in; if not, the topic is replayed from the beginning (:mod:`.rebuild`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, Message, TopicPartition
from redis.exceptions import RedisError

from stocksignal.adapters import kafka_io
from stocksignal.adapters.channel_levels import ChannelFeed
from stocksignal.adapters.keys import Keys
from stocksignal.adapters.projector_metrics import ProjectorMetrics
from stocksignal.adapters.read_model import ReadModelWriter, RedisView
from stocksignal.adapters.rebuild import claim_rebuild, finish_partition, read_meta, rebuild_reason
from stocksignal.adapters.snapshot import Snapshot, snapshot_of
from stocksignal.contract import CodecError

log = logging.getLogger(__name__)
RECORD = "AvailabilityChanged"


class Projector:
    def __init__(
        self,
        consumer: Any,
        redis: Any,
        codec: Any,
        topic: str,
        keys: Keys,
        metrics: ProjectorMetrics,
        batch_size: int = 500,
        batch_wait_s: float = 0.05,
        idle_check_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        channels: ChannelFeed | None = None,
    ) -> None:
        self.consumer = consumer
        # The channels' low-stock thresholds, for the levels stored beside each available
        # (channel_levels.py); None: every threshold 0 (levels OUT_OF_STOCK / IN_STOCK only).
        self.channels = channels
        self.redis = redis
        self.codec = codec
        self.topic = topic
        self.keys = keys
        self.metrics = metrics
        self.writer = ReadModelWriter(redis, keys)
        self.batch_size = batch_size
        self.batch_wait_s = batch_wait_s
        self.idle_check_s = idle_check_s
        self.clock = clock
        self.assigned: set[int] = set()
        # partition -> rebuild generation this process already sent it back to the start for
        self.replaying: dict[int, str] = {}
        # Replaying partitions that delivered a record since their seek. A seek is asynchronous:
        # until the first record arrives, position() may still report the offset before it.
        self.replay_started: set[int] = set()
        self.pending: list[Message] = []  # consumed, not yet in Redis (kept across Redis errors)
        self.next_check = 0.0
        self.retry_s = 0.1

    # --- lifecycle -----------------------------------------------------------------------

    def run(self, should_stop: Callable[[], bool]) -> None:
        if self.channels is not None:
            self.channels.start()  # the thresholds configured now, before the first snapshot
        self.consumer.subscribe(
            [self.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        try:
            while not should_stop():
                self.step_safely()
        finally:
            self.consumer.close()  # leaves the group at once: the partitions move without delay
            if self.channels is not None:
                self.channels.close()

    def step_safely(self) -> None:
        try:
            self.step()
            self.retry_s = 0.1
        except RedisError as exc:
            self.metrics.redis_errors.inc()
            log.warning(
                "Redis failed (%s); retrying in %.1fs with the batch kept", exc, self.retry_s
            )
            self._back_off()
        except KafkaException as exc:
            if not kafka_io.is_transient(exc):
                raise
            # e.g. a new topic whose leaders are still being elected: the batch is kept.
            log.warning("Kafka not ready (%s); retrying in %.1fs", exc, self.retry_s)
            self._back_off()

    def _back_off(self) -> None:
        # Poll with fetching paused: keeps the group membership and serves rebalances (which may
        # take partitions, and their pending records, away) without taking more records.
        assignment = self.consumer.assignment()
        self.consumer.pause(assignment)
        self.consumer.poll(self.retry_s)
        self.consumer.resume(self.consumer.assignment())
        self.retry_s = min(self.retry_s * 2, 5.0)

    # --- one step --------------------------------------------------------------------------

    def step(self) -> None:
        if self.channels is not None:
            self.channels.poll()
        if not self.pending:
            self.pending = self._usable(self.consumer.consume(self.batch_size, self.batch_wait_s))
        if not self.pending:
            self._idle()
            return
        started = self.clock()
        messages = self.pending
        result = self.writer.write(self._snapshots(messages))
        self.pending = []
        self.metrics.writes.inc(result.written)
        self.metrics.stale.inc(result.stale)
        self.replay_started |= {m.partition() for m in messages if m.partition() in self.replaying}
        restarted = rebuild_reason(result.view.meta, result.view.run_id) is not None
        sent_back = self._reconcile(result.view)
        if not restarted:  # after a restart the writes may have landed in an emptied Redis
            offsets = kafka_io.next_offsets(messages)
            kafka_io.commit(
                self.consumer, self.topic, {p: o for p, o in offsets.items() if p not in sent_back}
            )
        self.metrics.batch_seconds.observe(self.clock() - started)
        self._update_lag()

    def _idle(self) -> None:
        if self.clock() < self.next_check:
            return
        self.next_check = self.clock() + self.idle_check_s
        self._reconcile(self.writer.look())
        self._update_lag()

    def _usable(self, messages: Iterable[Message]) -> list[Message]:
        usable = []
        for message in messages:
            error = message.error()
            if error is None:
                usable.append(message)
            elif error.fatal():
                raise KafkaException(error)
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error: %s", error)
        return usable

    def _snapshots(self, messages: Iterable[Message]) -> list[Snapshot]:
        snapshots = []
        for message in messages:
            if message.value() is None:
                # The processor never deletes a SKU; a tombstone carries no version to guard.
                self._skip("tombstone", message)
                continue
            try:
                name, record = self.codec.decode(message.value())
            except CodecError as exc:
                self._skip("undecodable", message, exc)
                continue
            if name != RECORD:
                self._skip("unexpected_record", message, name)
                continue
            if self.channels is None:
                snapshots.append(snapshot_of(record))
            else:
                snapshots.append(snapshot_of(record, self.channels.thresholds.of))
        return snapshots

    def _skip(self, reason: str, message: Message, detail: object = "") -> None:
        self.metrics.skipped.labels(reason).inc()
        log.warning(
            "skipped %s record at %s[%d]@%d %s",
            reason,
            message.topic(),
            message.partition(),
            message.offset(),
            detail,
        )

    # --- rebuilds --------------------------------------------------------------------------

    def _reconcile(self, view: RedisView) -> set[int]:
        """Start or join a rebuild if Redis needs one; returns the partitions sent back."""
        meta = view.meta
        reason = rebuild_reason(meta, view.run_id)
        if reason is not None:
            ends = kafka_io.end_offsets(self.consumer, self.topic)
            if claim_rebuild(self.redis, self.keys, view.run_id, ends):
                self.metrics.rebuilds.labels(reason).inc()
                log.warning(
                    "Redis is %s: rebuilding the read model from the start of %s",
                    reason,
                    self.topic,
                )
            meta = read_meta(self.redis, self.keys)
        sent_back: set[int] = set()
        for partition in sorted(self.assigned):
            target = meta.rebuilding.get(partition)
            if target is None:
                self._forget_replay(partition)
            elif self.replaying.get(partition) != meta.generation:
                if not self._rewind(partition):
                    continue
                self.replaying[partition] = meta.generation or ""
                self.replay_started.discard(partition)
                sent_back.add(partition)
            elif partition in self.replay_started and self._position(partition) >= target:
                finish_partition(self.redis, self.keys, meta.generation or "", partition)
                self._forget_replay(partition)
                log.info("partition %d rebuilt up to offset %d", partition, target)
        self.metrics.rebuilding.set(len(self.replaying))
        if sent_back:
            self.pending = [m for m in self.pending if m.partition() not in sent_back]
        return sent_back

    def _rewind(self, partition: int) -> bool:
        """Seek ``partition`` to its beginning; False when it cannot be sought yet.

        librdkafka refuses a seek (_STATE) on a partition assigned a moment ago whose fetching
        has not started; a slow connection (a TLS handshake) makes that likely right at start.
        The next check (soon: next_check is reset) tries again.
        """
        try:
            self.consumer.seek(TopicPartition(self.topic, partition, OFFSET_BEGINNING))
        except KafkaException as exc:
            if not exc.args or exc.args[0].code() != KafkaError._STATE:
                raise
            log.debug("partition %d cannot be sought yet (%s); trying again", partition, exc)
            self.next_check = 0.0
            return False
        return True

    def _forget_replay(self, partition: int) -> None:
        self.replaying.pop(partition, None)
        self.replay_started.discard(partition)

    def _position(self, partition: int) -> int:
        return self.consumer.position([TopicPartition(self.topic, partition)])[0].offset

    # --- group membership ------------------------------------------------------------------

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.assigned.add(tp.partition)
            self._forget_replay(tp.partition)  # a new owner replays a marked partition anew
        self.next_check = 0.0

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        gone = {tp.partition for tp in partitions}
        self.assigned -= gone
        for partition in gone:
            self._forget_replay(partition)
        self.pending = [m for m in self.pending if m.partition() not in gone]

    def _update_lag(self) -> None:
        parts = [TopicPartition(self.topic, p) for p in sorted(self.assigned)]
        for partition, records in kafka_io.lag(self.consumer, parts).items():
            self.metrics.lag.labels(str(partition)).set(records)
