"""Produce a batch's records through librdkafka and acknowledge its input events once they landed.

Faust's own producer path costs ~100 µs a record in Python; librdkafka costs a few. So every
record the processor writes (commands, outputs, DLQ, table changelogs) goes through one
idempotent confluent-kafka producer, and the input events that caused them are acknowledged
to Faust only once all of them are delivered. Faust commits acknowledged offsets only, so a
committed offset always means "everything these events wrote is in Kafka".

A :class:`Ticket` collects the records of one batch of input events and produces them when
sealed. Every record has an explicit partition, and only the *last* record of the batch on
each (topic, partition) carries a delivery callback: librdkafka reports deliveries in produce
order per partition, and the producer runs with ``enable.gapless.guarantee`` and no message
timeout, so an earlier record on that partition can only fail by raising a fatal error
(which stops the worker). One report per partition instead of one per record keeps the
Python work per record near zero.

Per input partition we also keep which offsets still have records in flight: the *low
watermark* tells the applier which outbox entries are certainly delivered (see applier.py).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes | None]]
Source = tuple[str, int, int]  # (topic, partition, offset) of an input event

# Settings the processor's producer must run with for the per-partition reports to be sound.
PRODUCER_GUARANTEES = {
    "enable.idempotence": True,
    "enable.gapless.guarantee": True,
    "acks": "all",
    # 0 = never time out: a timed-out record is the one failure gapless mode lets through.
    "message.timeout.ms": 0,
    # The worker reads its own command and changelog records back: compressing them costs
    # CPU on both sides of a loopback/LAN hop for little gain.
    "compression.type": "none",
}


@dataclass(slots=True)
class Record:
    """One record to produce, to an explicit partition."""

    topic: str
    partition: int
    key: bytes | None
    value: bytes | None
    headers: Headers | None = None


class DeliveryFailed(RuntimeError):
    """The producer could not deliver a record: processing must stop and resume from Kafka."""


class Ticket:
    """The records some input events produced; fires ``on_done`` when all of them landed."""

    __slots__ = ("tracker", "sources", "on_done", "records", "occurred", "parts", "sealed", "done")

    def __init__(self, tracker: "DeliveryTracker", sources: list[Source], on_done: Callable[[], None] | None):
        self.tracker = tracker
        self.sources = sources
        self.on_done = on_done
        self.records: list[Record] = []
        self.occurred: list[int] = []  # occurred_at of availability records (latency metric)
        self.parts = 0
        self.sealed = False
        self.done = False

    def add(self, record: Record) -> None:
        self.records.append(record)

    def seal(self) -> None:
        """Produce every record; complete when each partition's last record is delivered."""
        records, self.records = self.records, []
        last: dict[tuple[str, int], int] = {}
        for i, r in enumerate(records):
            last[(r.topic, r.partition)] = i
        self.parts = len(last)
        self.sealed = True
        produce = self.tracker._produce
        for i, r in enumerate(records):
            produce(r, self._delivered if last[(r.topic, r.partition)] == i else None)
        self._maybe_done()

    def _delivered(self, err, msg) -> None:
        if err is not None:
            self.tracker._fail(DeliveryFailed(f"record to {msg.topic()} [{msg.partition()}] not delivered: {err}"))
            return
        self.tracker._delivered(msg)
        self.parts -= 1
        self._maybe_done()

    def _maybe_done(self) -> None:
        if self.sealed and self.parts == 0 and not self.done:
            self.done = True
            self.tracker._ticket_done(self)
            if self.on_done is not None:
                self.on_done()


@dataclass
class _Inflight:
    """Offsets of one input partition that still have records in flight (a lazy min-heap)."""

    heap: list[int] = field(default_factory=list)
    counts: dict[int, int] = field(default_factory=dict)

    def add(self, offset: int) -> None:
        if offset not in self.counts:
            heapq.heappush(self.heap, offset)
            self.counts[offset] = 0
        self.counts[offset] += 1

    def remove(self, offset: int) -> None:
        left = self.counts.get(offset, 0) - 1
        if left > 0:
            self.counts[offset] = left
        else:
            self.counts.pop(offset, None)

    def low(self) -> int | None:
        while self.heap and self.heap[0] not in self.counts:
            heapq.heappop(self.heap)
        return self.heap[0] if self.heap else None


