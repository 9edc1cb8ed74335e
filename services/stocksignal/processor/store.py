"""A Faust table used as a partitioned key-value store, written back once per batch.

Faust keeps the table's local store (RocksDB per partition, or a dict) and restores it from
the changelog topic on assignment; that is what we use Faust's tables for. Writes do not go
through ``table[key] = value``: that path sends each changelog record through Faust's
producer (~100 µs a record) and takes the partition from the "current event", which a batch
of events does not have. Instead writes are buffered for the batch being processed:

- reads see the batch's own writes first (read-your-writes);
- :meth:`flush` writes the buffer to the local store (one RocksDB ``WriteBatch`` per
  partition) and adds one changelog record per key — the key's *last* value — to the batch's
  ticket, in the order the keys were last written. A SKU written many times in a batch costs
  one record; and a key's record always follows the records written before its last write
  (a dedupe marker before the envelope that counts it).

The highest delivered changelog offset per partition is written to RocksDB as Faust's
"persisted offset" by :meth:`checkpoint` (periodically), so recovery after a restart reads
only what is newer.

This module is the only one that touches Faust store internals (``_dbs``, ``data``,
``_key_partition``); it is covered by the processor's integration tests against both store kinds.
"""

from __future__ import annotations

from typing import Iterator

from faust.types import TP

from stocksignal.processor.delivery import DeliveryTracker, Record, Ticket

_DELETED = object()


class StateStore:
    def __init__(self, table, tracker: DeliveryTracker) -> None:
        self._table = table
        self._tracker = tracker
        self._delivered: dict[int, int] = {}  # changelog partition -> highest delivered offset
        self._topic: str | None = None
        # (partition, key) -> value or _DELETED, in the order of each key's last write.
        self._pending: dict[tuple[int, bytes], object] = {}
        self._unwritten: dict[tuple[int, bytes], object] = {}  # not yet in the local store

    @property
    def changelog_topic(self) -> str:
        if self._topic is None:
            self._topic = self._table.changelog_topic.get_topic_name()
            self._tracker.listen(self._topic, self._on_delivered)
        return self._topic

    @property
    def _data(self):
        return self._table.data

    def _rocksdb(self) -> bool:
        return hasattr(self._data, "_dbs")

    # --- reads -----------------------------------------------------------------------------

    def get(self, key: bytes, partition: int) -> bytes | None:
        """The value of ``key`` in ``partition``, the batch's own writes included."""
        pending = self._unwritten.get((partition, key))
        if pending is not None:
            return None if pending is _DELETED else pending  # type: ignore[return-value]
        data = self._data
        if self._rocksdb():
            return data._db_for_partition(partition).get(key)
        return data.data.get(key)

    def scan(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) of one partition held locally, the batch's writes included."""
        return self.scan_from(partition, b"", b"")

    def scan_from(self, partition: int, start: bytes, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of one partition with ``prefix``, in key order, from ``start`` on."""
        self._write_local()
        data = self._data
        if self._rocksdb():
            db = data._dbs.get(partition)
            if db is None:
                return
            for key, value in db.items(from_key=start):
                if not key.startswith(prefix):
                    return
                if key != data.offset_key:  # Faust's own bookkeeping key
                    yield key, value
            return
        owners = data._key_partition
        keys = sorted(k for k, p in owners.items() if p == partition and k.startswith(prefix) and k >= start)
        for key in keys:
            value = data.data.get(key)
            if value is not None:
                yield key, value

    # --- writes ----------------------------------------------------------------------------

    def put(self, key: bytes, value: bytes, partition: int) -> None:
        self._buffer((partition, key), value)

    def delete(self, key: bytes, partition: int) -> None:
        self._buffer((partition, key), _DELETED)

    def _buffer(self, pk: tuple[int, bytes], value: object) -> None:
        # pop first: a re-written key moves to the end (its record must follow earlier ones).
        self._pending.pop(pk, None)
        self._pending[pk] = value
        self._unwritten[pk] = value

    def flush(self, ticket: Ticket) -> None:
        """Write the batch's buffer locally and queue its changelog records on ``ticket``."""
        self._write_local()
        topic = self.changelog_topic
        for (partition, key), value in self._pending.items():
            ticket.add(Record(topic, partition, key, None if value is _DELETED else value))  # type: ignore[arg-type]
        self._pending.clear()

    def _write_local(self) -> None:
        if not self._unwritten:
            return
        data = self._data
        if self._rocksdb():
            import rocksdict

            batches: dict[int, rocksdict.WriteBatch] = {}
            for (partition, key), value in self._unwritten.items():
                wb = batches.get(partition)
                if wb is None:
                    wb = batches[partition] = rocksdict.WriteBatch(raw_mode=True)
                if value is _DELETED:
                    wb.delete(key)
                else:
                    wb.put(key, value)
            for partition, wb in batches.items():
                data._db_for_partition(partition).write(wb)
        else:
            for (partition, key), value in self._unwritten.items():
                if value is _DELETED:
                    data.data.pop(key, None)
                    data._key_partition.pop(key, None)
                else:
                    data.data[key] = value
                    data._key_partition[key] = partition
        self._unwritten.clear()

    def discard(self, partition: int) -> None:
        """Forget buffered writes of a revoked partition (its events will be replayed)."""
        for pk in [pk for pk in self._pending if pk[0] == partition]:
            self._pending.pop(pk, None)
            self._unwritten.pop(pk, None)

    # --- persisted offsets -----------------------------------------------------------------

    def _on_delivered(self, partition: int, offset: int) -> None:
        if offset > self._delivered.get(partition, -1):
            self._delivered[partition] = offset

    def checkpoint(self) -> None:
        """Record, per partition still held, the highest changelog offset delivered so far."""
        data = self._data
        if not self._rocksdb():
            self._delivered.clear()
            return
        topic = self.changelog_topic
        delivered, self._delivered = self._delivered, {}
        for partition, offset in delivered.items():
            # A revoked partition's database is closed; writing would reopen it.
            if partition in data._dbs:
                data.set_persisted_offset(TP(topic, partition), offset)
