"""A Faust table used as a partitioned key-value store with a fast changelog writer.

Faust keeps the table's local store (RocksDB per partition, or a dict) and restores it from
the changelog topic on assignment; that is what we use Faust's tables for. Writes, however,
do not go through ``table[key] = value``: that path sends the changelog record through Faust's
producer (~100 µs a record) and picks the partition from the "current event", which a batch
of events does not have. We write the local store of an explicit partition and send the
changelog record through the :class:`DeliveryTracker`, so it counts towards the input events'
acknowledgement. The highest delivered changelog offset per partition is remembered and
written to RocksDB as Faust's "persisted offset" by :meth:`checkpoint` (periodically), so
recovery after a restart reads only what is newer.

This module is the only one that touches Faust store internals (``_dbs``, ``_key_index``,
``data``); it is covered by the processor's integration tests against both store kinds.
"""

from __future__ import annotations

from typing import Iterator

from faust.types import TP

from stocksignal.processor.delivery import DeliveryTracker, Record, Ticket


class StateStore:
    def __init__(self, table, tracker: DeliveryTracker) -> None:
        self._table = table
        self._tracker = tracker
        self._delivered: dict[int, int] = {}  # changelog partition -> highest delivered offset
        self._topic: str | None = None

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
        """The value of ``key`` in ``partition`` (None when absent or not held here)."""
        data = self._data
        if self._rocksdb():
            return data._db_for_partition(partition).get(key)
        return data.data.get(key)

    def scan(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) of one partition held locally (a snapshot for RocksDB)."""
        data = self._data
        if self._rocksdb():
            db = data._dbs.get(partition)
            if db is None:
                return
            for key, value in db.items():
                if key != data.offset_key:
                    yield key, value
            return
        owners = data._key_partition
        for key in [k for k, p in owners.items() if p == partition]:
            value = data.data.get(key)
            if value is not None:
                yield key, value

    # --- writes ----------------------------------------------------------------------------

    def put(self, key: bytes, value: bytes, partition: int, ticket: Ticket) -> None:
        """Write locally and to the changelog partition ``partition`` (the command's)."""
        data = self._data
        if self._rocksdb():
            data._db_for_partition(partition).put(key, value)
        else:
            data.data[key] = value
            data._key_partition[key] = partition
        ticket.add(Record(self.changelog_topic, partition, key, value))

    def delete(self, key: bytes, partition: int, ticket: Ticket) -> None:
        data = self._data
        if self._rocksdb():
            db = data._dbs.get(partition)
            if db is not None:
                db.delete(key)
        else:
            data.data.pop(key, None)
            data._key_partition.pop(key, None)
        ticket.add(Record(self.changelog_topic, partition, key, None))

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
