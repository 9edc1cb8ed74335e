"""Fakes of the processor's ports (services/stocksignal/processor/ports.py) over an in-memory broker.

The runtime talks to Kafka only through ``GroupConsumer``, ``TxnProducer`` and
``ChangelogReader``; the classes here subclass them, override every method the runtime and
the restorer call, and behave as librdkafka does (as the ports' docstrings describe it):

- a :class:`FakeBroker` keeps topics of partitions of records (key, value, headers,
  timestamp, and the transaction each belongs to: none/committed, aborted or open; commit
  and abort markers take an offset, as control records do), a consumer group (committed
  offsets, the offsets pending in open transactions, members with their generation) and the
  producer epochs of transactional ids;
- reads are read_committed: they stop at the last stable offset (the first record of an open
  transaction) and skip aborted records and markers; ``committed()`` refuses (times out, as
  librdkafka's RequireStable fetch does) while a transaction holds a pending offset;
- ``send_offsets`` with a member's stale generation (it was expelled) fails with an abortable
  ``UNKNOWN_MEMBER_ID``; a producer fenced by a newer epoch fails fatally with ``_FENCED``;
  faults are injected per call (:meth:`FakeTxnProducer.inject`), and a test can run the rest of
  the world while a worker is stopped inside a call (:meth:`FakeTxnProducer.before`);
- delivery reports are served when the producer is flushed: at commit, abort, poll, close;
- the group consumer's ``positions()`` is after the last record handed out *and* any marker or
  aborted record that follows it (``marker_delay_polls``: only some polls later, as when the
  marker comes with a later fetch response); ``lagging()`` compares with the end the last fetch
  response gave (the LSO); ``delay()`` holds a partition's records back while its end is known;
- the changelog reader reports ``_PARTITION_EOF`` at the end of each partition, and its
  ``end_offset`` is the LSO (a read_committed client's ListOffsets answers the LSO);
- rebalances are driven by the test (:meth:`FakeGroupConsumer.rebalance`,
  :meth:`FakeGroupConsumer.lose`, :meth:`FakeGroup.expel`) and served, with the runtime's
  callbacks, inside the next ``consume()``; assignments are eager (``range``): every
  partition is revoked, then the new set assigned. A member's generation is its own (joining
  does not invalidate the others); an expelled member's is stale until it rejoins. As in
  librdkafka (rd_kafka_assignment_serve_removals resets only the library's pause flag), a
  partition paused by the application stays paused across seek() and re-assignment.

Nothing sleeps and nothing reads the wall clock: timestamps come from the clock the test
passes to the broker.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from stocksignal.contract import partition_for
from stocksignal.processor.ports import ChangelogReader, GroupConsumer, Offsets, TxnProducer

TP = tuple[str, int]
TIMESTAMP_CREATE_TIME = 1  # confluent_kafka.TIMESTAMP_CREATE_TIME
OFFSET_BEGINNING = -2
OFFSET_INVALID = -1001  # librdkafka's "no position" (nothing handed out in this fetch session)


def kafka_exception(
    code: int,
    reason: str,
    *,
    fatal: bool = False,
    retriable: bool = False,
    txn_requires_abort: bool = False,
) -> KafkaException:
    return KafkaException(
        KafkaError(
            code, reason, fatal=fatal, retriable=retriable, txn_requires_abort=txn_requires_abort
        )
    )


# --- the broker ------------------------------------------------------------------------------


@dataclass(eq=False)
class FakeTxn:
    """One transaction of one producer epoch."""

    id: int
    transactional_id: str
    epoch: int
    state: str = "open"  # open | committed | aborted
    started_ms: int = 0
    partitions: set[TP] = field(default_factory=set)
    offsets: Offsets = field(default_factory=dict)  # group offsets pending in it

    def __repr__(self) -> str:
        return f"FakeTxn({self.id}, {self.transactional_id}#{self.epoch}, {self.state})"


@dataclass(eq=False)
class FakeRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list | None
    timestamp: int
    txn: FakeTxn | None = None  # None: written outside any transaction (visible at once)
    control: bool = False  # a commit or abort marker

    @property
    def state(self) -> str:
        return "committed" if self.txn is None else self.txn.state

    @property
    def visible(self) -> bool:
        """Whether a read_committed reader hands it out (once it is below the LSO)."""
        return not self.control and self.state == "committed"


@dataclass(frozen=True)
class FakeGroupMetadata:
    group_id: str
    member_id: str
    generation: int | None


class FakeGroup:
    """The consumer group: committed offsets and its members' generations."""

    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.committed: Offsets = {}
        self.members: dict[str, int] = {}
        self._generations = itertools.count(1)
        self.generation = 0

    def join(self, member_id: str) -> int:
        self.generation = next(self._generations)
        self.members[member_id] = self.generation
        return self.generation

    def leave(self, member_id: str) -> None:
        self.members.pop(member_id, None)

    def expel(self, member_id: str) -> None:
        """The member missed its session timeout: the group moved on without it. Its next
        ``send_offsets`` is refused; it finds out at its next ``consume()`` (on_lost)."""
        self.members.pop(member_id, None)
        self.generation = next(self._generations)

    def valid(self, md: FakeGroupMetadata) -> bool:
        return md.generation is not None and self.members.get(md.member_id) == md.generation

    def accepts_txn_offsets(self, md: FakeGroupMetadata) -> bool:
        """As Kafka's group coordinator: a transactional offset commit is checked against the
        group only if it names a member or a generation; one with generation -1 and no member
        id (an old client's, or librdkafka's between losing and regaining its membership) is
        accepted unchecked."""
        return (md.generation == -1 and md.member_id == "") or self.valid(md)


