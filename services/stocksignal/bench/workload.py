"""A seeded, realistic stream of input events for benchmarks and end-to-end tests.

A small shop's day, scaled: orders of 1-5 lines (mostly 1-2), picks and shipments of placed
orders, cancellations, returns received and inspected, adjustments and replenishment
receipts. Events follow each other plausibly (a pick names a placed order's SKUs, a shipment
follows a pick) but the processor, not the generator, decides what is reserved: the generator
never needs to know the stock.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

# (record name, weight): what a day of events is made of.
MIX = (
    ("OrderPlaced", 40),
    ("PickConfirmed", 18),
    ("ShipmentConfirmed", 17),
    ("OrderCancelled", 5),
    ("ReturnReceived", 3),
    ("ReturnInspected", 2),
    ("StockAdjusted", 5),
    ("StockReceived", 10),
)
LINE_COUNT_WEIGHTS = (40, 25, 15, 12, 8)  # 1..5 lines


@dataclass
class Event:
    name: str
    record: dict

    @property
    def skus(self) -> set[str]:
        if "sku" in self.record:
            return {self.record["sku"]}
        return {line["sku"] for line in self.record.get("lines") or ()}


@dataclass
class Workload:
    skus: int = 10_000
    locations: int = 3
    seed: int = 1
    channel_id: str = "web"
    hold_ms: int | None = None  # when set, orders are holds expiring this long after placement
    hold_share: float = 0.0  # share of orders that are holds
    _rnd: random.Random = field(init=False)
    _placed: deque = field(init=False)
    _picked: deque = field(init=False)
    _shipped: deque = field(init=False)
    _received_returns: deque = field(init=False)
    _n: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._rnd = random.Random(self.seed)
        self._placed, self._picked = deque(maxlen=5000), deque(maxlen=5000)
        self._shipped, self._received_returns = deque(maxlen=5000), deque(maxlen=5000)

    # --- helpers ---------------------------------------------------------------------------

    def sku(self, i: int | None = None) -> str:
        return f"SKU-{self._rnd.randrange(self.skus) if i is None else i:05d}"

    def location(self, i: int | None = None) -> str:
        return f"WH-{self._rnd.randrange(self.locations) if i is None else i}"

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}-{self.seed}-{self._n}"

    def _common(self, now_ms: int) -> dict:
        # uuid from the seeded generator: the same workload always has the same ids.
        return {
            "event_id": str(uuid.UUID(int=self._rnd.getrandbits(128))),
            "occurred_at": now_ms,
            "source": "bench",
        }

    # --- events ----------------------------------------------------------------------------

    def seed_stock(self, qty: int, now_ms: int) -> Iterator[Event]:
        """One receipt per SKU and location: the starting stock."""
        for s in range(self.skus):
            for loc in range(self.locations):
                yield Event(
                    "StockReceived",
                    {
                        **self._common(now_ms),
                        "reference": None,
                        "location_id": self.location(loc),
                        "sku": self.sku(s),
                        "qty": qty,
                    },
                )

    def channel(self, now_ms: int, safety_stock: int = 0) -> Event:
        locations = [self.location(i) for i in range(self.locations)]
        return Event(
            "ChannelConfigured",
            {
                **self._common(now_ms),
                "channel_id": self.channel_id,
                "location_ids": locations,
                "safety_stock": safety_stock,
            },
        )

    def next(self, now_ms: int) -> Event:
        names, weights = zip(*MIX)
        name = self._rnd.choices(names, weights)[0]
        make = getattr(self, "_" + name)
        return make(now_ms) or self._OrderPlaced(now_ms)

    def stream(self, count: int, now_ms: int) -> Iterator[Event]:
        for _ in range(count):
            yield self.next(now_ms)

    def _OrderPlaced(self, now_ms: int) -> Event:
        n = self._rnd.choices(range(1, 6), LINE_COUNT_WEIGHTS)[0]
        skus = {self.sku() for _ in range(n)}
        lines = [{"sku": s, "qty": self._rnd.randint(1, 3)} for s in sorted(skus)]
        order_id = self._id("O")
        hold = None
        if self.hold_ms is not None and self._rnd.random() < self.hold_share:
            hold = now_ms + self.hold_ms
        self._placed.append((order_id, lines))
        return Event(
            "OrderPlaced",
            {
                **self._common(now_ms),
                "order_id": order_id,
                "channel_id": self.channel_id,
                "lines": lines,
                "hold_expires_at": hold,
            },
        )

    def _PickConfirmed(self, now_ms: int) -> Event | None:
        if not self._placed:
            return None
        order_id, lines = self._placed.popleft()
        location = self.location()
        short = self._rnd.random() < 0.05
        pick_lines = [
            {
                "sku": l["sku"],
                "qty_picked": l["qty"] - (1 if short and i == 0 else 0),
                "qty_short": 1 if short and i == 0 else 0,
            }
            for i, l in enumerate(lines)
        ]
        pick_lines = [l for l in pick_lines if l["qty_picked"] + l["qty_short"] > 0]
        self._picked.append((order_id, location, lines))
        return Event(
            "PickConfirmed",
            {
                **self._common(now_ms),
                "order_id": order_id,
                "location_id": location,
                "lines": pick_lines,
            },
        )

    def _ShipmentConfirmed(self, now_ms: int) -> Event | None:
        if not self._picked:
            return None
        order_id, location, lines = self._picked.popleft()
        self._shipped.append((order_id, location, lines))
        return Event(
            "ShipmentConfirmed",
            {
                **self._common(now_ms),
                "shipment_id": self._id("S"),
                "order_id": order_id,
                "location_id": location,
                "lines": [{"sku": l["sku"], "qty": l["qty"]} for l in lines],
            },
        )

    def _OrderCancelled(self, now_ms: int) -> Event | None:
        if not self._placed:
            return None
        order_id, _ = self._placed.pop()
        return Event(
            "OrderCancelled",
            {**self._common(now_ms), "order_id": order_id, "lines": None, "reason": "customer"},
        )

    def _ReturnReceived(self, now_ms: int) -> Event | None:
        if not self._shipped:
            return None
        order_id, location, lines = self._shipped.popleft()
        line = lines[0]
        return_id = self._id("R")
        self._received_returns.append((return_id, location, line))
        return Event(
            "ReturnReceived",
            {
                **self._common(now_ms),
                "return_id": return_id,
                "order_id": order_id,
                "location_id": location,
                "lines": [{"sku": line["sku"], "qty": line["qty"]}],
            },
        )

    def _ReturnInspected(self, now_ms: int) -> Event | None:
        if not self._received_returns:
            return None
        return_id, location, line = self._received_returns.popleft()
        damaged = 1 if self._rnd.random() < 0.3 else 0
        return Event(
            "ReturnInspected",
            {
                **self._common(now_ms),
                "return_id": return_id,
                "location_id": location,
                "lines": [
                    {
                        "sku": line["sku"],
                        "qty_restock": line["qty"] - damaged,
                        "qty_damaged": damaged,
                    }
                ],
            },
        )

    def _StockAdjusted(self, now_ms: int) -> Event:
        delta = self._rnd.choice([-2, -1, 1, 2, 5])
        return Event(
            "StockAdjusted",
            {
                **self._common(now_ms),
                "location_id": self.location(),
                "sku": self.sku(),
                "qty_delta": delta,
                "reason": "bench adjustment",
            },
        )

    def _StockReceived(self, now_ms: int) -> Event:
        return Event(
            "StockReceived",
            {
                **self._common(now_ms),
                "reference": None,
                "location_id": self.location(),
                "sku": self.sku(),
                "qty": self._rnd.randint(5, 20),
            },
        )
