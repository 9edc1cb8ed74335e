"""Bring an assigned partition's store up to its changelog, a slice per step.

On assignment a store is first **checked**: its checkpoint must name this changelog (same
topic id: a re-created topic never matches), this layout, an offset within the changelog's
current range, and be younger than the changelog's tombstone retention. A store that fails
any check is wiped and restored from the beginning; one that passes is restored from its
checkpoint. Then the changelog is **read** (read_committed: aborted records, a fenced
zombie's among them, are never restored) until the reader reports the partition's end, each
slice written together with the checkpoint it reaches. The worker keeps polling its group
consumer meanwhile, so a long restore never costs it its membership.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from stocksignal.processor.ports import ChangelogReader
from stocksignal.processor.store import LAYOUT, Checkpoint, PartitionStore

log = logging.getLogger(__name__)

OFFSET_BEGINNING = -2  # librdkafka's logical offset


@dataclass
class Restoring:
    store: PartitionStore
    topic: str
    topic_id: str
    position: int  # next changelog offset to read
    end: int  # the changelog's high watermark when the restore began: it reads on until past it
    records: int = 0


class Restorer:
    def __init__(
        self,
        reader: ChangelogReader,
        topic_ids: dict[str, str],
        max_checkpoint_age_ms: int,
        clock: Callable[[], float] = time.time,
        on_wipe: Callable[[], None] = lambda: None,
    ) -> None:
        self.reader = reader
        self.on_wipe = on_wipe
        self.topic_ids = topic_ids
        self.max_checkpoint_age_ms = max_checkpoint_age_ms
        self.clock = clock
        self._active: dict[tuple[str, int], Restoring] = {}

    # --- starting ----------------------------------------------------------------------------

    def start(self, store: PartitionStore, topic: str) -> None:
        """Check the store against its changelog and queue it for restoring."""
        low, end = self.reader.end_offset(topic, store.partition, 30.0)
        topic_id = self.topic_ids[topic]
        start = self._start_offset(store, topic, topic_id, low, end)
        self._active[(topic, store.partition)] = Restoring(store, topic, topic_id, start, end)
        self._reassign()

    def _start_offset(
        self, store: PartitionStore, topic: str, topic_id: str, low: int, end: int
    ) -> int:
        cp = store.checkpoint()
        problem = self._mismatch(cp, topic, topic_id, low, end)
        if problem is None:
            assert cp is not None
            return cp.offset
        if cp is not None or store.scan(limit=1):
            log.warning(
                "store %s-%d: %s; wiping it and restoring from the changelog",
                store.name,
                store.partition,
                problem,
            )
            store.wipe()
            self.on_wipe()
        return low

    def _mismatch(
        self, cp: Checkpoint | None, topic: str, topic_id: str, low: int, end: int
    ) -> str | None:
        if cp is None:
            return "no checkpoint"
        if cp.changelog != topic or cp.topic_id != topic_id:
            return f"checkpoint is of {cp.changelog} ({cp.topic_id}), not of {topic} ({topic_id})"
        if cp.layout != LAYOUT:
            return f"store layout {cp.layout}, this version writes {LAYOUT}"
        if not low <= cp.offset <= end:
            return f"checkpoint offset {cp.offset} outside the changelog's {low}..{end}"
        age = self.clock() * 1000 - cp.written_at_ms
        if age > self.max_checkpoint_age_ms:
            return f"checkpoint is {age / 3_600_000:.1f} h old (tombstones may be compacted away)"
        return None

    def cancel(self, topic: str, partition: int) -> None:
        if self._active.pop((topic, partition), None) is not None:
            self._reassign()

    def cancel_all(self) -> None:
        if self._active:
            self._active.clear()
            self._reassign()

    def _reassign(self) -> None:
        offsets = {k: r.position for k, r in self._active.items() if r.position < r.end}
        if offsets:
            self.reader.assign(offsets)
        else:
            self.reader.unassign()

    # --- reading -----------------------------------------------------------------------------

    def step(self, max_records: int = 5000, timeout_s: float = 0.05) -> list[PartitionStore]:
        """Restore one slice; returns the stores that are now complete."""
        if not self._active:
            return []
        complete = {k for k, r in self._active.items() if r.position >= r.end}
        batches: dict[tuple[str, int], list[tuple[bytes, bytes | None]]] = {}
        if len(complete) < len(self._active):
            for m in self.reader.consume(max_records, timeout_s):
                key = (m.topic(), m.partition())
                r = self._active.get(key)
                if r is None:
                    continue
                err = m.error()
                if err is None:
                    batches.setdefault(key, []).append((m.key(), m.value()))
                    r.position = max(r.position, m.offset() + 1)
                elif err.code() == _PARTITION_EOF():
                    # The end as read_committed sees it (the last stable offset). Short of the
                    # high watermark the restore began with, an open transaction (a paused
                    # zombie's) still hides what follows it: wait until it is resolved (the
                    # broker aborts it after transaction.timeout.ms at the latest).
                    r.position = max(r.position, m.offset())
                    if r.position >= r.end:
                        complete.add(key)
                elif err.fatal():
                    raise _restore_error(err)
                else:  # a broker restarting, a leader moving: librdkafka retries by itself
                    log.warning("restoring %s[%d]: %s", key[0], key[1], err)
        now_ms = int(self.clock() * 1000)
        for key, records in batches.items():
            r = self._active[key]
            r.records += len(records)
            r.store.restore(records, Checkpoint(r.topic, r.topic_id, r.position, now_ms))
            if r.position >= r.end:
                complete.add(key)
        finished = []
        for key in complete:
            r = self._active.pop(key)
            if key not in batches:  # record where it ends (and how fresh the checkpoint is)
                r.store.restore([], Checkpoint(r.topic, r.topic_id, r.position, now_ms))
            log.info("store %s-%d restored: %d records", r.store.name, r.store.partition, r.records)
            finished.append(r.store)
        if finished:
            self._reassign()
        return finished

    def remaining(self) -> int:
        return sum(max(0, r.end - r.position) for r in self._active.values())

    def restoring(self) -> int:
        return len(self._active)


def _PARTITION_EOF() -> int:
    from confluent_kafka import KafkaError

    return KafkaError._PARTITION_EOF


def _restore_error(err) -> Exception:
    from confluent_kafka import KafkaException

    return KafkaException(err)