class FakeBroker:
    def __init__(
        self,
        now_ms: Callable[[], int] = lambda: 0,
        group_id: str = "app",
        transaction_timeout_ms: int = 10_000,
    ) -> None:
        self.now_ms = now_ms
        # As the broker does: a transaction open longer than this is aborted and its
        # producer's epoch bumped (the producer is fenced).
        self.transaction_timeout_ms = transaction_timeout_ms
        self.logs: dict[str, list[list[FakeRecord]]] = {}
        self.topic_ids: dict[str, str] = {}
        self.group = FakeGroup(group_id)
        self.epochs: dict[str, int] = {}  # transactional id -> current producer epoch
        self.transactions: list[FakeTxn] = []
        self._txn_ids = itertools.count(1)

    # --- topics ------------------------------------------------------------------------------

    def create_topic(self, name: str, partitions: int, topic_id: str | None = None) -> None:
        self.logs[name] = [[] for _ in range(partitions)]
        self.topic_ids[name] = topic_id or f"id-{name}"

    def partitions(self, topic: str) -> int:
        return len(self.logs[topic])

    def log(self, topic: str, partition: int) -> list[FakeRecord]:
        return self.logs[topic][partition]

    def append(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: list | None = None,
        timestamp: int | None = None,
        txn: FakeTxn | None = None,
    ) -> int:
        log = self.log(topic, partition)
        if txn is not None:
            assert txn.state == "open", f"{txn} is not open"
            txn.partitions.add((topic, partition))
        ts = self.now_ms() if timestamp is None else timestamp
        log.append(FakeRecord(topic, partition, len(log), key, value, headers, ts, txn))
        return len(log) - 1

    def high(self, topic: str, partition: int) -> int:
        return len(self.log(topic, partition))

    def lso(self, topic: str, partition: int) -> int:
        """The last stable offset: the first record of a transaction still open, else the end."""
        self.expire()
        for rec in self.log(topic, partition):
            if rec.txn is not None and rec.txn.state == "open":
                return rec.offset
        return self.high(topic, partition)

    def visible(self, topic: str, partition: int | None = None) -> list[FakeRecord]:
        """What a read_committed reader of the whole topic gets (partition by partition)."""
        parts = range(self.partitions(topic)) if partition is None else [partition]
        out = []
        for p in parts:
            lso = self.lso(topic, p)
            out.extend(r for r in self.log(topic, p)[:lso] if r.visible)
        return out

    # --- transactions ------------------------------------------------------------------------

    def init_producer(self, transactional_id: str) -> int:
        """InitProducerId: a new epoch, which fences the previous one and aborts the
        transaction it left open."""
        epoch = self.epochs.get(transactional_id, -1) + 1
        self.epochs[transactional_id] = epoch
        for txn in self.open_transactions():
            if txn.transactional_id == transactional_id:
                self.finish(txn, commit=False)
        return epoch

    def begin(self, transactional_id: str = "upstream", epoch: int | None = None) -> FakeTxn:
        if epoch is None:
            epoch = self.epochs.setdefault(transactional_id, 0)
        txn = FakeTxn(next(self._txn_ids), transactional_id, epoch, started_ms=self.now_ms())
        self.transactions.append(txn)
        return txn

    def expire(self) -> None:
        """Abort every transaction open longer than the transaction timeout (fencing its
        producer): what the broker's abort sweep does to a paused or dead producer's."""
        for txn in [t for t in self.transactions if t.state == "open"]:
            if self.now_ms() - txn.started_ms > self.transaction_timeout_ms:
                self.finish(txn, commit=False)
                if self.epochs.get(txn.transactional_id) == txn.epoch:
                    self.epochs[txn.transactional_id] = txn.epoch + 1

    def finish(self, txn: FakeTxn, commit: bool) -> None:
        """Write the commit (abort) marker in every partition the transaction touched; on
        commit, its offsets become the group's committed offsets."""
        assert txn.state == "open", f"{txn} is not open"
        txn.state = "committed" if commit else "aborted"
        for topic, p in sorted(txn.partitions):
            log = self.log(topic, p)
            log.append(
                FakeRecord(topic, p, len(log), None, None, None, self.now_ms(), txn, control=True)
            )
        if commit:
            self.group.committed.update(txn.offsets)

    def open_transactions(self) -> list[FakeTxn]:
        self.expire()
        return [t for t in self.transactions if t.state == "open"]

    def pending_offsets(self) -> dict[TP, FakeTxn]:
        return {tp: t for t in self.open_transactions() for tp in t.offsets}


