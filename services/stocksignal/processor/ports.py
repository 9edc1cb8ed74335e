"""The processor's ports to Kafka: thin classes over confluent-kafka that the runtime calls.

The runtime (runtime.py) talks only to these three classes, never to confluent-kafka
directly, so its commit, abort and restore logic can be unit-tested with fakes that subclass
them (tests/unit/processor/). Each method is one confluent-kafka call; the classes add no
behaviour of their own beyond naming what the runtime needs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

Offsets = dict[tuple[str, int], int]  # (topic, partition) -> next offset to read

log = logging.getLogger(__name__)


def _tp(topic: str, partition: int, offset: int | None = None):
    from confluent_kafka import TopicPartition

    return (
        TopicPartition(topic, partition)
        if offset is None
        else TopicPartition(topic, partition, offset)
    )


class GroupConsumer:
    """The worker's member of the consumer group (read_committed, manual commits)."""

    def __init__(self, consumer) -> None:
        self._c = consumer

    def subscribe(
        self, topics: Sequence[str], on_assign: Callable, on_revoke: Callable, on_lost: Callable
    ) -> None:
        def assigned(_consumer, partitions) -> None:
            on_assign([(p.topic, p.partition) for p in partitions])

        def revoked(_consumer, partitions) -> None:
            on_revoke([(p.topic, p.partition) for p in partitions])

        def lost(_consumer, partitions) -> None:
            on_lost([(p.topic, p.partition) for p in partitions])

        self._c.subscribe(list(topics), on_assign=assigned, on_revoke=revoked, on_lost=lost)

    def consume(self, max_records: int, timeout_s: float) -> list:
        return self._c.consume(max_records, timeout_s)

    def committed(self, partitions: Iterable[tuple[str, int]], timeout_s: float) -> Offsets:
        """Committed offsets (librdkafka asks with RequireStable under read_committed, so an
        offset a pending transaction is committing is waited for, never read stale);
        partitions without a committed offset are absent."""
        tps = [_tp(t, p) for t, p in partitions]
        out: Offsets = {}
        for tp in self._c.committed(tps, timeout=timeout_s):
            if tp.error is not None:
                from confluent_kafka import KafkaException

                raise KafkaException(tp.error)
            if tp.offset >= 0:
                out[(tp.topic, tp.partition)] = tp.offset
        return out

    def assign(self, offsets: Offsets) -> None:
        self._c.assign([_tp(t, p, o) for (t, p), o in offsets.items()])

    def unassign(self) -> None:
        self._c.unassign()

    def seek(self, topic: str, partition: int, offset: int) -> None:
        self._c.seek(_tp(topic, partition, offset))

    def pause(self, partitions: Iterable[tuple[str, int]]) -> None:
        tps = [_tp(t, p) for t, p in partitions]
        if tps:
            self._c.pause(tps)

    def resume(self, partitions: Iterable[tuple[str, int]]) -> None:
        tps = [_tp(t, p) for t, p in partitions]
        if tps:
            self._c.resume(tps)

    def lagging(
        self, topic: str, partition: int, position: int | None, known_end: int | None = None
    ) -> bool:
        """Whether the partition has records in Kafka beyond ``position`` (the next offset the
        worker will process; negative or None: unknown), by what librdkafka last saw in a
        fetch response, or ``known_end`` (an end asked of the broker since) if that is
        further. Unknown counts as lagging: the caller waits a bounded time."""
        marks = self.cached_watermarks(topic, partition)
        if marks is None:
            return True  # no fetch response yet
        low, high = marks
        if known_end is not None and known_end > high:
            high = known_end
        consumed = self._c.position([_tp(topic, partition)])[0].offset
        if consumed >= 0:  # librdkafka's own position also steps over transaction markers
            position = consumed
        elif position is None or position < 0:
            position = low
        return position < high

    def end_offsets(self, partitions: Iterable[tuple[str, int]], timeout_s: float) -> Offsets:
        """The end of each partition, asked of the broker now (not librdkafka's cache);
        partitions it could not tell are left out: the first failure ends the asking."""
        out: Offsets = {}
        for topic, partition in partitions:
            try:
                _, high = self._c.get_watermark_offsets(
                    _tp(topic, partition), timeout=timeout_s, cached=False
                )
            except Exception as exc:
                log.info(
                    "end of %s[%d] not known (%s): its fetches will tell", topic, partition, exc
                )
                break
            out[(topic, partition)] = high
        return out

    def cached_watermarks(self, topic: str, partition: int) -> tuple[int, int] | None:
        """(low, high) as librdkafka last saw them in a fetch response (no request); None
        before the first fetch."""
        try:
            low, high = self._c.get_watermark_offsets(_tp(topic, partition), cached=True)
        except Exception:
            return None
        return None if high < 0 else (low, high)

    def positions(self, partitions: Iterable[tuple[str, int]]) -> Offsets:
        """librdkafka's position of each partition: after the last record it handed out, and
        after any transaction marker that followed it (negative: nothing handed out yet)."""
        tps = [_tp(t, p) for t, p in partitions]
        if not tps:
            return {}
        return {(tp.topic, tp.partition): tp.offset for tp in self._c.position(tps)}

    def group_metadata(self) -> Any:
        return self._c.consumer_group_metadata()

    def membership(self, group_metadata: Any) -> tuple[int, str]:
        """(generation, member id) that ``group_metadata`` carries into a transaction.

        librdkafka hands the metadata out serialized: ``CGMDv2:``, the generation as a native
        int32, then the NUL-terminated group id and member id. The runtime needs the two
        because the broker checks a transactional offset commit against the group *only if*
        it names a member or a generation: one with generation -1 and no member id (what
        librdkafka reports between losing its membership and joining again) is accepted
        unchecked, so a zombie's commit would go through (docs/processor.md, "Fencing")."""
        return parse_membership(group_metadata)

    def close(self) -> None:
        self._c.close()


