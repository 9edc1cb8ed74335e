"""What the router remembers of each order (design: docs/processor.md, "State"), and when.

``OrderConfirmed`` and whole-order ``OrderCancelled`` name no SKUs; the router fans them out
to the SKUs it saw placed. The memory lives in the store of the orders-topic partition the
order's events arrive on, and is forgotten ``order_retention_ms`` (log time) after the order
was last touched: an event for a forgotten order is then refused like one for an unknown
order (DLQ, VALIDATION_ERROR).
"""

from __future__ import annotations

import orjson

from stocksignal.domain import OrderRef
from stocksignal.processor.store import PartitionStore


class OrderMemory:
    def __init__(self, store: PartitionStore) -> None:
        self.store = store

    def get(self, order_id: str) -> OrderRef | None:
        raw = self.store.get(order_id.encode())
        return None if raw is None else OrderRef.from_dict(orjson.loads(raw)["ref"])

    def put(self, ref: OrderRef, logged_at: int) -> None:
        value = orjson.dumps({"ref": ref.to_dict(), "t": logged_at})
        self.store.put(ref.order_id.encode(), value)


def touched_at(value: bytes) -> int:
    """When an order's memory was last written (log time), from its stored value."""
    return orjson.loads(value)["t"]