# --- messages --------------------------------------------------------------------------------


class FakeMessage:
    """The confluent_kafka.Message methods the runtime calls."""

    __slots__ = (
        "_topic",
        "_partition",
        "_offset",
        "_key",
        "_value",
        "_headers",
        "_timestamp",
        "_error",
    )

    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None = None,
        value: bytes | None = None,
        headers: list | None = None,
        timestamp: int = 0,
        error: KafkaError | None = None,
    ) -> None:
        self._topic, self._partition, self._offset = topic, partition, offset
        self._key, self._value, self._headers = key, value, headers
        self._timestamp, self._error = timestamp, error

    @classmethod
    def of(cls, rec: FakeRecord) -> FakeMessage:
        return cls(
            rec.topic,
            rec.partition,
            rec.offset,
            rec.key,
            rec.value,
            list(rec.headers) if rec.headers else None,
            rec.timestamp,
        )

    @classmethod
    def eof(cls, topic: str, partition: int, offset: int) -> FakeMessage:
        return cls(
            topic,
            partition,
            offset,
            error=KafkaError(KafkaError._PARTITION_EOF, "Broker: No more messages"),
        )

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list | None:
        return self._headers

    def timestamp(self) -> tuple[int, int]:
        return (TIMESTAMP_CREATE_TIME, self._timestamp)

    def error(self) -> KafkaError | None:
        return self._error

    def __repr__(self) -> str:
        return f"FakeMessage({self._topic}[{self._partition}]@{self._offset})"


# --- the group consumer ----------------------------------------------------------------------


