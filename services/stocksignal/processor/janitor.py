"""Forgetting what is no longer needed, a slice at a time, in log time.

- **Dedupe markers** older than the dedupe window: a marker that old no longer counts as a
  repeat (``within_window``), so deleting it changes no decision; it only bounds the store.
- **Order memory** not touched for ``order_retention_ms``.

A sweep of one partition walks its keys of one kind in order, at most ``slice_keys`` per
call, remembering where it stopped; a finished sweep starts again ``every_ms`` (log time)
later. Deletions are ordinary writes of the open transaction (a changelog tombstone each), so
the changelog stays as small as the live state. Time is the partition's newest log time,
never the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stocksignal.processor.store import PartitionStore


@dataclass
class _Sweep:
    cursor: bytes | None = None  # None: idle, waiting for the next run
    finished_at: int | None = None  # log time the last sweep finished


class Janitor:
    def __init__(
        self,
        prefix: bytes,
        expired: Callable[[bytes, int], bool],
        every_ms: int,
        slice_keys: int = 2000,
    ) -> None:
        self.prefix = prefix
        self.expired = expired  # (value, now_ms) -> bool
        self.every_ms = every_ms
        self.slice_keys = slice_keys
        self._sweeps: dict[int, _Sweep] = {}

    def sweep(self, store: PartitionStore, now_ms: int) -> int:
        """Advance the store's sweep by one slice; returns how many keys were deleted."""
        sweep = self._sweeps.setdefault(store.partition, _Sweep())
        if sweep.cursor is None:
            if sweep.finished_at is not None and now_ms - sweep.finished_at < self.every_ms:
                return 0
            sweep.cursor = self.prefix
        items = store.scan(self.prefix, sweep.cursor, self.slice_keys + 1)
        next_key = items[self.slice_keys][0] if len(items) > self.slice_keys else None
        doomed = [key for key, value in items[: self.slice_keys] if self.expired(value, now_ms)]
        for key in doomed:
            store.delete(key)
        sweep.cursor = next_key
        if next_key is None:
            sweep.finished_at = now_ms
        return len(doomed)

    def forget(self, partition: int) -> None:
        self._sweeps.pop(partition, None)
