"""Everything the core keeps about one SKU between commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .lines import Line
from .positions import Position
from .symbols import StockLevel

# How many recently completed business keys (applied shipments, received transfers) a SKU
# remembers to recognise repeats that arrive under a new event id. A constant bound keeps a
# best-selling SKU's state small (docs/semantics.md#ids-replay-and-repeats); the dedupe window is the primary guard.
RECENT_KEYS = 32


@dataclass(frozen=True, slots=True)
class Transfer:
    """A dispatched transfer of this SKU that has not been received yet."""

    from_location_id: str
    to_location_id: str
    qty: int


@dataclass(slots=True)
class SkuState:
    """One SKU: positions, open lines, outstanding inbound, transfers in flight, counters.

    States are values: :func:`apply` never mutates the state it is given and shares unchanged
    positions and lines with the state it returns, so never mutate a state in place.

    ``version`` is the availability version: bumped only when a snapshot is emitted.
    ``next_seq`` numbers reservations so that "most recently reserved first" is decidable.
    ``inbound`` maps location -> reference -> outstanding units expected under that reference.
    ``levels`` maps channel -> the StockLevel of the last *published* snapshot (levels.py): a
    stock-level signal is the difference to it, so it lives in the state and is restored with
    it (a replay or a restore never signals a change twice).
    """

    sku: str
    version: int = 0
    next_seq: int = 0
    positions: dict[str, Position] = field(default_factory=dict)
    lines: dict[str, Line] = field(default_factory=dict)
    inbound: dict[str, dict[str, int]] = field(default_factory=dict)
    transfers: dict[str, Transfer] = field(default_factory=dict)
    recent: tuple[str, ...] = ()
    levels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def empty(cls, sku: str) -> SkuState:
        return cls(sku)

    def open_holds(self) -> list[tuple[int, str]]:
        """``(hold_expires_at, order_id)`` of every unconfirmed hold, soonest first."""
        return sorted(
            (line.hold_expires_at, order_id)
            for order_id, line in self.lines.items()
            if line.hold_expires_at is not None and not line.confirmed
        )

    def next_hold_expiry(self) -> int | None:
        # min, not open_holds()[0]: the processor asks after every command, and most SKUs
        # have no hold at all.
        return min(
            (
                line.hold_expires_at
                for line in self.lines.values()
                if line.hold_expires_at is not None and not line.confirmed
            ),
            default=None,
        )

    def to_dict(self) -> dict[str, Any]:
        """Compact JSON-able form (str/int/list/dict only); ``from_dict`` restores it exactly.
        It shares the state's dicts (no copies: the processor serializes a state on every
        command): read it, never change it."""
        d: dict[str, Any] = {
            "sku": self.sku,
            "v": self.version,
            "n": self.next_seq,
            "pos": {loc: p.to_list() for loc, p in self.positions.items()},
            "lines": {oid: line.to_dict() for oid, line in self.lines.items()},
        }
        if self.inbound:
            d["inb"] = self.inbound
        if self.transfers:
            d["xfer"] = {
                tid: [t.from_location_id, t.to_location_id, t.qty]
                for tid, t in self.transfers.items()
            }
        if self.recent:
            d["recent"] = list(self.recent)
        if self.levels:  # absent in states stored before v1.1: no level published yet
            d["lv"] = {ch: _LEVEL_CODE[lv] for ch, lv in self.levels.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SkuState:
        return cls(
            d["sku"],
            d["v"],
            d["n"],
            {loc: Position.from_list(v) for loc, v in d["pos"].items()},
            {oid: Line.from_dict(oid, v) for oid, v in d["lines"].items()},
            {loc: dict(refs) for loc, refs in d.get("inb", {}).items()},
            {tid: Transfer(*v) for tid, v in d.get("xfer", {}).items()},
            tuple(d.get("recent", ())),
            {ch: _CODE_LEVEL[code] for ch, code in d.get("lv", {}).items()},
        )


# One letter per level in the stored form: every SKU of a worker carries one per channel.
_LEVEL_CODE: dict[str, str] = {
    StockLevel.IN_STOCK: "I",
    StockLevel.LOW_STOCK: "L",
    StockLevel.OUT_OF_STOCK: "O",
}
_CODE_LEVEL = {code: level for level, code in _LEVEL_CODE.items()}
