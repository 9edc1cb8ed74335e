"""Partition-local state: a committed store (RocksDB or a dict) under a transaction overlay.

Reads see the open transaction's own writes first. Writes go to the overlay only, and the
overlay *is* the transaction's changelog: at commit the runtime produces one changelog
record per key (its last value), and once the transaction has committed the overlay is
written to the local store in one atomic batch together with the changelog offset it brings
the store to (the checkpoint). So the local store only ever holds committed state and always
knows which changelog offset it reflects; an aborted transaction is forgotten by dropping the
overlay. docs/processor.md ("State") explains why this spares the wipe-after-crash that Kafka
Streams needs under exactly-once.

A store's checkpoint lives inside the store (key ``NUL NUL checkpoint``), written in the same
batch as the data it describes: the two can never disagree, whatever kills the process.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

CHECKPOINT_KEY = b"\x00\x00checkpoint"
# Bumped whenever the meaning of stored values changes: a store of another layout is wiped.
LAYOUT = 2

_DELETED = object()


class StoreLocked(RuntimeError):
    """Another process holds this state directory (two workers must not share one)."""


@dataclass(frozen=True)
class Checkpoint:
    """The changelog position a local store reflects: every committed record before
    ``offset`` of ``changelog`` (identified by its topic id, so a re-created topic of the same
    name never matches) is in the store."""

    changelog: str
    topic_id: str
    offset: int
    written_at_ms: int
    layout: int = LAYOUT

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "c": self.changelog,
                "id": self.topic_id,
                "o": self.offset,
                "t": self.written_at_ms,
                "l": self.layout,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Checkpoint:
        d = orjson.loads(data)
        return cls(d["c"], d["id"], d["o"], d["t"], d["l"])


class PartitionStore:
    """One partition's state; subclasses keep the committed part."""

    def __init__(self, name: str, partition: int) -> None:
        self.name = name
        self.partition = partition
        self.overlay: dict[bytes, object] = {}
        # The writes of the transaction being committed (the runtime goes on with the next
        # one meanwhile); they reach the committed store when that commit succeeded.
        self.committing: dict[bytes, object] = {}
        # Keys written since their changelog records were last produced: the runtime sends
        # them early (librdkafka delivers them while the worker goes on), so a commit waits
        # only for the last few.
        self.unsent: dict[bytes, object] = {}

    # --- reads (overlay first) ---------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        value = self.overlay.get(key)
        if value is None and self.committing:
            value = self.committing.get(key)
        if value is not None:
            return None if value is _DELETED else value  # type: ignore[return-value]
        return self._get(key)

    def committed(self, key: bytes) -> bytes | None:
        """The committed value only (the inspection API reads this, from its own thread)."""
        return self._get(key)

    def scan(
        self, prefix: bytes = b"", start: bytes = b"", limit: int = 1 << 62
    ) -> list[tuple[bytes, bytes]]:
        """Up to ``limit`` (key, value) pairs with ``prefix`` from ``start`` on, in key order,
        the overlay merged in. Materialised, so no iterator outlives a commit."""
        start = max(start, prefix)
        writes = {**self.committing, **self.overlay} if self.committing else self.overlay
        pending = sorted(k for k in writes if k.startswith(prefix) and k >= start)
        out: list[tuple[bytes, bytes]] = []
        committed = self._scan(start, prefix)
        ck, cv = next(committed, (None, None))
        i = 0
        while len(out) < limit:
            ok = pending[i] if i < len(pending) else None
            if ok is None and ck is None:
                break
            if ck is None or (ok is not None and ok <= ck):
                assert ok is not None  # both None ended the loop
                value = writes[ok]
                if value is not _DELETED:
                    out.append((ok, value))  # type: ignore[arg-type]
                i += 1
                if ck == ok:
                    ck, cv = next(committed, (None, None))
                continue
            if ck != CHECKPOINT_KEY:
                out.append((ck, cv))  # type: ignore[arg-type]
            ck, cv = next(committed, (None, None))
        return out

    # --- writes (overlay only) ---------------------------------------------------------------

    def put(self, key: bytes, value: bytes) -> None:
        self.overlay[key] = value
        self.unsent[key] = value

    def delete(self, key: bytes) -> None:
        self.overlay[key] = _DELETED
        self.unsent[key] = _DELETED

    def changes(self) -> Iterable[tuple[bytes, bytes | None]]:
        """The open transaction's writes: each written key once, with its last value."""
        for key, value in self.overlay.items():
            yield key, None if value is _DELETED else value  # type: ignore[misc]

    def take_unsent(self) -> list[tuple[bytes, bytes | None]]:
        """The changelog records to produce now: keys written since the last call, each once
        with its last value (a key written again later is produced again, later)."""
        unsent, self.unsent = self.unsent, {}
        return [(k, None if v is _DELETED else v) for k, v in unsent.items()]  # type: ignore[misc]

    def freeze(self) -> None:
        """The transaction is being committed: its writes move aside (still read), and the
        next transaction's start a new overlay."""
        assert not self.committing, "one commit at a time"
        self.committing, self.overlay = self.overlay, {}

    def committed_writes(self, checkpoint: Checkpoint | None) -> None:
        """The frozen transaction committed: make its writes (and the checkpoint) local."""
        more = [] if checkpoint is None else [(CHECKPOINT_KEY, checkpoint.to_bytes())]
        if self.committing or more:
            self._write_overlay(self.committing, more)
        self.committing = {}

    def _write_overlay(self, writes: dict[bytes, object], more: list[tuple[bytes, bytes]]) -> None:
        """Write an overlay (``_DELETED`` for a deleted key), then ``more``, in one batch.
        RocksStore writes it straight from the dict: a transaction holds thousands of keys."""
        changes: list[tuple[bytes, Any]] = [
            (k, None if v is _DELETED else v) for k, v in writes.items()
        ]
        self._write(changes + more)

    def commit(self, checkpoint: Checkpoint | None) -> None:
        """The open transaction committed (in one go): make its writes local."""
        self.freeze()
        self.committed_writes(checkpoint)
        self.unsent.clear()

    def discard(self) -> None:
        """The transaction aborted (and any after it): forget their writes."""
        self.overlay.clear()
        self.committing = {}
        self.unsent.clear()

    def restore(self, records: list[tuple[bytes, bytes | None]], checkpoint: Checkpoint) -> None:
        """Write changelog records read back from Kafka (committed ones only) and advance the
        checkpoint past them, in one batch."""
        self._write([*records, (CHECKPOINT_KEY, checkpoint.to_bytes())])

    def checkpoint(self) -> Checkpoint | None:
        raw = self._get(CHECKPOINT_KEY)
        if raw is None:
            return None
        try:
            return Checkpoint.from_bytes(raw)
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: treated as missing, so the store is wiped

    # --- for subclasses ----------------------------------------------------------------------

    def _get(self, key: bytes) -> bytes | None:
        raise NotImplementedError

    def _scan(self, start: bytes, prefix: bytes):
        raise NotImplementedError

    def _write(self, changes: list[tuple[bytes, bytes | None]]) -> None:
        raise NotImplementedError

    def wipe(self) -> None:
        """Empty the store (its checkpoint is missing or does not match the changelog)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class MemoryStore(PartitionStore):
    """A dict per partition: nothing survives the process, so every start restores fully."""

    def __init__(self, name: str, partition: int) -> None:
        super().__init__(name, partition)
        self.data: dict[bytes, bytes] = {}

    def _get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def _scan(self, start: bytes, prefix: bytes):
        for key in sorted(k for k in self.data if k >= start):
            if not key.startswith(prefix):
                return
            yield key, self.data[key]

    def _write(self, changes: list[tuple[bytes, bytes | None]]) -> None:
        data = self.data
        for key, value in changes:
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value

    def wipe(self) -> None:
        self.data.clear()
        self.discard()


class RocksStore(PartitionStore):
    """RocksDB through rocksdict, one database per partition.

    The write-ahead log is off: each batch (data plus checkpoint) is atomic, and a flush
    persists a prefix of batches, so after a crash the database is at some earlier checkpoint
    that still matches its data, and the restore reads on from there.
    """

    def __init__(self, name: str, partition: int, path: Path, resources: RocksResources) -> None:
        super().__init__(name, partition)
        self.path = path
        self._resources = resources
        self._db = self._open()

    def _open(self):
        import rocksdict

        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = rocksdict.Rdict(str(self.path), self._resources.options())
        except Exception as exc:  # rocksdict raises a bare Exception for a held LOCK
            if "lock" in str(exc).lower():
                raise StoreLocked(
                    f"state directory {self.path} is in use by another process: give every worker its own "
                    "STOCKSIGNAL_STATE_DIR"
                ) from exc
            raise
        db.set_write_options(self._resources.write_options())
        return db

    def _get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def _scan(self, start: bytes, prefix: bytes):
        for key, value in self._db.items(from_key=start):
            if not key.startswith(prefix):
                return
            yield key, value

    def _write(self, changes: list[tuple[bytes, bytes | None]]) -> None:
        import rocksdict

        wb = rocksdict.WriteBatch(raw_mode=True)
        for key, value in changes:
            if value is None:
                wb.delete(key)
            else:
                wb.put(key, value)
        self._db.write(wb)

    def _write_overlay(self, writes: dict[bytes, object], more: list[tuple[bytes, bytes]]) -> None:
        import rocksdict

        wb = rocksdict.WriteBatch(raw_mode=True)
        put, delete = wb.put, wb.delete
        for key, value in writes.items():
            if value is _DELETED:
                delete(key)
            else:
                put(key, value)
        for key, value in more:
            put(key, value)
        self._db.write(wb)

    def wipe(self) -> None:
        import rocksdict

        self._db.close()
        rocksdict.Rdict.destroy(str(self.path), self._resources.options())
        shutil.rmtree(self.path, ignore_errors=True)
        self.discard()
        self._db = self._open()

    def close(self) -> None:
        try:
            self._db.flush()  # a clean stop restores nothing next time
        finally:
            self._db.close()


class RocksResources:
    """Memory shared by every RocksDB of a worker: one block cache and one memtable budget,
    so memory is bounded per worker (docs/processor.md, "Memory"), not per partition."""

    def __init__(self, block_cache_mb: int, write_buffer_mb: int) -> None:
        import rocksdict

        self._cache = rocksdict.Cache(block_cache_mb << 20)
        self._wbm = rocksdict.WriteBufferManager(write_buffer_mb << 20, False)
        self._write_buffer = max(1, write_buffer_mb // 4) << 20

    def options(self):
        import rocksdict

        o = rocksdict.Options(raw_mode=True)
        o.create_if_missing(True)
        table = rocksdict.BlockBasedOptions()
        table.set_block_cache(self._cache)
        table.set_bloom_filter(10, False)
        o.set_block_based_table_factory(table)
        o.set_write_buffer_manager(self._wbm)
        o.set_write_buffer_size(self._write_buffer)
        o.set_max_write_buffer_number(2)
        o.set_max_background_jobs(2)
        o.set_keep_log_file_num(2)
        return o

    @staticmethod
    def write_options():
        import rocksdict

        w = rocksdict.WriteOptions()
        w.disable_wal = True
        return w


class StoreFactory:
    """Opens partition stores under ``state_dir/<app_id>/`` (created when missing)."""

    def __init__(
        self, kind: str, state_dir: str, app_id: str, block_cache_mb: int, write_buffer_mb: int
    ) -> None:
        self.kind = kind
        self.root = Path(state_dir) / app_id
        self._lock = threading.Lock()
        self._resources = (
            RocksResources(block_cache_mb, write_buffer_mb) if kind == "rocksdb" else None
        )

    def open(self, name: str, partition: int) -> PartitionStore:
        if self._resources is None:
            return MemoryStore(name, partition)
        with self._lock:
            return RocksStore(name, partition, self.root / f"{name}-{partition}", self._resources)


def instance_id(state_dir: str, app_id: str) -> str:
    """A stable id for this worker's state directory (its transactional id is built from it).

    Kept in the directory, so a restarted worker has the same transactional id and its
    ``init_transactions`` aborts whatever its previous life left open, at once instead of after
    the transaction timeout.
    """
    import uuid

    root = Path(state_dir) / app_id
    root.mkdir(parents=True, exist_ok=True)
    path = root / "instance-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = uuid.uuid4().hex[:12]
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(value + "\n")
        os.replace(tmp, path)
        return value


def now_ms() -> int:
    return int(time.time() * 1000)
