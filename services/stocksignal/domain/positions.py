"""A stock position: the buckets of one SKU at one location.

docs/semantics.md#stock-positions-and-available-to-sell says what each bucket holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from .symbols import Bucket

# Bucket symbol -> Position attribute, in the contract's order (also the serialised order).
BUCKET_FIELDS: dict[Bucket, str] = {
    Bucket.ON_HAND: "on_hand",
    Bucket.RESERVED: "reserved",
    Bucket.PICKED: "picked",
    Bucket.DAMAGED: "damaged",
    Bucket.QUALITY_HOLD: "quality_hold",
    Bucket.PENDING_INSPECTION: "pending_inspection",
    Bucket.INBOUND: "inbound",
}


@dataclass(slots=True)
class Position:
    """Integer buckets, all >= 0. ``reserved`` includes ``picked``; both are part of ``on_hand``.

    Positions inside a :class:`SkuState` are shared between successive states, so only the
    core's changeset (which copies before it writes) may mutate one.
    """

    on_hand: int = 0
    reserved: int = 0
    picked: int = 0
    damaged: int = 0
    quality_hold: int = 0
    pending_inspection: int = 0
    inbound: int = 0

    @property
    def sellable(self) -> int:
        free = self.on_hand - self.reserved  # not max(): this is the hottest line of the core
        return free if free > 0 else 0

    def copy(self) -> Position:
        return Position(
            self.on_hand,
            self.reserved,
            self.picked,
            self.damaged,
            self.quality_hold,
            self.pending_inspection,
            self.inbound,
        )

    def to_list(self) -> list[int]:
        return [
            self.on_hand,
            self.reserved,
            self.picked,
            self.damaged,
            self.quality_hold,
            self.pending_inspection,
            self.inbound,
        ]

    @classmethod
    def from_list(cls, values: list[int]) -> Position:
        return cls(*values)