_CGMD_MAGIC = b"CGMDv2:"


def parse_membership(group_metadata: bytes) -> tuple[int, str]:
    """(generation, member id) of librdkafka's serialized consumer group metadata."""
    import struct

    data = bytes(group_metadata)
    if not data.startswith(_CGMD_MAGIC):
        raise ValueError(f"consumer group metadata in an unknown format: {data[:16]!r}")
    at = len(_CGMD_MAGIC)
    (generation,) = struct.unpack_from("=i", data, at)
    group_end = data.index(b"\0", at + 4)
    member_end = data.index(b"\0", group_end + 1)
    return generation, data[group_end + 1 : member_end].decode()


class TxnProducer:
    """The worker's transactional producer: one transaction per commit interval."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._p = make()

    def init(self, timeout_s: float) -> None:
        self._p.init_transactions(timeout_s)

    def renew(self, timeout_s: float) -> None:
        """After a fatal error the producer is unusable: a new one with the same
        transactional id fences the old and aborts its open transaction."""
        try:
            self._p.flush(0)
        except Exception:
            pass
        self._p = self._make()
        self._p.init_transactions(timeout_s)

    def begin(self) -> None:
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
        produce = self._p.produce
        while True:
            try:
                if on_delivery is None and headers is None:  # nearly every record
                    # Positional only: parsing keyword arguments is a good part of the call.
                    produce(topic, value, key, partition)
                elif on_delivery is None:
                    produce(topic, value, key, partition, headers=headers)
                else:
                    produce(topic, value, key, partition, headers=headers, on_delivery=on_delivery)
                return
            except BufferError:
                # librdkafka's queue is full: serve delivery reports until there is room.
                self._p.poll(0.05)

    @property
    def instance(self) -> Any:
        """The librdkafka producer in use now; :meth:`renew` replaces it."""
        return self._p

    # A commit runs on a thread of its own and can outlive the producer it began with (a
    # broker restart: the runtime gives up on it, renews the producer and starts again).
    # Bound to that ``instance``, a late call can only reach the old, fenced producer: never
    # commit, half-built, the transaction the new producer has open.

    def send_offsets(
        self, offsets: Offsets, group_metadata: Any, timeout_s: float, instance: Any = None
    ) -> None:
        p = self._p if instance is None else instance
        tps = [_tp(t, part, o) for (t, part), o in offsets.items()]
        _bounded(lambda: p.send_offsets_to_transaction(tps, group_metadata, timeout_s), timeout_s)

    def commit(self, timeout_s: float, instance: Any = None) -> None:
        p = self._p if instance is None else instance
        _bounded(lambda: p.commit_transaction(timeout_s), timeout_s)

    def abort(self, timeout_s: float) -> None:
        # Flush first: an abort right after the transaction's first records can fail with a
        # fatal INVALID_TXN_STATE (librdkafka#4849); once they are delivered it cannot.
        self._p.flush(timeout_s)
        self._p.abort_transaction(timeout_s)

    def poll(self, timeout_s: float = 0.0) -> int:
        return self._p.poll(timeout_s)

    def close(self, timeout_s: float) -> None:
        self._p.flush(timeout_s)


def _bounded(call: Callable[[], None], timeout_s: float, grace_s: float = 5.0) -> None:
    """``call()``, given up on ``grace_s`` after its own timeout.

    librdkafka's ``send_offsets_to_transaction`` can block far past its timeout when the group
    coordinator went away (a broker restart: librdkafka#5456, #5511, open). Run on a thread of
    its own, a call that does not return in time is reported as a fatal error: the runtime
    then replaces the producer (a new one, same transactional id, fences the stuck one) and
    starts its tasks again from what Kafka committed. The stuck call's thread is left to end
    whenever librdkafka lets it."""
    from confluent_kafka import KafkaError, KafkaException

    outcome: list = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # handed to the caller's thread
            outcome.append(exc)

    worker = threading.Thread(target=run, name="txn-call", daemon=True)
    worker.start()
    worker.join(timeout_s + grace_s)
    if not outcome:
        raise KafkaException(
            KafkaError(
                KafkaError._TIMED_OUT, f"transaction call stuck past {timeout_s} s", fatal=True
            )
        )
    if outcome[0] is not None:
        raise outcome[0]


class ChangelogReader:
    """A consumer outside the group that reads changelog partitions back (read_committed):
    aborted records, a zombie's among them, are never restored."""

    def __init__(self, consumer, watermarks=None, probe: Callable[[], Any] | None = None) -> None:
        self._c = consumer
        self._watermarks = watermarks  # an idle read_uncommitted consumer, for end offsets
        self._probe = probe  # makes a read_committed consumer with enable.partition.eof

    def assign(self, offsets: Offsets) -> None:
        self._c.assign([_tp(t, p, o) for (t, p), o in offsets.items()])

    def unassign(self) -> None:
        self._c.unassign()

    def consume(self, max_records: int, timeout_s: float) -> list:
        return self._c.consume(max_records, timeout_s)

    def committed_at(
        self, topic: str, partition: int, offset: int, timeout_s: float
    ) -> bool | None:
        """Whether the changelog record at ``offset`` is committed: True when a read_committed
        fetch from there hands out exactly that record, False when it skips it (its
        transaction was aborted), None when that is not known within ``timeout_s`` (its
        transaction is still open). Asked of a consumer of its own, so that the restores this
        reader is running are not disturbed."""
        from confluent_kafka import KafkaError

        if self._probe is None:
            return None  # no way to ask: not known
        probe = self._probe()
        try:
            probe.assign([_tp(topic, partition, offset)])
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                for m in probe.consume(1, 0.1):
                    err = m.error()
                    if err is None:
                        return m.offset() == offset
                    if err.code() == KafkaError._PARTITION_EOF and m.offset() > offset:
                        return False  # skipped: aborted
                    # the end at or before it: its transaction is still open, for now
            return None
        finally:
            probe.close()

    def end_offset(self, topic: str, partition: int, timeout_s: float) -> tuple[int, int]:
        """(first offset, high watermark) of a changelog partition: a restore reads on until it
        has passed the high watermark, every record written when it began. Not the last
        stable offset (what a read_committed client's query answers): a zombie's open
        transaction holds that back, and records committed after it would be missed. Asked
        of an idle read_uncommitted consumer (one that is fetching answers only after its
        fetch wait)."""
        return self._watermarks.get_watermark_offsets(_tp(topic, partition), timeout=timeout_s)

    def close(self) -> None:
        self._c.close()
        if self._watermarks is not None:
            self._watermarks.close()
