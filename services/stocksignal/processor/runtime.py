"""The processor's runtime: one group consumer, one transactional producer, one loop.

Every loop runs the commit protocol of docs/processor.md, in this order:

1. **Poll** the group consumer (rebalance callbacks run inside this call).
2. **Buffer** each record in its partition's task; pause a partition whose buffer is full,
   resume it when the buffer has drained to half.
3. **Restore** one slice of every partition whose store is behind its changelog.
4. **Route** buffered input records in record-timestamp order across all the worker's input
   partitions, waiting (at most ``max_task_idle_ms``) for a partition that is known to have
   records not yet fetched; commands are batched per command partition.
5. **Apply** buffered command records of each command partition, in offset order.
6. **Tick**: append an ``ExpireHolds`` command for each SKU of an owned partition whose hold
   is due, carrying the time it was decided at.
7. **Sweep** a slice of expired dedupe markers and order memory (log time).
8. **Commit**, once ``commit_interval_ms`` has passed since the transaction began (or it
   holds ``max_transaction_records``, or the worker has caught up and the transaction is
   ``commit_idle_ms`` old): produce what is left of the availability snapshots
   and changelog records (most went out as each record was applied), freeze the written
   stores' overlays, then send the consumed offsets with the group's metadata and commit
   the transaction **on a thread of its own** while the loop decides the next transaction
   (whose records wait for the producer); once done, write each store's frozen writes and
   new checkpoint locally, in one batch.

Everything a loop writes (commands, outputs, DLQ copies, changelog records) goes into one
transaction with the offsets it consumed: it all becomes visible to read_committed readers
together, or not at all. A worker that was paused past its session timeout is a zombie: its
next ``send_offsets``/``commit`` is refused by the broker (fenced) and nothing it wrote is ever
visible. On any failed commit the transaction is aborted and every task restarts from Kafka:
committed offsets, and stores restored from their checkpoints (which only committed writes
ever reach). A processing error (a bug, a corrupt command record) aborts and raises
:class:`ProcessingError`: the worker exits 70 and a restart resumes from the last commit.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from stocksignal.domain import command_to_dict, expire_holds
from stocksignal.processor import batches
from stocksignal.processor.applier import Applier, PartitionState, RecordCursor
from stocksignal.processor.batches import Batcher
from stocksignal.processor.envelope import MARKER_PREFIX, Marker
from stocksignal.processor.janitor import Janitor
from stocksignal.processor.metrics import ProcessorMetrics
from stocksignal.processor.orders import OrderMemory, touched_at
from stocksignal.processor.ports import GroupConsumer, Offsets, TxnProducer
from stocksignal.processor.publisher import Publisher
from stocksignal.processor.restore import Restorer
from stocksignal.processor.router import Router
from stocksignal.processor.store import Checkpoint, PartitionStore, StoreFactory
from stocksignal.processor.tasks import CommandTask, InputTask, Task

log = logging.getLogger(__name__)

OFFSET_BEGINNING = -2  # librdkafka's logical offset: the partition's first record


class ProcessingError(RuntimeError):
    """Deciding failed (a bug or a corrupt command record): the worker must stop (exit 70)."""


@dataclass(frozen=True)
class RuntimeConfig:
    command_topic: str
    command_partitions: int
    inputs: dict[str, str]  # real input topic name -> the contract's name
    orders_topic: str  # real name of the orders topic (its partitions keep order memory)
    stock_changelog: str
    orders_changelog: str
    command_base: str = "stocksignal.commands.v1"  # the command topic's name without the prefix
    commit_interval_ms: int = 100
    # A worker that has caught up (nothing fetched is waiting) commits once its transaction
    # is this old instead of waiting out the interval: at a steady rate below capacity the
    # interval would only add latency, twice (route, then apply).
    commit_idle_ms: int = 10
    max_transaction_records: int = 50_000
    poll_records: int = 2000
    poll_timeout_ms: int = 20
    buffered_records_per_partition: int = 2000
    max_task_idle_ms: int = 1000
    # A record is routed past an input partition that looks drained only once it has been
    # fetched this long (0: at once): what librdkafka knows of a partition's end may be a
    # moment behind its records (see _route).
    route_grace_ms: int = 0
    expiry_tick_ms: int = 250
    dedupe_window_ms: int = 7 * 24 * 3600 * 1000
    order_retention_ms: int = 30 * 24 * 3600 * 1000
    janitor_every_ms: int = 3600 * 1000
    kafka_timeout_s: float = 30.0
    # How long the worker retries Kafka calls that fail without a fatal error (a broker
    # restarting, a leader moving) before it gives up and exits.
    recovery_timeout_s: float = 120.0
    # A send_offsets or commit that does not answer within this is retried (three times),
    # then the transaction is aborted: a stuck call must not outlast max.poll.interval.ms.
    transaction_call_timeout_s: float = 10.0
    # Work per loop: keeps a loop short, so the poll, the timers and the commit interval are
    # served while a backlog drains (a command record holds up to 500 commands).
    route_records_per_loop: int = 2000
    apply_records_per_loop: int = 4

    @property
    def topics(self) -> list[str]:
        return [*self.inputs, self.command_topic]

    @property
    def base_names(self) -> dict[str, str]:
        """Real topic name -> the contract's (metrics are labelled without the prefix)."""
        return {**self.inputs, self.command_topic: self.command_base}


