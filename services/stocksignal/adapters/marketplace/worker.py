"""The sync worker: Kafka -> coalescer -> rate-limited, retried HTTP pushes -> acked store.

Two halves share one event loop's state. A thread runs the Kafka consumer (confluent-kafka
blocks) and hands each batch of records to the loop; the loop's sender task takes batches out
of the coalescer and pushes them. Everything that mutates the coalescer or the offset tracker
runs on the loop, so neither needs a lock. Offsets are committed (by the Kafka thread, which
owns the consumer) up to the lowest record not yet resolved.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition
from redis.exceptions import RedisError

from stocksignal.adapters import kafka_io
from stocksignal.adapters.marketplace.acked_store import AckedStore
from stocksignal.adapters.marketplace.backoff import Backoff
from stocksignal.adapters.marketplace.client import MarketplaceClient, Outcome, PushResult, describe
from stocksignal.adapters.marketplace.coalescer import Change, Coalescer
from stocksignal.adapters.marketplace.dead_letters import (
    REJECTED,
    RETRIES_EXHAUSTED,
    DeadLetterError,
    DeadLetters,
)
from stocksignal.adapters.marketplace.metrics import SyncMetrics
from stocksignal.adapters.marketplace.offsets import OffsetTracker
from stocksignal.adapters.marketplace.payload import build_payload, encode
from stocksignal.adapters.marketplace.records import ChannelChange, channel_change, level_change
from stocksignal.adapters.marketplace.token_bucket import TokenBucket
from stocksignal.contract import CodecError

log = logging.getLogger(__name__)
T = TypeVar("T")
RECORD = "AvailabilityChanged"
LEVEL_RECORD = "StockLevelChanged"
HANDOVER_TIMEOUT_S = 60.0


class MarketplaceRefused(RuntimeError):
    """The marketplace refuses the worker itself (401/403/407): fix the configuration."""


@dataclass(frozen=True)
class SyncConfig:
    channel_id: str
    topic: str
    batch_size: int
    linger_s: float
    max_attempts: int  # 0: retry transient failures without limit
    max_pending: int
    consume_batch: int = 500
    poll_s: float = 0.1
    # "every-change": AvailabilityChanged records; "levels": StockLevelChanged records
    # (STOCKSIGNAL_MARKETPLACE_PUSH, docs/adapters.md#marketplace-sync).
    push: str = "every-change"


class SyncWorker:
    def __init__(
        self,
        config: SyncConfig,
        consumer: Any,
        codec: Any,
        acked: AckedStore,
        client: MarketplaceClient,
        dead_letters: DeadLetters,
        bucket: TokenBucket,
        backoff: Backoff,
        metrics: SyncMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.consumer = consumer
        self.codec = codec
        self.acked = acked
        self.client = client
        self.dead_letters = dead_letters
        self.bucket = bucket
        self.backoff = backoff
        self.metrics = metrics
        self.clock = clock
        self.coalescer = Coalescer(config.batch_size, config.linger_s)
        self.tracker = OffsetTracker()
        self.bisected: deque[list[Change]] = deque()  # halves of refused batches, still in flight
        self.failures = 0  # consecutive transient failures: the backoff exponent
        self.wakeup = asyncio.Event()
        self.stopping = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        # Kafka-thread state
        self.held: list[Message] = []
        self.committed: dict[int, int] = {}
        self.paused = False

    # --- lifecycle -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set (or a part fails); commits what is resolved on the way out."""
        self.loop = asyncio.get_running_loop()
        kafka_stop = threading.Event()
        kafka = asyncio.ensure_future(asyncio.to_thread(self._kafka_thread, kafka_stop))
        sender = asyncio.create_task(self._send_loop())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({kafka, sender, stopper}, return_when=asyncio.FIRST_COMPLETED)
        self.stopping.set()
        self.wakeup.set()
        await asyncio.wait({sender})  # finishes the request in flight, skips any retry wait
        kafka_stop.set()
        await asyncio.wait({kafka})
        stopper.cancel()
        for task in (sender, kafka):
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(HANDOVER_TIMEOUT_S)

    # --- the Kafka thread ----------------------------------------------------------------------

    def _kafka_thread(self, stop: threading.Event) -> None:
        self.consumer.subscribe(
            [self.config.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        retry_s = 0.1
        try:
            while not stop.is_set():
                if not self.held:
                    self.held = self._next_records()
                if self.held:
                    try:
                        self._on_loop(self._ingest(self.held))
                        self.held = []
                        retry_s = 0.1
                        if self.paused:
                            self.consumer.resume(self.consumer.assignment())
                            self.paused = False
                    except RedisError as exc:
                        log.warning("Redis failed reading acknowledged values (%s); retrying", exc)
                        self._idle_poll(retry_s)
                        retry_s = min(retry_s * 2, 5.0)
                self._commit()
                self._update_lag()
        finally:
            self._commit()
            self.consumer.close()

    def _next_records(self) -> list[Message]:
        if self._on_loop(self._overloaded()):
            self._idle_poll(self.config.poll_s)
            return []
        if self.paused:
            self.consumer.resume(self.consumer.assignment())
            self.paused = False
        return self._usable(self.consumer.consume(self.config.consume_batch, self.config.poll_s))

    def _idle_poll(self, seconds: float) -> None:
        # Fetching paused: keeps the membership alive and serves rebalances, takes no records.
        self.consumer.pause(self.consumer.assignment())
        self.paused = True
        message = self.consumer.poll(seconds)
        if message is not None:
            self.held += self._usable([message])

    @staticmethod
    def _usable(messages: Sequence[Message]) -> list[Message]:
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

    def _commit(self) -> None:
        offsets = self._on_loop(self._committable())
        changed = {p: o for p, o in offsets.items() if self.committed.get(p) != o}
        if changed and kafka_io.commit(self.consumer, self.config.topic, changed):
            self.committed.update(changed)

    def _update_lag(self) -> None:
        for partition, records in kafka_io.lag(self.consumer, self.consumer.assignment()).items():
            self.metrics.lag.labels(self.config.channel_id, str(partition)).set(records)

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.committed.pop(tp.partition, None)

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        gone = {tp.partition for tp in partitions}
        self._commit()  # hand over everything resolved so far
        self._on_loop(self._forget(gone))
        self.held = [m for m in self.held if m.partition() not in gone]
        for partition in gone:
            self.committed.pop(partition, None)

    # --- loop-side state (called from the Kafka thread through _on_loop) -----------------------

    async def _overloaded(self) -> bool:
        return self.coalescer.waiting >= self.config.max_pending

    async def _committable(self) -> dict[int, int]:
        self.metrics.unresolved.labels(self.config.channel_id).set(self.tracker.unresolved())
        return self.tracker.committable()

    async def _forget(self, partitions: set[int]) -> None:
        self.coalescer.drop_partitions(partitions)
        self.tracker.forget(partitions)

    async def _ingest(self, messages: Sequence[Message]) -> None:
        changes = [self._decode(m) for m in messages]
        # The one await: a Redis failure here leaves nothing half-ingested.
        acked = await self.acked.load(list(dict.fromkeys(c.sku for c in changes if c is not None)))
        now = self.clock()
        for message, change in zip(messages, changes):
            position = (message.partition(), message.offset())
            self.tracker.seen(*position)
            if change is None:
                self.tracker.resolve([position])
                continue
            resolved = self.coalescer.offer(
                change.sku,
                change.available,
                change.version,
                change.withdrawn,
                position,
                acked[change.sku],
                now,
            )
            if resolved:
                self.metrics.stale.labels(self.config.channel_id).inc()
                self.tracker.resolve(resolved)
        self._update_gauges()
        self.wakeup.set()

    def _decode(self, message: Message) -> ChannelChange | None:
        if message.value() is None:
            return self._skip("tombstone", message)
        try:
            name, record = self.codec.decode(message.value())
        except CodecError as exc:
            return self._skip("undecodable", message, exc)
        if self.config.push == "levels":
            if name != LEVEL_RECORD:
                return self._skip("unexpected_record", message, name)
            return level_change(record, self.config.channel_id)  # None: another channel's, resolved
        if name != RECORD:
            return self._skip("unexpected_record", message, name)
        return channel_change(record, self.config.channel_id)

    def _skip(self, reason: str, message: Message, detail: object = "") -> None:
        self.metrics.skipped.labels(self.config.channel_id, reason).inc()
        log.warning(
            "skipped %s record at %s[%d]@%d %s",
            reason,
            message.topic(),
            message.partition(),
            message.offset(),
            detail,
        )
        return None

    # --- the sender ----------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while not self.stopping.is_set():
            batch = await self._next_batch()
            if batch:
                await self._push(batch)

    async def _next_batch(self) -> list[Change]:
        while not self.stopping.is_set():
            if self.bisected:
                return self.bisected.popleft()
            taken = self.coalescer.take(self.clock())
            if taken.unchanged:
                self.metrics.unchanged.labels(self.config.channel_id).inc(len(taken.unchanged))
                self.tracker.resolve(p for c in taken.unchanged for p in c.positions)
            if taken.batch:
                self._update_gauges()
                return taken.batch
            self.wakeup.clear()
            wait = self.coalescer.ready_in(self.clock())
            if wait is None or wait > 0:
                await self._pause(self.wakeup, wait)
        return []

    async def _push(self, batch: list[Change]) -> None:
        await self.bucket.take()
        payload = build_payload(
            self.config.channel_id, [c.update for c in batch], int(time.time() * 1000)
        )
        started = self.clock()
        result = await self.client.push(encode(payload), payload["batch_id"])
        self.metrics.request_seconds.labels(self.config.channel_id).observe(self.clock() - started)
        self.metrics.requests.labels(self.config.channel_id, result.outcome.value).inc()
        if result.outcome is Outcome.OK:
            self.failures = 0
            await self._acknowledged(batch)
        elif result.outcome is Outcome.TRANSIENT:
            await self._retry_later(batch, result)
        elif result.outcome is Outcome.TLS:
            await self._tls_failed(batch, result)
        elif result.outcome is Outcome.PERMANENT:
            await self._refused(batch, result)
        else:
            raise MarketplaceRefused(
                f"the marketplace refuses this worker ({describe(result)}); check its credentials"
            )

    async def _acknowledged(self, batch: list[Change]) -> None:
        if not await self._until_done(
            lambda: self.acked.remember([c.update for c in batch]), "remembering acks"
        ):
            return  # stopping with Redis down: unresolved, so pushed again after the restart
        self.tracker.resolve(self.coalescer.complete(batch))
        self.metrics.pushed.labels(self.config.channel_id).inc(len(batch))
        self._update_gauges()

    async def _retry_later(self, batch: list[Change], result: PushResult) -> None:
        limit = self.config.max_attempts
        exhausted = [c for c in batch if limit and c.attempts + 1 >= limit]
        if exhausted:
            await self._dead_letter(exhausted, RETRIES_EXHAUSTED, result)
        dead = {id(c) for c in exhausted}
        self.coalescer.release([c for c in batch if id(c) not in dead])
        delay = (
            result.retry_after_s
            if result.retry_after_s is not None
            else self.backoff.delay(self.failures)
        )
        self.failures += 1
        log.info(
            "push of %d updates failed (%s); next try in %.2fs", len(batch), describe(result), delay
        )
        self.metrics.retry_wait.labels(self.config.channel_id).inc(delay)
        await self._pause(self.stopping, delay)

    async def _tls_failed(self, batch: list[Change], result: PushResult) -> None:
        """A certificate that does not verify: an error, counted, and tried again after the
        longest backoff (fixing the CA bundle or the marketplace's certificate needs a person,
        so there is no point in trying faster, and no reason to drop the updates)."""
        self.metrics.tls_failures.labels(self.config.channel_id).inc()
        log.error(
            "push of %d updates failed: %s; check the marketplace's certificate and %s; next try in %.0fs",
            len(batch),
            result.detail,
            "STOCKSIGNAL_MARKETPLACE_CA_BUNDLE",
            self.backoff.cap,
        )
        self.coalescer.release(batch)
        self.metrics.retry_wait.labels(self.config.channel_id).inc(self.backoff.cap)
        await self._pause(self.stopping, self.backoff.cap)

    async def _refused(self, batch: list[Change], result: PushResult) -> None:
        if len(batch) > 1:
            # Find the updates the marketplace refuses on their own, not their neighbours.
            half = len(batch) // 2
            self.bisected.extendleft([batch[half:], batch[:half]])
            return
        log.warning("marketplace refused %s (%s): dead-lettered", batch[0].sku, describe(result))
        await self._dead_letter(batch, REJECTED, result)

    async def _dead_letter(self, changes: list[Change], reason: str, result: PushResult) -> None:
        updates = [c.update for c in changes]

        async def send() -> None:
            await asyncio.to_thread(
                self.dead_letters.send, updates, reason, result.status, describe(result)
            )

        if not await self._until_done(send, "dead-lettering"):
            return
        self.tracker.resolve(self.coalescer.dead(changes))
        self.metrics.dead.labels(self.config.channel_id, reason).inc(len(changes))

    async def _until_done(self, attempt: Callable[[], Awaitable[Any]], what: str) -> bool:
        """Retry ``attempt`` on Redis/Kafka errors until it works (True) or the worker stops."""
        tries = 0
        while True:
            try:
                await attempt()
                return True
            except (RedisError, DeadLetterError, KafkaException) as exc:
                if self.stopping.is_set():
                    log.warning("%s failed while stopping (%s): left unresolved", what, exc)
                    return False
                delay = self.backoff.delay(tries)
                tries += 1
                log.warning("%s failed (%s); retrying in %.2fs", what, exc, delay)
                await self._pause(self.stopping, delay)

    @staticmethod
    async def _pause(event: asyncio.Event, seconds: float | None) -> None:
        """Wait ``seconds`` (forever if None) or until ``event`` is set, whichever comes first."""
        try:
            await asyncio.wait_for(event.wait(), timeout=seconds)
        except TimeoutError:
            pass

    def _update_gauges(self) -> None:
        self.metrics.pending.labels(self.config.channel_id).set(self.coalescer.waiting)
        self.metrics.pending_priority.labels(self.config.channel_id).set(
            self.coalescer.waiting_priority
        )
