"""Which SKUs of a command partition have holds coming due, so a timer tick costs O(due holds).

Each SKU with open holds has a small index key in the partition's store (``NUL H NUL sku`` ->
its next expiry), written with its state; a newly assigned partition builds its heap from
those keys alone, without reading every SKU. The heap can hold stale entries (a hold confirmed
or cancelled); a stale entry costs one no-op ``ExpireHolds`` command at most, because only the
expiry recorded as the SKU's current one is acted on.
"""

from __future__ import annotations

import heapq

from stocksignal.domain import SkuState
from stocksignal.processor.envelope import HOLD_PREFIX, Envelope, hold_key, is_sku_key
from stocksignal.processor.store import PartitionStore

# Written once a partition's hold keys are complete. A store without it (one written by the
# Faust-based processor, which kept no index) is indexed from its SKU states, once.
INDEXED_KEY = b"\x00\x00holds-indexed"


def _index_every_sku(store: PartitionStore, slice_keys: int = 2000) -> None:
    start = b"\x01"  # SKU keys are printable
    while True:
        items = store.scan(b"", start, slice_keys + 1)
        for key, raw in items[:slice_keys]:
            if is_sku_key(key):
                due = Envelope.from_bytes(raw).state.next_hold_expiry()
                if due is not None:
                    store.put(hold_key(key.decode()), b"%d" % due)
        if len(items) <= slice_keys:
            break
        start = items[slice_keys][0]
    store.put(INDEXED_KEY, b"1")


class HoldIndex:
    """The due-hold heap of one command partition."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, str]] = []
        self._scheduled: dict[str, int] = {}  # sku -> next expiry we will act on

    @classmethod
    def load(cls, store: PartitionStore) -> HoldIndex:
        if store.get(INDEXED_KEY) is None:
            _index_every_sku(store)
        index = cls()
        for key, value in store.scan(HOLD_PREFIX):
            index._schedule(key[len(HOLD_PREFIX) :].decode(), int(value))
        return index

    def note(self, store: PartitionStore, before: SkuState | None, after: SkuState) -> None:
        """Record the SKU's next hold expiry after a command; persist it if it changed."""
        due = after.next_hold_expiry()
        old = before.next_hold_expiry() if before is not None else None
        if due != old:
            if due is None:
                store.delete(hold_key(after.sku))
            else:
                store.put(hold_key(after.sku), b"%d" % due)
        if due is None:
            self._scheduled.pop(after.sku, None)
        elif self._scheduled.get(after.sku) != due:
            self._schedule(after.sku, due)

    def _schedule(self, sku: str, due: int) -> None:
        self._scheduled[sku] = due
        heapq.heappush(self._heap, (due, sku))

    def due(self, now_ms: int) -> list[str]:
        """SKUs with a hold due at ``now_ms``; each is handed out once."""
        heap, scheduled = self._heap, self._scheduled
        skus: list[str] = []
        while heap and heap[0][0] <= now_ms:
            due, sku = heapq.heappop(heap)
            if scheduled.get(sku) == due:
                del scheduled[sku]
                skus.append(sku)
        return skus

    def __len__(self) -> int:
        return len(self._scheduled)
