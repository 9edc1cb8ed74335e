"""Drop repeats of the processor's outputs by their ids (docs/contract.md#records).

The processor publishes exactly once to ``read_committed`` readers, but a reader still sees a
record twice when it re-reads after a crash before its commit, or reads
``read_uncommitted``. Every output carries a deterministic id, so a repeat is recognised:

=====================  ===================================================================
record                 dropped when
=====================  ===================================================================
AvailabilityChanged    its ``version`` is not above the last one seen for the SKU (a repeat
                       or an older snapshot: versions grow strictly per SKU)
StockLevelChanged      its ``version`` is not above the last one seen for the (SKU, channel)
ReservationDecided     its ``decision_id`` was seen (the newest ``max_ids`` ids are kept)
StockMoved             its ``movement_id`` was seen (likewise)
=====================  ===================================================================

>>> from stocksignal.client import RepeatFilter
>>> seen = RepeatFilter()
>>> snapshot = {"sku": "MUG", "version": 7, "channels": [], "locations": []}
>>> seen.is_new("AvailabilityChanged", snapshot), seen.is_new("AvailabilityChanged", snapshot)
(True, False)
>>> seen.is_new("AvailabilityChanged", {**snapshot, "version": 6})   # older than what was seen
False
>>> seen.is_new("StockMoved", {"movement_id": "m-1"}), seen.is_new("StockMoved", {"movement_id": "m-1"})
(True, False)

Memory: one version per SKU (and per SKU and channel for levels); at most ``max_ids`` ids per
record type for decisions and movements, whose repeats arrive close to the first copy.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

VERSIONED = {"AvailabilityChanged": ("sku",), "StockLevelChanged": ("sku", "channel_id")}
BY_ID = {"ReservationDecided": "decision_id", "StockMoved": "movement_id"}


class RepeatFilter:
    def __init__(self, max_ids: int = 100_000) -> None:
        if max_ids < 1:
            raise ValueError(f"max_ids must be >= 1, got {max_ids}")
        self.max_ids = max_ids
        self._versions: dict[tuple, int] = {}
        self._ids: dict[str, OrderedDict[str, None]] = {name: OrderedDict() for name in BY_ID}

    def is_new(self, record_name: str, record: Mapping[str, Any]) -> bool:
        """True the first time an output is seen; False for a repeat (or a stale snapshot).
        Records without a repeat rule (the DLQ's, inputs) are always new."""
        key_fields = VERSIONED.get(record_name)
        if key_fields is not None:
            key = (record_name, *(record[f] for f in key_fields))
            version = record["version"]
            if version <= self._versions.get(key, -1):
                return False
            self._versions[key] = version
            return True
        id_field = BY_ID.get(record_name)
        if id_field is None:
            return True
        ids = self._ids[record_name]
        output_id = record[id_field]
        if output_id in ids:
            ids.move_to_end(output_id)
            return False
        ids[output_id] = None
        if len(ids) > self.max_ids:
            ids.popitem(last=False)
        return True
