"""Which SKUs have holds coming due, per partition, so a timer tick costs O(due holds).

The index is in memory only: it is rebuilt from the state table when a partition is assigned
and kept current by the applier after every command. Entries can go stale (a hold confirmed or
cancelled); a stale entry costs one no-op ``ExpireHolds`` command at most, because only the
expiry recorded as the SKU's current one is acted on.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from stocksignal.domain import SkuState


@dataclass
class _PartitionHolds:
    heap: list[tuple[int, str]] = field(default_factory=list)
    scheduled: dict[str, int] = field(default_factory=dict)  # sku -> next expiry we will act on


class HoldIndex:
    def __init__(self) -> None:
        self._partitions: dict[int, _PartitionHolds] = {}

    def note(self, partition: int, state: SkuState) -> None:
        """Record the SKU's next hold expiry after a command changed (or re-confirmed) it."""
        holds = self._partitions.get(partition)
        if holds is None:
            return  # not (yet) indexed: the rebuild on assignment will find it
        due = state.next_hold_expiry()
        if due is None:
            holds.scheduled.pop(state.sku, None)
        elif holds.scheduled.get(state.sku) != due:
            holds.scheduled[state.sku] = due
            heapq.heappush(holds.heap, (due, state.sku))

    def rebuild(self, partition: int, states) -> None:
        """Index a newly assigned partition from its SKU states."""
        self._partitions[partition] = _PartitionHolds()
        for state in states:
            self.note(partition, state)

    def drop(self, partition: int) -> None:
        self._partitions.pop(partition, None)

    def indexed(self) -> set[int]:
        return set(self._partitions)

    def due(self, partition: int, now_ms: int) -> list[str]:
        """SKUs of ``partition`` with a hold due at ``now_ms``; each is handed out once."""
        holds = self._partitions.get(partition)
        if holds is None:
            return []
        skus: list[str] = []
        while holds.heap and holds.heap[0][0] <= now_ms:
            due, sku = heapq.heappop(holds.heap)
            if holds.scheduled.get(sku) == due:
                del holds.scheduled[sku]
                skus.append(sku)
        return skus