class FakeGroupConsumer(GroupConsumer):
    """A read_committed group member (manual assignment in the rebalance callbacks)."""

    def __init__(self, broker: FakeBroker, member_id: str = "worker-1") -> None:
        GroupConsumer.__init__(self, consumer=None)  # no librdkafka handle behind it
        self.broker = broker
        self.member_id = member_id
        self.topics: list[str] = []
        self._on_assign = self._on_revoke = self._on_lost = None
        self.generation: int | None = None
        self.assignment: dict[TP, int] = {}  # partition -> fetch position
        self.app_pos: dict[TP, int] = {}  # librdkafka's position(): after what was handed out
        self.known_high: dict[TP, int] = {}  # the end each partition's last fetch response gave
        self.paused: set[TP] = set()  # the client's pause flags (kept across seek and assign)
        self.delayed: set[TP] = set()  # fetched (end known) but their records not delivered yet
        # Their part of the fetch response is not parsed yet: neither their end nor their
        # records are known, while the other partitions' records are handed out.
        self.unparsed: set[TP] = set()
        self.ends_unknown = False  # end_offsets() answers nothing (the broker is away)
        self.marker_delay_polls = (
            0  # > 0: a marker is stepped over only this many polls after it is reached
        )
        self.rejoin_assignment: list[TP] | None = None  # what an expelled member gets on rejoining
        self.lapsed = False  # its session timed out: metadata says generation -1, no member
        self.calls: list[tuple] = []
        self.closed = False
        self._events: deque[tuple[str, list[TP] | None]] = deque()
        self._assigned_in_callback = False
        self.polls = 0
        self._marker_wait: dict[TP, int] = {}

    # --- driven by the test --------------------------------------------------------------

    def rebalance(self, assigned: Iterable[TP]) -> None:
        """An eager rebalance, served in the next ``consume()``: on_revoke(everything
        assigned), a new generation, on_assign(``assigned``)."""
        self._events.append(("rebalance", sorted(assigned)))

    def lose(self, assigned: Iterable[TP] | None = None) -> None:
        """The member is expelled now (session timeout); in the next ``consume()`` it finds
        out: on_lost(everything assigned), then it rejoins and gets ``assigned`` (default:
        what it had)."""
        self.broker.group.expel(self.member_id)
        self._events.append(("lost", None if assigned is None else sorted(assigned)))

    def lapse(self, assigned: Iterable[TP] | None = None) -> None:
        """librdkafka's own session timer ran out (no heartbeat answered: a broker restart):
        the group expels the member, and until the client rejoins its metadata says
        generation -1 and no member id. The lost callback comes in the next ``consume()``,
        then it rejoins with ``assigned`` (as :meth:`lose`)."""
        self.lose(assigned)
        self.lapsed = True

    def delay(self, *tps: TP) -> None:
        self.delayed.update(tps)

    def release(self, *tps: TP) -> None:
        self.delayed.difference_update(tps or set(self.delayed))

    def all_partitions(self) -> list[TP]:
        return [(t, p) for t in self.topics for p in range(self.broker.partitions(t))]

    # --- GroupConsumer -------------------------------------------------------------------

    def subscribe(
        self, topics: Sequence[str], on_assign: Callable, on_revoke: Callable, on_lost: Callable
    ) -> None:
        self.calls.append(("subscribe", list(topics)))
        self.topics = list(topics)
        self._on_assign, self._on_revoke, self._on_lost = on_assign, on_revoke, on_lost
        self._events.append(("join", None))

    def consume(self, max_records: int, timeout_s: float) -> list:
        assert not self.closed, "consume() after close()"
        self.polls += 1
        self._serve_group()
        out: list[FakeMessage] = []
        for tp in list(self.assignment):
            if tp in self.paused or tp in self.unparsed:
                continue  # not fetched: what librdkafka knows of its end stays as it was
            log = self.broker.log(*tp)
            lso = self.broker.lso(*tp)
            self.known_high[tp] = lso  # read_committed: a fetch response's end is the LSO
            if tp in self.delayed:
                continue
            pos = self.assignment[tp]
            while pos < lso and len(out) < max_records:
                rec = log[pos]
                if rec.visible:
                    out.append(FakeMessage.of(rec))
                elif self.marker_delay_polls:  # the marker comes with a later fetch response
                    due = self._marker_wait.setdefault(tp, self.polls + self.marker_delay_polls)
                    if self.polls < due:
                        break
                    del self._marker_wait[tp]
                pos += 1
                self.app_pos[tp] = pos  # steps over markers and aborted records too
            self.assignment[tp] = pos
        return out

    def committed(self, partitions: Iterable[TP], timeout_s: float) -> Offsets:
        partitions = list(partitions)
        self.calls.append(("committed", partitions))
        pending = self.broker.pending_offsets()
        held = [tp for tp in partitions if tp in pending]
        if held:  # RequireStable: the broker answers UNSTABLE_OFFSET_COMMIT until it completes
            raise kafka_exception(
                KafkaError._TIMED_OUT, f"committed offsets of {held} held by {pending[held[0]]}"
            )
        return {
            tp: self.broker.group.committed[tp]
            for tp in partitions
            if tp in self.broker.group.committed
        }

    def assign(self, offsets: Offsets) -> None:
        self.calls.append(("assign", dict(offsets)))
        self._assigned_in_callback = True
        self.assignment = {tp: self._resolve(tp, o) for tp, o in offsets.items()}
        self.app_pos = {}  # a new fetch session: position() is invalid until something is handed out

    def unassign(self) -> None:
        self.calls.append(("unassign",))
        self._assigned_in_callback = True
        self.assignment = {}
        self.app_pos = {}

    def seek(self, topic: str, partition: int, offset: int) -> None:
        tp = (topic, partition)
        self.calls.append(("seek", tp, offset))
        if tp not in self.assignment:
            raise kafka_exception(KafkaError._STATE, f"seek: {tp} is not assigned")
        self.assignment[tp] = self._resolve(tp, offset)
        self.app_pos[tp] = (
            offset if offset >= 0 else OFFSET_INVALID
        )  # librdkafka >= 1.9: seek resets it

    def pause(self, partitions: Iterable[TP]) -> None:
        tps = list(partitions)
        if tps:
            self.calls.append(("pause", tps))
            self.paused.update(tps)

    def resume(self, partitions: Iterable[TP]) -> None:
        tps = list(partitions)
        if tps:
            self.calls.append(("resume", tps))
            self.paused.difference_update(tps)

    def lagging(
        self, topic: str, partition: int, position: int | None, known_end: int | None = None
    ) -> bool:
        """As the real port: by the end the last fetch response gave (unknown: lagging), or
        ``known_end`` if further."""
        tp = (topic, partition)
        high = self.known_high.get(tp)
        if high is None:
            return True
        if known_end is not None and known_end > high:
            high = known_end
        consumed = self.app_pos.get(tp, OFFSET_INVALID)
        if consumed >= 0:
            position = consumed
        elif position is None or position < 0:
            position = 0
        return position < high

    def positions(self, partitions: Iterable[TP]) -> Offsets:
        return {tp: self.app_pos.get(tp, OFFSET_INVALID) for tp in partitions}

    def end_offsets(self, partitions: Iterable[TP], timeout_s: float) -> Offsets:
        tps = list(partitions)
        self.calls.append(("end_offsets", tps))
        if self.ends_unknown:
            return {}
        return {tp: self.broker.lso(*tp) for tp in tps}

    def cached_watermarks(self, topic: str, partition: int) -> tuple[int, int] | None:
        high = self.known_high.get((topic, partition))
        return None if high is None else (0, high)

    def group_metadata(self) -> FakeGroupMetadata:
        if self.lapsed:
            return FakeGroupMetadata(self.broker.group.group_id, "", -1)
        return FakeGroupMetadata(self.broker.group.group_id, self.member_id, self.generation)

    def membership(self, group_metadata: FakeGroupMetadata) -> tuple[int, str]:
        md = group_metadata
        return (-1 if md.generation is None else md.generation), md.member_id

    def close(self) -> None:
        self.calls.append(("close",))
        if (
            self.assignment
            and self._on_revoke is not None
            and self.broker.group.valid(self.group_metadata())
        ):
            self._callback(self._on_revoke, sorted(self.assignment))
        self.broker.group.leave(self.member_id)
        self.assignment = {}
        self.closed = True

    # --- inside consume(): the group protocol --------------------------------------------

    def _serve_group(self) -> None:
        if (
            not self._events
            and self.generation is not None
            and not self.broker.group.valid(self.group_metadata())
        ):
            self._events.append(
                ("lost", self.rejoin_assignment)
            )  # the heartbeat says: not a member
        while self._events:
            kind, assigned = self._events.popleft()
            current = sorted(self.assignment)
            if kind == "rebalance" and self.generation is not None:
                self._callback(self._on_revoke, current)  # the old generation is still valid here
                self._default_unassign()
            elif kind == "lost":
                if self.generation is not None:
                    self._callback(self._on_lost, current)
                    self._default_unassign()
                if assigned is None:
                    assigned = current
            if assigned is None:
                assigned = self.all_partitions()
            self.generation = self.broker.group.join(self.member_id)
            self.lapsed = False
            self._assigned_in_callback = False
            self._callback(self._on_assign, list(assigned))
            if not self._assigned_in_callback:  # the client's default: committed offsets
                self.assign(
                    {tp: self.broker.group.committed.get(tp, OFFSET_BEGINNING) for tp in assigned}
                )

    def _default_unassign(self) -> None:
        self.assignment = {}
        self.app_pos = {}

    def _callback(self, cb: Callable | None, partitions: list[TP]) -> None:
        self.calls.append((getattr(cb, "__name__", "callback"), list(partitions)))
        if cb is not None:
            cb(list(partitions))

    def _resolve(self, tp: TP, offset: int) -> int:
        if offset >= 0:
            return offset
        if offset == OFFSET_BEGINNING:
            return 0
        return self.broker.group.committed.get(
            tp, 0
        )  # OFFSET_STORED/INVALID: committed, else earliest

    # --- for assertions ------------------------------------------------------------------

    def unread(self) -> dict[TP, int]:
        """Assigned partitions with entries below the LSO not yet passed: how many of them
        are records (0: only markers or aborted records)."""
        out = {}
        for tp, pos in self.assignment.items():
            lso = self.broker.lso(*tp)
            if pos < lso:
                out[tp] = sum(1 for r in self.broker.log(*tp)[pos:lso] if r.visible)
        return out