class DeliveryTracker:
    def __init__(self, producer, on_failure: Callable[[Exception], None] | None = None) -> None:
        self._producer = producer
        self._on_failure = on_failure
        self._inflight: dict[tuple[str, int], _Inflight] = {}
        # Per topic: called with (partition, offset) of each reported record delivered there.
        self._listeners: dict[str, Callable[[int, int], None]] = {}
        self._on_done: list[Callable[[Ticket], None]] = []
        self.failure: Exception | None = None

    # --- tickets ---------------------------------------------------------------------------

    def ticket(self, sources: Iterable[Source] = (), on_done: Callable[[], None] | None = None) -> Ticket:
        sources = list(sources)
        for topic, partition, offset in sources:
            inflight = self._inflight.get((topic, partition))
            if inflight is None:
                inflight = self._inflight[(topic, partition)] = _Inflight()
            inflight.add(offset)
        return Ticket(self, sources, on_done)

    def send_now(self, record: Record) -> None:
        """Produce one record on its own ticket (timers: nothing to acknowledge)."""
        t = self.ticket()
        t.add(record)
        t.seal()

    def listen(self, topic: str, fn: Callable[[int, int], None]) -> None:
        """Call ``fn(partition, offset)`` for reported deliveries to ``topic`` (the last
        record of a batch on each partition: the highest offset delivered there)."""
        self._listeners[topic] = fn

    def on_ticket_done(self, fn: Callable[[Ticket], None]) -> None:
        self._on_done.append(fn)

    # --- producing -------------------------------------------------------------------------

    def _produce(self, r: Record, callback) -> None:
        if self.failure is not None:
            raise DeliveryFailed(f"an earlier record failed: {self.failure}") from self.failure
        produce = self._producer.produce
        while True:
            try:
                if callback is None:
                    produce(r.topic, r.value, r.key, r.partition, headers=r.headers)
                else:
                    produce(r.topic, r.value, r.key, r.partition, headers=r.headers, on_delivery=callback)
                break
            except BufferError:
                # librdkafka's queue is full: serve callbacks until there is room.
                self._producer.poll(0.05)

    def _delivered(self, msg) -> None:
        fn = self._listeners.get(msg.topic())
        if fn is not None:
            fn(msg.partition(), msg.offset())

    def on_error(self, err) -> None:
        """librdkafka's error callback: fatal errors stop the worker, others are logged."""
        if err.fatal():
            self._fail(DeliveryFailed(f"fatal producer error: {err}"))
        else:
            log.warning("producer: %s", err)

    def _fail(self, exc: Exception) -> None:
        # Never acknowledge anything after a failure: the events stay uncommitted and are
        # processed again after the restart that the failure handler triggers.
        if self.failure is None:
            self.failure = exc
            log.error("%s", exc)
            if self._on_failure is not None:
                self._on_failure(exc)

    def _ticket_done(self, ticket: Ticket) -> None:
        for topic, partition, offset in ticket.sources:
            inflight = self._inflight.get((topic, partition))
            if inflight is not None:  # None: the partition was revoked meanwhile
                inflight.remove(offset)
        for fn in self._on_done:
            fn(ticket)

    # --- watermarks ------------------------------------------------------------------------

    def low_watermark(self, topic: str, partition: int) -> int | None:
        """Lowest offset of this partition with records still in flight (None: nothing)."""
        inflight = self._inflight.get((topic, partition))
        return inflight.low() if inflight else None

    def forget(self, topic: str, partition: int) -> None:
        """Drop in-flight bookkeeping of a revoked partition (its events will be replayed)."""
        self._inflight.pop((topic, partition), None)

    # --- serving callbacks -----------------------------------------------------------------

    def poll(self) -> int:
        return self._producer.poll(0)

    async def serve(self, interval: float = 0.002) -> None:
        """Serve delivery callbacks on the event loop thread, forever."""
        while True:
            self._producer.poll(0)
            await asyncio.sleep(interval)
