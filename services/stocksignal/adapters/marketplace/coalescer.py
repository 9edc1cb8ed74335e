"""Pending changes per SKU: only the newest value is pushed, changes to or from 0 first.

Pure and single-threaded (the worker calls it from its event loop only). A SKU is in at most
one request at a time: a change that arrives while its SKU is in flight waits, and is compared
against what the in-flight request will leave on the marketplace.

Life of a change: ``offer`` (pending) -> ``take`` (in flight) -> ``complete`` (acknowledged),
``dead`` (dead-lettered) or ``release`` (transient failure: pending again, merged with anything
newer that arrived meanwhile). Each call that ends a change returns the Kafka positions it
stood for, to be resolved in the :class:`~.offsets.OffsetTracker`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from stocksignal.adapters.marketplace.offsets import Position
from stocksignal.adapters.marketplace.payload import Update


@dataclass(frozen=True)
class Known:
    """A value the marketplace holds (acknowledged) or will hold (in flight)."""

    available: int
    version: int


@dataclass
class Change:
    sku: str
    available: int
    version: int
    # The channel is no longer listed for the SKU: 0 is pushed to withdraw a value the
    # marketplace holds; with nothing there, there is nothing to withdraw.
    withdrawn: bool
    base: Known | None  # what the marketplace will hold just before this change
    positions: list[Position]
    seq: int  # first arrival: FIFO among changes of the same priority
    since: float  # first arrival time, for the linger
    attempts: int = 0
    priority: bool = field(init=False)
    # (priority, seq) of this change's one valid heap entry; other entries for the SKU are
    # stale and skipped when popped (lazy deletion).
    entry: tuple[bool, int] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.reprioritise()

    def reprioritise(self) -> None:
        self.priority = is_zero_crossing(self.base, self.available, self.withdrawn)

    @property
    def unchanged(self) -> bool:
        if self.base is None:
            return self.withdrawn
        return self.base.available == self.available

    @property
    def update(self) -> Update:
        return Update(self.sku, self.available, self.version)


def is_zero_crossing(base: Known | None, available: int, withdrawn: bool = False) -> bool:
    """A change to 0 or from 0 (oversell or lost sales while it waits). Unknown base: 0 is one."""
    if base is None:
        return available == 0 and not withdrawn
    return (base.available == 0) != (available == 0)


@dataclass(frozen=True)
class Taken:
    batch: list[Change]  # to push, priority first
    unchanged: list[Change]  # equal to what the marketplace holds: resolved without a push


class Coalescer:
    def __init__(self, batch_size: int, linger_s: float) -> None:
        self.batch_size = batch_size
        self.linger_s = linger_s
        self.pending: dict[str, Change] = {}
        self.in_flight: dict[str, Change] = {}
        self._heaps: dict[bool, list[tuple[int, str]]] = {True: [], False: []}
        self._seq = itertools.count()

    # --- arrival -----------------------------------------------------------------------------

    def offer(
        self,
        sku: str,
        available: int,
        version: int,
        withdrawn: bool,
        position: Position,
        acked: Known | None,
        now: float,
    ) -> list[Position]:
        """Queue a change; returns its position at once if it is stale or a repeat."""
        pending, flying = self.pending.get(sku), self.in_flight.get(sku)
        newest = max((k.version for k in (pending, flying, acked) if k is not None), default=None)
        if newest is not None and version <= newest:
            return [position]
        if pending is not None:  # coalesce: the newer value replaces the waiting one
            pending.available, pending.version, pending.withdrawn = available, version, withdrawn
            pending.positions.append(position)
            self._requeue(pending)
            return []
        base = Known(flying.available, flying.version) if flying is not None else acked
        change = Change(sku, available, version, withdrawn, base, [position], next(self._seq), now)
        self._queue(change)
        return []

    # --- departure ---------------------------------------------------------------------------

    def ready_in(self, now: float) -> float | None:
        """Seconds until :meth:`take` has something (0: now), None when nothing waits."""
        if self._first(True) is not None:
            return 0.0
        first = self._first(False)
        if first is None:
            return None
        if self._takeable_count() >= self.batch_size:
            return 0.0
        return max(0.0, first.since + self.linger_s - now)

    def take(self, now: float) -> Taken:
        """The next batch, when one is due (see :meth:`ready_in`); else an empty one."""
        if self.ready_in(now) != 0.0:
            return Taken([], [])
        batch: list[Change] = []
        unchanged: list[Change] = []
        blocked: list[tuple[bool, tuple[int, str]]] = []
        for priority in (True, False):
            heap = self._heaps[priority]
            while heap and len(batch) < self.batch_size:
                seq, sku = heapq.heappop(heap)
                change = self.pending.get(sku)
                if change is None or change.entry != (priority, seq):
                    continue  # stale entry
                if sku in self.in_flight:
                    blocked.append((priority, (seq, sku)))
                    continue
                del self.pending[sku]
                change.entry = None  # popped: a release must queue it anew
                if change.unchanged:
                    unchanged.append(change)
                else:
                    self.in_flight[sku] = change
                    batch.append(change)
        for priority, entry in blocked:
            heapq.heappush(self._heaps[priority], entry)
        return Taken(batch, unchanged)

    def complete(self, changes: Iterable[Change]) -> list[Position]:
        """The marketplace acknowledged ``changes`` (and the ack is remembered)."""
        positions: list[Position] = []
        for change in changes:
            self.in_flight.pop(change.sku, None)
            positions += change.positions
            waiting = self.pending.get(change.sku)
            if waiting is not None:
                waiting.base = Known(change.available, change.version)
                self._requeue(waiting)
        return positions

    def dead(self, changes: Iterable[Change]) -> list[Position]:
        """``changes`` were dead-lettered: the marketplace keeps what it had before them."""
        positions: list[Position] = []
        for change in changes:
            self.in_flight.pop(change.sku, None)
            positions += change.positions
            waiting = self.pending.get(change.sku)
            if waiting is not None:
                waiting.base = change.base
                self._requeue(waiting)
        return positions

    def release(self, changes: Iterable[Change]) -> None:
        """A transient failure: pending again, behind nothing (they keep their first arrival)."""
        for change in changes:
            self.in_flight.pop(change.sku, None)
            change.attempts += 1
            waiting = self.pending.get(change.sku)
            if waiting is None:
                self._queue(change)
                continue
            # A newer value arrived meanwhile: it replaces the failed one and inherits its place.
            waiting.positions = change.positions + waiting.positions
            waiting.base = change.base
            waiting.seq = min(waiting.seq, change.seq)
            waiting.since = min(waiting.since, change.since)
            waiting.attempts = max(waiting.attempts, change.attempts)
            self._requeue(waiting)

    def drop_partitions(self, partitions: set[int]) -> None:
        """Forget waiting changes of revoked partitions (their new owner reads them again)."""
        for sku in [s for s, c in self.pending.items() if c.positions[0][0] in partitions]:
            del self.pending[sku]

    # --- bookkeeping -------------------------------------------------------------------------

    @property
    def waiting(self) -> int:
        return len(self.pending)

    @property
    def waiting_priority(self) -> int:
        return sum(1 for c in self.pending.values() if c.priority)

    def _queue(self, change: Change) -> None:
        self.pending[change.sku] = change
        self._requeue(change)

    def _requeue(self, change: Change) -> None:
        change.reprioritise()
        entry = (change.priority, change.seq)
        if change.entry != entry:
            change.entry = entry
            heapq.heappush(self._heaps[change.priority], (change.seq, change.sku))

    def _first(self, priority: bool) -> Change | None:
        """The oldest takeable change of a heap (drops superseded entries on the way)."""
        heap = self._heaps[priority]
        blocked = []
        found = None
        while heap:
            seq, sku = heap[0]
            change = self.pending.get(sku)
            if change is None or change.entry != (priority, seq):
                heapq.heappop(heap)
                continue
            if sku in self.in_flight:
                blocked.append(heapq.heappop(heap))
                continue
            found = change
            break
        for entry in blocked:
            heapq.heappush(heap, entry)
        return found

    def _takeable_count(self) -> int:
        # O(in flight), not O(pending): at most a few batches are ever in flight.
        return len(self.pending) - sum(1 for sku in self.in_flight if sku in self.pending)