# --- the transactional producer --------------------------------------------------------------


class HookFailed(BaseException):
    """A test hook failed inside a producer call (a BaseException: the runtime's error
    handling must not take it for a Kafka error)."""


class FakeProducerHandle:
    """One librdkafka producer instance with a transactional id."""

    def __init__(self, broker: FakeBroker, transactional_id: str) -> None:
        self.broker = broker
        self.transactional_id = transactional_id
        self.epoch: int | None = None
        self.init_calls = 0
        self.txn: FakeTxn | None = None
        self.abortable: KafkaError | None = None
        self.fatal: KafkaError | None = None
        self.produced = 0
        self._reports: list[tuple[Callable, KafkaError | None, FakeMessage]] = []

    def _usable(self) -> None:
        if self.fatal is not None:
            raise KafkaException(self.fatal)
        if self.epoch is not None and self.broker.epochs.get(self.transactional_id) != self.epoch:
            self.fatal = KafkaError(
                KafkaError._FENCED, "producer fenced by a newer instance", fatal=True
            )
            raise KafkaException(self.fatal)

    def _in_txn(self) -> FakeTxn:
        self._usable()
        if self.txn is None:
            raise kafka_exception(KafkaError._STATE, "no transaction in progress")
        return self.txn

    def init_transactions(self) -> None:
        self._usable()
        self.epoch = self.broker.init_producer(self.transactional_id)
        self.init_calls += 1

    def begin_transaction(self) -> None:
        self._usable()
        if self.epoch is None:
            raise kafka_exception(KafkaError._STATE, "init_transactions() first")
        if self.txn is not None:
            raise kafka_exception(KafkaError._STATE, "a transaction is already in progress")
        self.txn = self.broker.begin(self.transactional_id, self.epoch)

    def produce(self, topic: str, partition: int, key, value, headers, on_delivery) -> None:
        txn = self._in_txn()
        if self.abortable is not None:
            raise KafkaException(self.abortable)
        if (
            partition == -1
        ):  # RD_KAFKA_PARTITION_UA: the producer's murmur2_random partitioner decides
            assert key is not None, "a record for the partitioner needs a key"
            partition = partition_for(key, self.broker.partitions(topic))
        assert 0 <= partition < self.broker.partitions(topic), (
            f"{topic}[{partition}] does not exist"
        )
        offset = self.broker.append(topic, partition, key, value, headers, txn=txn)
        self.produced += 1
        if on_delivery is not None:
            rec = self.broker.log(topic, partition)[offset]
            self._reports.append((on_delivery, None, FakeMessage.of(rec)))

    def send_offsets_to_transaction(self, offsets: Offsets, md: FakeGroupMetadata) -> None:
        txn = self._in_txn()
        if self.abortable is not None:
            raise KafkaException(self.abortable)
        if not self.broker.group.accepts_txn_offsets(md):
            self.abortable = KafkaError(
                KafkaError.UNKNOWN_MEMBER_ID,
                f"member {md.member_id} (generation {md.generation}) is not in the group",
                txn_requires_abort=True,
            )
            raise KafkaException(self.abortable)
        txn.offsets.update(offsets)

    def commit_transaction(self) -> None:
        txn = self._in_txn()
        self.flush()
        if self.abortable is not None:
            raise KafkaException(self.abortable)
        self.broker.finish(txn, commit=True)
        self.txn = None

    def abort_transaction(self) -> None:
        txn = self._in_txn()
        self.flush()
        self.broker.finish(txn, commit=False)
        self.txn = None
        self.abortable = None

    def flush(self) -> int:
        reports, self._reports = self._reports, []
        for cb, err, msg in reports:
            cb(err, msg)
        return len(reports)


