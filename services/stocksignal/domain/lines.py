"""Open order lines: what each line has reserved where (docs/semantics.md#order-lines-reservations-and-holds).

A line is open while it holds a reservation; a line whose reservation reaches 0 (shipped,
released, expired or shorted to nothing) is closed and removed from the SKU's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Line:
    """One ``(order_id, sku)`` line of one SKU's state.

    ``alloc`` maps location -> reserved units (picked units included), ``picked`` maps
    location -> picked units; both hold only non-zero entries and ``picked[loc] <= alloc[loc]``.
    ``seq`` is the SKU's reservation sequence number at placement: larger = reserved later.
    """

    order_id: str
    channel_id: str
    qty: int
    seq: int
    alloc: dict[str, int] = field(default_factory=dict)
    picked: dict[str, int] = field(default_factory=dict)
    shipped: int = 0
    hold_expires_at: int | None = None
    confirmed: bool = False
    shipments: tuple[str, ...] = ()

    @property
    def reserved(self) -> int:
        return sum(self.alloc.values())

    def unpicked_at(self, location_id: str) -> int:
        return self.alloc.get(location_id, 0) - self.picked.get(location_id, 0)

    @property
    def is_hold(self) -> bool:
        """An unconfirmed reservation that expires at ``hold_expires_at``."""
        return self.hold_expires_at is not None and not self.confirmed

    def copy(self) -> Line:
        return Line(
            self.order_id,
            self.channel_id,
            self.qty,
            self.seq,
            dict(self.alloc),
            dict(self.picked),
            self.shipped,
            self.hold_expires_at,
            self.confirmed,
            self.shipments,
        )

    def to_dict(self) -> dict[str, Any]:
        """The stored form. It shares the line's dicts (no copies: a hot SKU's state is
        serialized on every command): read it, never change it."""
        # Short keys and omitted defaults: a hot SKU's state is rewritten on every command.
        d: dict[str, Any] = {
            "c": self.channel_id,
            "q": self.qty,
            "n": self.seq,
            "a": self.alloc,
        }
        if self.picked:
            d["p"] = self.picked
        if self.shipped:
            d["s"] = self.shipped
        if self.hold_expires_at is not None:
            d["h"] = self.hold_expires_at
        if self.confirmed:
            d["f"] = 1
        if self.shipments:
            d["x"] = list(self.shipments)
        return d

    @classmethod
    def from_dict(cls, order_id: str, d: dict[str, Any]) -> Line:
        return cls(
            order_id,
            d["c"],
            d["q"],
            d["n"],
            dict(d["a"]),
            dict(d.get("p", {})),
            d.get("s", 0),
            d.get("h"),
            bool(d.get("f", 0)),
            tuple(d.get("x", ())),
        )