@dataclass
class _Txn:
    open: bool = False  # holds work
    begun: bool = False  # the producer's transaction began (its records can go out)
    started: float = 0.0
    records: int = 0
    last_changelog: dict[tuple[str, int], int] = field(default_factory=dict)
    stores: dict[int, tuple[PartitionStore, str]] = field(default_factory=dict)  # written in it
    # Records produced while the previous transaction commits: the producer takes them when
    # that commit is done.
    deferred: list[tuple] = field(default_factory=list)


@dataclass
class _Committing:
    """A transaction whose commit runs on a thread of its own."""

    txn: _Txn
    offsets: Offsets
    counts: dict
    flushed: list[int]
    started: float
    call: CommitCall | None = None


class CommitCall:
    """``fn()`` on a thread of its own: the loop goes on while the broker commits."""

    def __init__(self, fn: Callable[[], None]) -> None:
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), name="commit", daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except BaseException as exc:  # handed to the loop's thread
            self.error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, timeout_s: float) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()


class InlineCommit(CommitCall):
    """``fn()`` at once, on the calling thread (a runtime that commits synchronously)."""

    def __init__(self, fn: Callable[[], None]) -> None:
        self.error = None
        try:
            fn()
        except BaseException as exc:
            self.error = exc

    def done(self) -> bool:
        return True

    def wait(self, timeout_s: float) -> bool:
        return True


def _changelog_delivered(txn: _Txn, topic: str, partition: int):
    def delivered(err, msg) -> None:
        if err is None:
            txn.last_changelog[(topic, partition)] = msg.offset()

    return delivered


def _stuck() -> BaseException:
    from confluent_kafka import KafkaError, KafkaException

    return KafkaException(KafkaError(KafkaError._TIMED_OUT, "commit did not return", fatal=True))


