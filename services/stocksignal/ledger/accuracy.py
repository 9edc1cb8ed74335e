"""Inventory record accuracy from cycle counts (pure): counts in, numbers per location out.

A count that agrees with the books publishes nothing (docs/semantics.md#stock-events), so the
ledger alone cannot say how many counts there were: the counts are the ``CountStock``
commands the processor applied, and a count *needed a correction* when the ledger holds its
``CYCLE_COUNT`` movement of ``on_hand`` (same SKU, location and cause event).

    inventory record accuracy = counts that needed no correction / counts
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Count:
    """One cycle count the processor applied."""

    sku: str
    location_id: str
    event_id: str
    logged_at: int
    counted_qty: int
    source: str | None = None


@dataclass(frozen=True)
class Correction:
    """The ``CYCLE_COUNT`` movement of ``on_hand`` a count caused."""

    sku: str
    location_id: str
    cause_event_id: str
    delta: int
    balance_after: int
    reason_detail: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.sku, self.location_id, self.cause_event_id)


@dataclass
class Tally:
    """The counts of one location (or of all)."""

    location_id: str
    counts: int = 0
    corrected: int = 0
    units_up: int = 0
    units_down: int = 0
    positions: set[tuple[str, str]] = field(default_factory=set)

    @property
    def agreed(self) -> int:
        return self.counts - self.corrected

    @property
    def accuracy(self) -> float | None:
        return self.agreed / self.counts if self.counts else None

    def add(self, count: Count, correction: Correction | None) -> None:
        self.counts += 1
        self.positions.add((count.sku, count.location_id))
        if correction is not None and correction.delta:
            self.corrected += 1
            if correction.delta > 0:
                self.units_up += correction.delta
            else:
                self.units_down -= correction.delta

    def to_json(self) -> dict:
        return {
            "location_id": self.location_id,
            "counts": self.counts,
            "positions": len(self.positions),
            "agreed": self.agreed,
            "corrected": self.corrected,
            "units_up": self.units_up,
            "units_down": self.units_down,
            "accuracy": self.accuracy,
        }


@dataclass(frozen=True)
class Corrected:
    count: Count
    correction: Correction

    def to_json(self) -> dict:
        c, m = self.count, self.correction
        return {
            "sku": c.sku,
            "location_id": c.location_id,
            "logged_at": c.logged_at,
            "counted_qty": c.counted_qty,
            "correction": m.delta,
            "on_hand_after": m.balance_after,
            "detail": m.reason_detail,
            "source": c.source,
            "event_id": c.event_id,
        }


@dataclass
class Accuracy:
    locations: dict[str, Tally]
    total: Tally
    largest: list[Corrected]


def unique(counts: Iterable[Count]) -> list[Count]:
    """Each (SKU, event id) once: a repeated event is dropped by the processor, it is no count."""
    seen: set[tuple[str, str]] = set()
    out = []
    for c in sorted(counts, key=lambda c: c.logged_at):
        if (c.sku, c.event_id) not in seen:
            seen.add((c.sku, c.event_id))
            out.append(c)
    return out


def accuracy(counts: Iterable[Count], corrections: Iterable[Correction], top: int = 10) -> Accuracy:
    by_key = {m.key: m for m in corrections}
    locations: dict[str, Tally] = {}
    total = Tally("all")
    corrected = []
    for count in unique(counts):
        correction = by_key.get((count.sku, count.location_id, count.event_id))
        locations.setdefault(count.location_id, Tally(count.location_id)).add(count, correction)
        total.add(count, correction)
        if correction is not None and correction.delta:
            corrected.append(Corrected(count, correction))
    corrected.sort(
        key=lambda c: (
            -abs(c.correction.delta),
            c.count.logged_at,
            c.count.sku,
            c.count.location_id,
        )
    )
    return Accuracy(dict(sorted(locations.items())), total, corrected[:top])