class FakeTxnProducer(TxnProducer):
    """The runtime's transactional producer over :class:`FakeProducerHandle` instances."""

    def __init__(self, broker: FakeBroker, transactional_id: str) -> None:
        self.broker = broker
        self.transactional_id = transactional_id
        TxnProducer.__init__(self, lambda: FakeProducerHandle(broker, transactional_id))
        self.instances: list[FakeProducerHandle] = [self._p]
        self.calls: list[str] = []
        self._faults: dict[str, list[list]] = {}
        self._hooks: dict[str, list[Callable[[], None]]] = {}
        # Commits to report as done though the broker aborts them (a broker stopped just after
        # answering: docs/processor.md, "A commit reported that did not happen").
        self.phantom_commits = 0
        self.phantom_skip = 0  # commits that go through first

    @property
    def handle(self) -> FakeProducerHandle:
        return self._p

    def inject(
        self,
        method: str,
        error: KafkaError,
        skip: int = 0,
        when: Callable[[FakeTxn | None], bool] | None = None,
    ) -> None:
        """Make a call to ``method`` raise ``error``: the first call for which ``when(open
        transaction)`` holds (default: any), after ``skip`` such calls. A fatal error leaves the
        instance unusable, an abortable one leaves its transaction in the abortable state (as
        librdkafka does); the call itself does nothing."""
        self._faults.setdefault(method, []).append([skip, error, when])

    def before(self, method: str, hook: Callable[[], None]) -> None:
        """Run ``hook()`` once, just before the next call to ``method`` (the worker is paused
        there while the world goes on)."""
        self._hooks.setdefault(method, []).append(hook)

    def pending_faults(self) -> int:
        return sum(len(v) for v in self._faults.values())

    def _fault(self, method: str) -> None:
        self.calls.append(method)
        hooks = self._hooks.pop(method, [])
        for hook in hooks:
            try:
                hook()
            except (
                Exception
            ) as exc:  # the test's own failure: not a Kafka error for the runtime to handle
                raise HookFailed(f"hook before {method}() failed: {exc!r}") from exc
        faults = self._faults.get(method)
        if not faults:
            return
        skip, err, when = faults[0]
        if when is not None and not when(self._p.txn):
            return
        if skip > 0:
            faults[0][0] -= 1
            return
        faults.pop(0)
        if err.fatal():
            self._p.fatal = err
        elif err.txn_requires_abort():
            self._p.abortable = err
        raise KafkaException(err)

    # --- TxnProducer ---------------------------------------------------------------------

    def init(self, timeout_s: float) -> None:
        self._fault("init")
        self._p.init_transactions()

    def renew(self, timeout_s: float) -> None:
        self._fault("renew")
        try:
            self._p.flush()
        except Exception:
            pass
        self._p = self._make()
        self.instances.append(self._p)
        self._p.init_transactions()

    def begin(self) -> None:
        self._fault("begin")
        self._p.begin_transaction()

    def produce(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers=None,
        on_delivery: Callable | None = None,
    ) -> None:
        self._fault("produce")
        self._p.produce(topic, partition, key, value, headers, on_delivery)

    def send_offsets(
        self, offsets: Offsets, group_metadata: Any, timeout_s: float, instance: Any = None
    ) -> None:
        self._fault("send_offsets")
        (instance or self._p).send_offsets_to_transaction(dict(offsets), group_metadata)

    def commit(self, timeout_s: float, instance: Any = None) -> None:
        self._fault("commit")
        handle = instance or self._p
        if self.phantom_commits > 0 and self.phantom_skip > 0:
            self.phantom_skip -= 1
        elif self.phantom_commits > 0:  # reported, but the broker ends it aborted
            self.phantom_commits -= 1
            handle.flush()
            txn = handle._in_txn()
            # As the coordinator that restarted without the commit: it aborts the transaction
            # and bumps the producer's epoch (the producer's next call is fenced).
            self.broker.finish(txn, commit=False)
            if self.broker.epochs.get(txn.transactional_id) == txn.epoch:
                self.broker.epochs[txn.transactional_id] = txn.epoch + 1
            handle.txn = None
            return
        handle.commit_transaction()

    def abort(self, timeout_s: float) -> None:
        self._fault("abort")
        self._p.flush()
        self._p.abort_transaction()

    def poll(self, timeout_s: float = 0.0) -> int:
        return self._p.flush()

    def close(self, timeout_s: float) -> None:
        self.calls.append("close")
        self._p.flush()