class Runtime:
    def __init__(
        self,
        config: RuntimeConfig,
        consumer: GroupConsumer,
        producer: TxnProducer,
        restorer: Restorer,
        stores: StoreFactory,
        router: Router,
        applier: Applier,
        publisher: Publisher,
        metrics: ProcessorMetrics,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        start_commit: Callable[[Callable[[], None]], CommitCall] = CommitCall,
    ) -> None:
        self.config = config
        self.sleep = sleep
        self.start_commit = start_commit
        self.consumer = consumer
        self.producer = producer
        self.restorer = restorer
        self.stores = stores
        self.router = router
        self.applier = applier
        self.publisher = publisher
        self.metrics = metrics
        self.clock = clock
        self.monotonic = monotonic
        self.tasks: dict[tuple[str, int], Task] = {}
        self.inputs: list[InputTask] = []
        self._hold_until = 0.0  # routing holds fetched records until then (route_grace_ms)
        self.commands: list[CommandTask] = []
        self._open_stores: dict[tuple[str, int], PartitionStore] = {}
        # What the inspection API may read (from its own thread): ready command partitions'
        # stores, replaced as a whole whenever it changes.
        self.serving: dict[int, PartitionStore] = {}
        self._txn = _Txn()
        self._committing: _Committing | None = None
        self._producer_txn_open = False
        self._batcher = Batcher(config.command_partitions)
        self._next_tick = 0.0
        self._next_marker_check = 0.0
        self._next_lag = 0.0
        self.assigned_once = False
        # The (generation, member id) the group assigned our tasks in: every commit must
        # carry exactly these (see _commit).
        self._member: tuple[int, str] | None = None
        self.failure: BaseException | None = None
        window = config.dedupe_window_ms
        self._marker_janitor = Janitor(
            MARKER_PREFIX,
            lambda v, now: now - Marker.from_bytes(v).logged_at >= window,
            config.janitor_every_ms,
        )
        retention = config.order_retention_ms
        self._order_janitor = Janitor(
            b"", lambda v, now: now - touched_at(v) >= retention, config.janitor_every_ms
        )
        publisher.send = self._produce  # straight in: one Python call less per output record
        metrics.bind_recovery(self.restorer.remaining, self.ready)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.producer.init(self.config.kafka_timeout_s)
        self.consumer.subscribe(self.config.topics, self._on_assign, self._on_revoke, self._on_lost)

    def run(self, stop: Callable[[], bool]) -> None:
        """Loop until ``stop()``; then commit what is open and leave the group."""
        self.start()
        try:
            while not stop():
                self.step()
            self._commit(wait=True)
        finally:
            self.close()

    def close(self) -> None:
        try:
            self.consumer.close()  # leaves the group: the partitions move at once
        finally:
            for store in self._open_stores.values():
                store.close()
            self._open_stores.clear()
            self.producer.close(self.config.kafka_timeout_s)

    def ready(self) -> bool:
        return (
            self.assigned_once
            and self.failure is None
            and all(t.ready for t in self.tasks.values())
        )

    # --- one loop ----------------------------------------------------------------------------

    def step(self) -> None:
        if self._committing is not None:  # 8e of the previous commit, if it is done
            self._finish_commit(wait=False)
        timeout = self._poll_timeout()
        records = self.consumer.consume(self.config.poll_records, timeout)  # 1. poll
        self._buffer(records)  # 2. buffer
        self._flow_control()
        self._restore()  # 3. restore
        from confluent_kafka import KafkaException

        try:
            self._route()  # 4. route
            self._apply()  # 5. apply
            self._tick()  # 6. timers
            self._sweep()  # 7. janitors
        except KafkaException as exc:  # the producer refused a record: the transaction is lost
            self._abort(exc)
            return
        except ProcessingError:
            raise
        except Exception as exc:  # a bug or a corrupt command record: never skip past it
            self._abort(None, restart=False)
            raise ProcessingError(f"processing failed: {exc!r}") from exc
        if self._commit_due():  # 8. commit
            self._commit()
        self._measure_lag()

    def _poll_timeout(self) -> float:
        """0 while there is work; else poll_timeout_ms, or less if routing holds records
        until a moment (route_grace_ms) that comes sooner."""
        if self.restorer.restoring() or any(t.buffer for t in self.commands):
            return 0.0
        idle = self.config.poll_timeout_ms / 1000
        if any(t.buffer for t in self.inputs):
            if not self._hold_until:
                return 0.0
            return max(0.0, min(idle, self._hold_until - self.monotonic()))
        return idle

    def _buffer(self, records: list) -> None:
        tasks = self.tasks
        newest: dict[Task, Any] = {}  # task -> the last record this poll gave it
        for m in records:
            err = m.error()
            if err is not None:
                self._consumer_error(err)
                continue
            task = tasks.get((m.topic(), m.partition()))
            if task is not None:
                task.buffer.append(m)
                newest[task] = m
        now = self.monotonic()
        for task, m in newest.items():
            task.empty_since = None
            task.gave_up = False
            if isinstance(task, InputTask):
                task.arrivals.append((m.offset(), now))
                if len(task.arrivals) > 64:  # a buffer that never drains: forget what went
                    _fetched_at(task)

    def _consumer_error(self, err) -> None:
        if err.fatal():
            raise ProcessingError(f"fatal consumer error: {err}")
        log.warning("consumer: %s", err)

    def _flow_control(self) -> None:
        limit = self.config.buffered_records_per_partition
        pause, resume = [], []
        for t in self.tasks.values():
            n = len(t.buffer)
            if not t.paused and n >= limit:
                t.paused = True
                pause.append(t.tp)
            elif t.paused and n <= limit // 2:
                t.paused = False
                resume.append(t.tp)
        self.consumer.pause(pause)
        self.consumer.resume(resume)

    # --- 3. restore --------------------------------------------------------------------------

    def _restore(self) -> None:
        if not self.restorer.restoring():
            self.metrics.restoring_partitions.set(0)
            return
        before = self.restorer.remaining()
        for store in self.restorer.step():
            task = self._task_of_store(store)
            if task is not None:
                self._store_ready(task)
        self.metrics.restored_records.inc(max(0, before - self.restorer.remaining()))
        self.metrics.restoring_partitions.set(self.restorer.restoring())

    def _task_of_store(self, store: PartitionStore) -> Task | None:
        for t in self.tasks.values():
            if t.store is store:
                return t
        return None

    def _store_ready(self, task: Task) -> None:
        assert task.store is not None
        if isinstance(task, CommandTask):
            task.state = PartitionState.load(task.store)
        elif isinstance(task, InputTask):
            task.orders = OrderMemory(task.store)
        task.ready = True
        self._index_tasks()

    # --- 4. route ----------------------------------------------------------------------------

    def _route(self) -> None:
        self._hold_until = 0.0
        tasks = self.inputs
        if not tasks or not all(t.ready for t in tasks):
            return  # an orders partition is restoring: routing anything else would reorder
        now = self.monotonic()
        for t in tasks:
            if not t.buffer and self._waiting_for(t, now):
                return
        heap = [(t.buffer[0].timestamp()[1], i, t) for i, t in enumerate(tasks) if t.buffer]
        if not heap:
            return
        heapq.heapify(heap)
        # A partition that looks drained may only look so: librdkafka updates a partition's
        # end as it parses its part of a fetch response, while this thread may already be
        # taking another partition's records from the same response. So while one looks
        # drained, a record goes only once it has been fetched route_grace_ms ago.
        grace = self.config.route_grace_ms / 1000
        quiet = grace > 0 and len(heap) < len(tasks)
        begun = False
        route, batcher, send = self.router.route, self._batcher, self._produce
        budget = self.config.route_records_per_loop
        while heap and budget > 0:
            _, i, t = heap[0]
            if quiet and _fetched_at(t) + grace > now:
                self._hold_until = _fetched_at(t) + grace  # the poll may wait until then
                break
            if not begun:
                self._begin()
                begun = True
            budget -= 1
            if budget % 500 == 0:  # commands out early, as the records go
                self.router.flush(batcher, send)
            msg = t.buffer.popleft()
            logged_at = route(msg, t.base, t.orders, batcher, send)
            if logged_at > t.log_time:
                t.log_time = logged_at
            t.next_offset = msg.offset() + 1
            t.dirty = True
            if t.buffer:
                heapq.heapreplace(heap, (t.buffer[0].timestamp()[1], i, t))
            else:
                heapq.heappop(heap)
                if self._waiting_for(t, now):
                    break
                quiet = grace > 0
        if not begun:
            return
        self.router.flush(batcher, send)
        self._send_changelogs(t for t in tasks if t.store is not None)

    def _waiting_for(self, t: InputTask, now: float) -> bool:
        """Whether routing must wait for ``t``, whose buffer is empty: it has records in
        Kafka that are not fetched yet (or we do not know yet), and has not been waited for
        longer than ``max_task_idle_ms``."""
        position = t.next_offset if t.next_offset is not None else t.start
        if not self.consumer.lagging(t.topic, t.partition, position, t.known_end):
            t.empty_since = None
            t.gave_up = False
            return False
        if t.empty_since is None:
            t.empty_since = now
        if (now - t.empty_since) * 1000 < self.config.max_task_idle_ms:
            return True
        if not t.gave_up:  # said once per wait: routing goes on without it
            t.gave_up = True
            self.metrics.route_idle_timeouts.inc()
            log.info(
                "%s[%d] has records not fetched after %d ms: routing without it",
                t.topic,
                t.partition,
                self.config.max_task_idle_ms,
            )
        return False

    # --- 5. apply ----------------------------------------------------------------------------

    def _apply(self) -> None:
        limit = self.config.apply_records_per_loop
        for t in self.commands:
            if not t.ready or not (t.buffer or t.cursor):
                continue
            self._begin()
            state = t.state
            assert state is not None
            for _ in range(limit):
                if t.cursor is None:
                    if not t.buffer:
                        break
                    msg = t.buffer.popleft()
                    t.cursor = RecordCursor(msg.offset(), batches.decode(msg.value()))
                self.applier.advance(state, t.cursor)
                t.dirty = True
                # Out early: the record's outputs and changelog records travel to the broker
                # while the next one is decided, so the commit waits for little.
                self.publisher.flush()
                self._send_changelogs((t,))
                if not t.cursor.done:
                    break  # a channel change reconciles a slice per loop
                t.next_offset = t.cursor.offset + 1
                t.cursor = None
            t.log_time = state.log_time

    # --- 6. timers ---------------------------------------------------------------------------

    def _tick(self) -> None:
        now = self.monotonic()
        if now < self._next_tick:
            return
        self._next_tick = now + self.config.expiry_tick_ms / 1000
        now_ms = int(self.clock() * 1000)
        for t in self.commands:
            if not t.ready or t.state is None:
                continue
            skus = t.state.holds.due(now_ms)
            if not skus:
                continue
            self._begin()
            # The command carries the time it was decided at: a replay decides the same.
            payload = orjson.dumps(
                [command_to_dict(expire_holds(s, now_ms, logged_at=now_ms)) for s in skus]
            )
            self._produce(self.config.command_topic, t.partition, None, payload, None)
            self.metrics.holds_expired_commands.inc(len(skus))

    # --- 7. janitors -------------------------------------------------------------------------

    def _sweep(self) -> None:
        for t in self.commands:
            if t.ready and t.store is not None and t.cursor is None:
                if n := self._marker_janitor.sweep(t.store, t.log_time):
                    self._begin()
                    self.metrics.child(self.metrics.janitor_deleted, "dedupe_marker").inc(n)
        for i in self.inputs:
            if i.ready and i.store is not None:
                if n := self._order_janitor.sweep(i.store, i.log_time):
                    self._begin()
                    self.metrics.child(self.metrics.janitor_deleted, "order_memory").inc(n)

    # --- 8. transactions ---------------------------------------------------------------------

    def _begin(self) -> None:
        """The loop has work for the transaction: it is open from now (the producer's own
        transaction begins with the first record it can take)."""
        txn = self._txn
        if not txn.open:
            txn.open = True
            txn.started = self.monotonic()
            txn.records = 0

    def _produce(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers,
        callback: Callable | None = None,
    ) -> None:
        """Into the open transaction; held back while the previous one commits (the producer
        takes the next transaction's records only once that commit is done)."""
        txn = self._txn
        if self._committing is not None:
            txn.deferred.append((topic, partition, key, value, headers, callback))
        else:
            if not txn.begun:
                self._producer_begin(txn)
            self.producer.produce(topic, partition, key, value, headers, callback)
        txn.records += 1

    def _produce_all(
        self, topic: str, partition: int, records: list[tuple[bytes, bytes | None]]
    ) -> None:
        """:meth:`_produce` of each ``(key, value)`` (no headers, no delivery report), the
        commit in flight looked at once: a transaction's changelog is thousands of records."""
        txn = self._txn
        if self._committing is not None:
            txn.deferred.extend((topic, partition, k, v, None, None) for k, v in records)
        else:
            if not txn.begun:
                self._producer_begin(txn)
            produce = self.producer.produce
            for key, value in records:
                produce(topic, partition, key, value)
        txn.records += len(records)

    def _producer_begin(self, txn: _Txn) -> None:
        self.producer.begin()
        txn.begun = True
        self._producer_txn_open = True
        deferred, txn.deferred = txn.deferred, []
        for args in deferred:
            self.producer.produce(*args)

    def _commit_due(self) -> bool:
        txn = self._txn
        if self._committing is not None:  # one commit at a time; a huge transaction waits
            return txn.records >= self.config.max_transaction_records
        if not txn.open:
            return self._markers_passed()
        if txn.records >= self.config.max_transaction_records:
            return True
        age_ms = (self.monotonic() - txn.started) * 1000
        if age_ms >= self.config.commit_interval_ms:
            return True
        return age_ms >= self.config.commit_idle_ms and self._caught_up()

    def _caught_up(self) -> bool:
        """Nothing fetched is waiting to be routed (but what routing holds for
        route_grace_ms) or applied, and no store is restoring."""
        for t in self.commands:
            if t.buffer or t.cursor is not None:
                return False
        if not self._hold_until and any(t.buffer for t in self.inputs):
            return False
        return not self.restorer.restoring()

    def _commit(self, wait: bool = False, restart_on_abort: bool = True) -> bool:
        """Steps 8a-8e. 8a-8c run here; the commit itself runs on a thread of its own while
        the loop goes on with the next transaction (``wait``: until it is done). False when a
        transaction had to be aborted."""
        if self._committing is not None and not self._finish_commit(True, restart_on_abort):
            return False
        txn = self._txn
        if not txn.open:
            return True
        from confluent_kafka import KafkaException

        try:
            self.publisher.flush()  # 8a: the newest snapshot per SKU (of what is left)
            self._send_changelogs()  # 8b: one record per key written (of what is left)
            if not txn.begun:
                self._producer_begin(txn)
            offsets = self._offsets()
            metadata = self.consumer.group_metadata()
            self._check_membership(metadata)
        except KafkaException as exc:
            self._abort(exc, restart=restart_on_abort)
            return False
        for store, _ in txn.stores.values():
            store.freeze()  # its writes stay readable; they reach the store once committed
        for t in self.tasks.values():
            t.dirty = False
        committing = _Committing(
            txn,
            offsets,
            self.metrics.take_counts(),
            self.publisher.take_flushed(),
            self.monotonic(),
        )
        self._txn = _Txn()
        timeout = self.config.transaction_call_timeout_s
        producer, instance = self.producer, self.producer.instance  # see TxnProducer.instance

        def commit() -> None:
            if offsets:  # 8c: the consumed offsets, with the member's generation
                self._retrying(lambda: producer.send_offsets(offsets, metadata, timeout, instance))
            self._retrying(lambda: producer.commit(timeout, instance))  # 8d

        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "commit of %d records starts (producer %x, member %s): offsets %s",
                txn.records,
                id(instance),
                self._member,
                _short(offsets),
            )
        committing.call = self.start_commit(commit)
        self._committing = committing
        if wait or committing.call.done():  # done at once: a synchronous commit
            return self._finish_commit(True, restart_on_abort)
        return True

    def _check_membership(self, metadata: Any) -> None:
        """8c's guard: the transaction goes out only as the member that owns the tasks.

        Between librdkafka losing the membership (its session timed out: a broker restart,
        a pause) and the loop serving the lost callback, the metadata says generation -1
        and no member, and the broker accepts a transactional offset commit like that
        without checking it against the group: a zombie's records and offsets would be
        committed after the new owner had started (the same input routed twice). Refused
        here as a fencing error; the callback that follows drops the tasks."""
        member = self.consumer.membership(metadata)
        if member[0] < 0 or not member[1] or member != self._member:
            from confluent_kafka import KafkaError, KafkaException

            raise KafkaException(
                KafkaError(
                    KafkaError.UNKNOWN_MEMBER_ID,
                    f"not the member that owns the tasks (generation {member[0]}, member {member[1]!r}; "
                    f"assigned as {self._member})",
                )
            )

    def _finish_commit(self, wait: bool, restart_on_abort: bool = True) -> bool:
        """8e, once the commit in flight is done: local stores take its writes, with their
        checkpoints; the next transaction's records go to the producer. False when it failed
        (then everything after it is aborted too)."""
        c = self._committing
        assert c is not None and c.call is not None
        if not wait and not c.call.done():
            return True
        if not c.call.wait(self.config.transaction_call_timeout_s * 4 + 10):
            c.call.error = _stuck()
        self._committing = None
        if c.call.error is not None:
            self._abort(c.call.error, restart=restart_on_abort)
            return False
        log.debug("commit done")
        self._producer_txn_open = self._txn.begun
        now_ms = int(self.clock() * 1000)
        for store, topic in c.txn.stores.values():
            last = c.txn.last_changelog.get((topic, store.partition))
            cp = (
                None
                if last is None
                else Checkpoint(topic, self.restorer.topic_ids[topic], last + 1, now_ms)
            )
            store.committed_writes(cp)
        for tp, offset in c.offsets.items():
            task = self.tasks.get(tp)
            if task is not None:
                task.committed = offset
        self.publisher.committed(c.flushed)
        self.metrics.flush_counts(c.counts)  # counts of what is now visible: decisions, commands...
        self.metrics.transactions.labels("committed").inc()
        self.metrics.commit_seconds.observe(self.monotonic() - c.started)
        txn = self._txn
        if txn.deferred and not txn.begun:
            from confluent_kafka import KafkaException

            try:
                self._producer_begin(txn)
            except KafkaException as exc:
                self._abort(exc, restart=restart_on_abort)
                return False
        return True

    def _send_changelogs(self, tasks: Iterable[Task] | None = None) -> None:
        """Produce the changelog records of every key written since the last call (each once,
        its last value), so librdkafka delivers them while the worker goes on. Only the last
        record per partition asks for a delivery report: reports come in order, and its
        offset is the checkpoint the store reaches at commit."""
        txn = self._txn
        for t in self.tasks.values() if tasks is None else tasks:
            store = t.store
            if store is None or not store.unsent:
                continue
            topic = self._changelog_of(t)
            partition = store.partition
            changes = store.take_unsent()
            key, value = changes.pop()
            self._produce_all(topic, partition, changes)
            self._produce(
                topic, partition, key, value, None, _changelog_delivered(txn, topic, partition)
            )
            txn.stores[id(store)] = (store, topic)

    def _changelog_of(self, task: Task) -> str:
        return (
            self.config.stock_changelog
            if isinstance(task, CommandTask)
            else self.config.orders_changelog
        )

    def _offsets(self) -> Offsets:
        """The offset of every task that has one, processed since the last commit or not:
        offsets in every transaction make every commit carry the member's generation, so
        a zombie's is refused even when all it wrote were timer commands or janitor
        deletions (a transaction without offsets is never checked against the group)."""
        out: Offsets = {}
        tasks = list(self.tasks.values())
        idle = [
            t.tp for t in tasks if t.dirty and not t.buffer and getattr(t, "cursor", None) is None
        ]
        positions = self.consumer.positions(idle)
        for t in tasks:
            offset = t.commit_offset() if t.dirty else t.committed
            # A partition processed to its end is committed at librdkafka's position, which
            # steps over the transaction marker after the last record: lag reads 0, not 1.
            offset = max(offset if offset is not None else -1, positions.get(t.tp, -1))
            if offset >= 0:
                out[t.tp] = offset
        return out

    def _markers_passed(self) -> bool:
        """While idle, now and then: if librdkafka stepped over a transaction marker after
        a partition's last processed record, commit that position (an offsets-only
        transaction), so committed offsets reach the end of what was processed."""
        now = self.monotonic()
        if now < self._next_marker_check:
            return False
        self._next_marker_check = now + self.config.commit_interval_ms / 1000
        idle = [
            t
            for t in self.tasks.values()
            if t.ready
            and t.committed is not None
            and not t.buffer
            and getattr(t, "cursor", None) is None
        ]
        positions = self.consumer.positions(t.tp for t in idle)
        moved = [t for t in idle if positions.get(t.tp, -1) > cast(int, t.committed)]
        for t in moved:
            t.next_offset = positions[t.tp]
            t.dirty = True
        if moved:
            self._begin()
        return bool(moved)

    def _retrying(self, call: Callable[[], Any], attempts: int = 3) -> Any:
        """``call()``, again while it fails with an error librdkafka calls retriable."""
        from confluent_kafka import KafkaException

        for attempt in range(attempts):
            try:
                return call()
            except KafkaException as exc:
                err = exc.args[0]
                if not err.retriable() or attempt == attempts - 1:
                    raise
                log.warning("transaction call failed, retrying: %s", err)
                self.sleep(0.1 * (attempt + 1))

    def _abort(self, exc: BaseException | None, restart: bool = True) -> None:
        """Abort the open transaction and (``restart``) start every task again from what
        Kafka committed."""
        from confluent_kafka import KafkaException

        stranded = False
        if self._committing is not None:  # whatever it does, everything is started again
            call = self._committing.call
            stranded = call is not None and not call.wait(
                self.config.transaction_call_timeout_s * 4 + 10
            )
            self._committing = None
        err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
        fenced = err is not None and _is_fencing(err)
        if exc is not None:
            log.warning("transaction %s: %s", "fenced" if fenced else "aborted", exc)
        self.metrics.transactions.labels("fenced" if fenced else "aborted").inc()
        renew = lambda: self.producer.renew(self.config.kafka_timeout_s)  # noqa: E731
        if stranded or (err is not None and err.fatal()):
            # A commit still running on its thread could, once librdkafka lets it go on,
            # commit whatever transaction this producer has open by then: only a new
            # producer (the stranded call keeps the old, fenced one) is safe from it.
            self._patiently(renew, "starting a new producer")
        elif self._producer_txn_open or self._txn.begun:
            try:
                self.producer.abort(self.config.kafka_timeout_s)
            except KafkaException as abort_exc:
                log.warning("abort failed (%s): starting a new producer", abort_exc)
                self._patiently(renew, "starting a new producer")
        self._producer_txn_open = False
        self._txn = _Txn()
        self._forget_uncommitted()
        if restart:
            self._restart_tasks()

    def _forget_uncommitted(self) -> None:
        """Drop everything the aborted transaction left in memory: held snapshots, batched
        commands, decoded states it wrote, store overlays."""
        self._batcher = Batcher(self.config.command_partitions)
        self.metrics.discard_counts()
        self.publisher.aborted()  # the committing transaction's snapshot times go with it
        self.applier.cache.clear()
        for t in self.tasks.values():
            if t.store is not None:
                t.store.discard()

    def _measure_lag(self) -> None:
        """Once a second: per topic, records in the worker's partitions not yet committed
        (from librdkafka's last fetch responses: no request)."""
        now = self.monotonic()
        if now < self._next_lag:
            return
        self._next_lag = now + 1.0
        lag: dict[str, int] = {}
        for t in self.tasks.values():
            marks = self.consumer.cached_watermarks(t.topic, t.partition)
            if marks is None:
                continue
            done = t.committed if t.committed is not None else marks[0]
            lag[t.topic] = lag.get(t.topic, 0) + max(0, marks[1] - done)
        for topic in self.config.topics:
            self.metrics.consumer_lag.labels(self.config.base_names.get(topic, topic)).set(
                lag.get(topic, 0)
            )

    # --- assignment --------------------------------------------------------------------------

    def _on_assign(self, partitions: list[tuple[str, int]]) -> None:
        self.metrics.rebalances.inc()
        self._member = self.consumer.membership(self.consumer.group_metadata())
        offsets = self._starting_offsets(partitions)
        log.info("assigned %d partitions, starting at %s", len(offsets), _short(offsets))
        self.consumer.assign(offsets)
        self.consumer.resume(list(offsets))  # ...and across a re-assignment
        self._create_tasks(offsets)
        self._learn_ends([tp for tp in offsets if tp[0] != self.config.command_topic])
        for tp in [tp for tp in self._open_stores if tp not in self._store_owners()]:
            self._open_stores.pop(tp).close()
        self.assigned_once = True
        self._count_assigned()

    def _on_revoke(self, partitions: list[tuple[str, int]]) -> None:
        # The generation is still ours: what was processed is committed before the
        # partitions move, so the next owner starts exactly where we stopped.
        log.info("%d partitions revoked", len(partitions))
        self._commit(wait=True, restart_on_abort=False)
        self._drop_tasks(partitions)

    def _on_lost(self, partitions: list[tuple[str, int]]) -> None:
        # We were out of the group (paused past the session timeout, say): someone else may
        # own these partitions already. Nothing of the open transaction may become visible.
        log.warning(
            "%d partitions lost (out of the group): the open transaction is aborted",
            len(partitions),
        )
        if self._txn.open or self._committing is not None:
            self._abort(None, restart=False)
        self._drop_tasks(partitions)

    def _starting_offsets(self, partitions: Iterable[tuple[str, int]]) -> Offsets:
        """Committed offsets (waited for while a transaction commits some), else explicitly
        the partition's first record."""
        partitions = list(partitions)
        committed = self._patiently(
            lambda: self.consumer.committed(partitions, self.config.kafka_timeout_s),
            "fetching committed offsets",
        )
        return {tp: committed.get(tp, OFFSET_BEGINNING) for tp in partitions}

    def _patiently(self, call: Callable[[], Any], what: str) -> Any:
        """``call()``, again after any error that is not fatal, until ``recovery_timeout_s``:
        while a broker restarts or a leader moves, the worker waits rather than dies (after
        that it exits and its supervisor starts it again). Also how a committed-offset fetch
        waits for a pending transaction (it times out while the transaction holds it)."""
        from confluent_kafka import KafkaException

        deadline = self.monotonic() + self.config.recovery_timeout_s
        pause = 0.2
        while True:
            try:
                return call()
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                if (err is not None and err.fatal()) or self.monotonic() > deadline:
                    raise
                log.warning("%s failed, retrying in %.1f s: %s", what, pause, exc)
                self.sleep(pause)
                pause = min(pause * 2, 5.0)

    def _create_tasks(self, offsets: Offsets) -> None:
        cfg = self.config
        for (topic, partition), start in offsets.items():
            if topic == cfg.command_topic:
                task: Task = CommandTask(topic, partition, start)
                task.store = self._store("stock", cfg.stock_changelog, partition)
                task.ready = False
                self._start_restore(task.store, cfg.stock_changelog)
            else:
                task = InputTask(topic, partition, start, base=cfg.inputs[topic])
                if topic == cfg.orders_topic:
                    task.store = self._store("orders", cfg.orders_changelog, partition)
                    task.ready = False
                    self._start_restore(task.store, cfg.orders_changelog)
            if start >= 0:
                task.committed = start
            self.tasks[(topic, partition)] = task
        self._index_tasks()

    def _learn_ends(self, partitions: list[tuple[str, int]]) -> None:
        """Ask the broker where each newly assigned input partition ends: librdkafka's idea of
        it is its last fetch response's, which for a partition this worker owned before may be
        old, so routing could take it for drained while it has records. (After an abort the
        assignment stays and librdkafka's ends are current: no need to ask.)"""
        ends = self.consumer.end_offsets(partitions, min(5.0, self.config.kafka_timeout_s))
        for tp, end in ends.items():
            task = self.tasks[tp]
            if isinstance(task, InputTask):
                task.known_end = end

    def _start_restore(self, store: PartitionStore, changelog: str) -> None:
        self._patiently(
            lambda: self.restorer.start(store, changelog),
            f"checking {changelog}[{store.partition}]",
        )

    def _store(self, name: str, changelog: str, partition: int) -> PartitionStore:
        key = (changelog, partition)
        store = self._open_stores.get(key)
        if store is None:
            store = self._open_stores[key] = self.stores.open(name, partition)
        store.discard()
        return store

    def _store_owners(self) -> set[tuple[str, int]]:
        return {
            (self._changelog_of(t), t.partition) for t in self.tasks.values() if t.store is not None
        }

    def _drop_tasks(self, partitions: Iterable[tuple[str, int]]) -> None:
        for tp in partitions:
            task = self.tasks.pop(tp, None)
            if task is None:
                continue
            if task.store is not None:
                task.store.discard()
                self.restorer.cancel(self._changelog_of(task), task.partition)
            if isinstance(task, CommandTask):
                self.applier.cache.drop_partition(task.partition)
                self._marker_janitor.forget(task.partition)
            elif task.store is not None:
                self._order_janitor.forget(task.partition)
        self._index_tasks()
        self._count_assigned()

    def _restart_tasks(self) -> None:
        """After an abort: drop what every task holds in memory and start it again from the
        committed offsets and its store's checkpoint."""
        partitions = list(self.tasks)
        self._drop_tasks(partitions)
        self.restorer.cancel_all()
        if not partitions:
            return
        offsets = self._starting_offsets(partitions)
        log.info("starting every task again from the committed offsets %s", _short(offsets))
        for (topic, partition), offset in offsets.items():
            self.consumer.seek(topic, partition, offset)
        self._create_tasks(offsets)
        self.consumer.resume(list(offsets))  # librdkafka keeps a pause across a seek

    def _index_tasks(self) -> None:
        self.inputs = [t for t in self.tasks.values() if isinstance(t, InputTask)]
        self.commands = sorted(
            (t for t in self.tasks.values() if isinstance(t, CommandTask)),
            key=lambda t: t.partition,
        )
        self.serving = {
            t.partition: t.store for t in self.commands if t.ready and t.store is not None
        }

    def _count_assigned(self) -> None:
        counts: dict[str, int] = {}
        for topic, _ in self.tasks:
            counts[topic] = counts.get(topic, 0) + 1
        for topic in self.config.topics:
            self.metrics.assigned_partitions.labels(topic).set(counts.get(topic, 0))


def _short(offsets: Offsets) -> str:
    """Offsets for a log line: ``topic[p]=offset``."""
    return " ".join(f"{t}[{p}]={o}" for (t, p), o in sorted(offsets.items()))


def _is_fencing(err) -> bool:
    """Errors by which the broker refuses a writer that is no longer the owner."""
    from confluent_kafka import KafkaError

    fencing = {
        KafkaError._FENCED,
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_EPOCH,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.FENCED_INSTANCE_ID,
    }
    return err.code() in fencing


def _fetched_at(t: InputTask) -> float:
    """When the poll that fetched ``t``'s first buffered record ran (monotonic)."""
    head = t.buffer[0].offset()
    arrivals = t.arrivals
    while arrivals and arrivals[0][0] < head:
        arrivals.popleft()
    return arrivals[0][1] if arrivals else 0.0
