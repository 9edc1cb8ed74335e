"""Which offset may be committed: the lowest offset not yet resolved, per partition.

A record is *resolved* once its value was acknowledged by the marketplace and remembered,
dead-lettered, found unchanged or stale, or superseded by a newer record of the same SKU that
is itself resolved (coalescing). Committing past an unresolved record could lose its value
on a crash, so the commit position is the smallest unresolved offset.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

Position = tuple[int, int]  # (partition, offset)


class OffsetTracker:
    def __init__(self) -> None:
        self._open: dict[int, list[int]] = {}  # min-heap of offsets seen, resolved or not
        self._resolved: dict[int, set[int]] = {}
        self._next: dict[int, int] = {}  # last offset seen + 1

    def seen(self, partition: int, offset: int) -> None:
        heapq.heappush(self._open.setdefault(partition, []), offset)
        self._resolved.setdefault(partition, set())
        self._next[partition] = max(self._next.get(partition, 0), offset + 1)

    def resolve(self, positions: Iterable[Position]) -> None:
        for partition, offset in positions:
            if partition in self._resolved:  # a partition forgotten on revoke stays forgotten
                self._resolved[partition].add(offset)

    def committable(self) -> dict[int, int]:
        """partition -> offset to commit (everything below it is resolved)."""
        result = {}
        for partition, heap in self._open.items():
            resolved = self._resolved[partition]
            while heap and heap[0] in resolved:
                resolved.discard(heapq.heappop(heap))
            result[partition] = heap[0] if heap else self._next[partition]
        return result

    def unresolved(self) -> int:
        return sum(len(heap) - len(self._resolved[p]) for p, heap in self._open.items())

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._open.pop(partition, None)
            self._resolved.pop(partition, None)
            self._next.pop(partition, None)