# --- the changelog reader --------------------------------------------------------------------


class FakeChangelogReader(ChangelogReader):
    """A read_committed consumer outside the group, with ``enable.partition.eof``."""

    def __init__(self, broker: FakeBroker) -> None:
        ChangelogReader.__init__(self, consumer=None)
        self.broker = broker
        self.positions: dict[TP, int] = {}
        self.assignments: list[Offsets] = []  # every assign() (unassign: {})
        self.delivered: dict[TP, int] = {}  # records handed out per partition
        self.probes: list[tuple[TP, int]] = []  # committed_at() calls
        self._eof_at: dict[TP, int] = {}

    def assign(self, offsets: Offsets) -> None:
        self.assignments.append(dict(offsets))
        self.positions = {tp: (o if o >= 0 else 0) for tp, o in offsets.items()}
        self._eof_at = {}

    def unassign(self) -> None:
        self.assignments.append({})
        self.positions = {}
        self._eof_at = {}

    def consume(self, max_records: int, timeout_s: float) -> list:
        out: list[FakeMessage] = []
        for tp in sorted(self.positions):
            log = self.broker.log(*tp)
            lso = self.broker.lso(*tp)
            pos = self.positions[tp]
            while pos < lso and len(out) < max_records:
                rec = log[pos]
                pos += 1
                if rec.visible:
                    out.append(FakeMessage.of(rec))
                    self.delivered[tp] = self.delivered.get(tp, 0) + 1
            self.positions[tp] = pos
            if len(out) >= max_records:
                break
            if pos >= lso and self._eof_at.get(tp) != pos:
                out.append(FakeMessage.eof(tp[0], tp[1], pos))
                self._eof_at[tp] = pos
        return out

    def committed_at(
        self, topic: str, partition: int, offset: int, timeout_s: float
    ) -> bool | None:
        """As the port: whether a read_committed reader is handed the record at ``offset``
        (None while its transaction is open: as a wait that timed out)."""
        self.probes.append(((topic, partition), offset))
        log = self.broker.log(topic, partition)
        if offset >= self.broker.lso(topic, partition):
            return None
        return log[offset].visible

    def end_offset(self, topic: str, partition: int, timeout_s: float) -> tuple[int, int]:
        # The port asks read_uncommitted: the high watermark, open transactions included.
        return (0, self.broker.high(topic, partition))

    def close(self) -> None:
        self.positions = {}
