"""A SKU's buckets at a log time, from its ``StockMoved`` records (pure).

The buckets of a ``(sku, location)`` at log time T are the sums of the deltas of its movements
*published* up to T (the records' timestamps). The ledger is kept for its topic's retention;
once retention has deleted a partition's oldest records, each bucket starts from the balance
before its first retained movement (``balance_after - delta``), and a bucket with no retained
movement at all has not changed since the ledger's first record: it holds what it holds now.
Both are exact for any T the retained ledger covers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stocksignal.domain import BUCKET_FIELDS

BUCKETS = tuple(BUCKET_FIELDS.values())  # on_hand, reserved, ... in the contract's order
BY_REFERENCE = ("reserved", "picked", "inbound")  # buckets whose references say who holds units

Buckets = dict[str, int]  # bucket field name -> units
Positions = dict[str, Buckets]  # location -> buckets


@dataclass(frozen=True)
class Moved:
    """One ``StockMoved`` record and when the ledger published it."""

    logged_at: int  # the record's timestamp, epoch ms
    offset: int
    record: Mapping[str, Any]

    @property
    def location_id(self) -> str:
        return self.record["location_id"]

    @property
    def bucket(self) -> str:
        return BUCKET_FIELDS[self.record["bucket"]]

    @property
    def delta(self) -> int:
        return self.record["delta"]


def balances_at(
    moves: Iterable[Moved],
    at: int,
    *,
    complete: bool = True,
    current: Mapping[str, Mapping[str, int]] | None = None,
) -> Positions:
    """location -> buckets at log time ``at``, for every location that had moved by then.

    ``complete``: the ledger holds the SKU's whole history (nothing of its partition was
    deleted yet). Otherwise ``current`` (the SKU's positions now) gives the buckets that did not
    move within the retained ledger.
    """
    seq = sorted(moves, key=lambda m: m.offset)
    first: dict[tuple[str, str], Moved] = {}
    sums: dict[tuple[str, str], int] = defaultdict(int)
    located: set[str] = set()
    for m in seq:
        key = (m.location_id, m.bucket)
        first.setdefault(key, m)
        if m.logged_at <= at:
            sums[key] += m.delta
            located.add(m.location_id)
    out: Positions = {}
    locations = located if complete else located | {loc for loc, _ in first} | set(current or {})
    for loc in sorted(locations):
        buckets = {b: _balance(loc, b, sums, first, complete, current) for b in BUCKETS}
        if loc in located or any(buckets.values()):
            out[loc] = buckets
    return out


def _balance(loc: str, bucket: str, sums, first, complete: bool, current) -> int:
    if complete:
        return sums.get((loc, bucket), 0)
    m = first.get((loc, bucket))
    if m is None:  # never moved within the retained ledger: as it is now
        return (current or {}).get(loc, {}).get(bucket, 0)
    return m.record["balance_after"] - m.delta + sums.get((loc, bucket), 0)


def held_by_reference(moves: Iterable[Moved], at: int) -> dict[str, dict[str, dict[str, int]]]:
    """bucket -> location -> reference -> units at ``at``, for the buckets whose movements name
    who holds the units: reserved and picked (the order), inbound (the purchase order or
    transfer). Only references with units left are listed."""
    sums: dict[tuple[str, str, str], int] = defaultdict(int)
    for m in moves:
        if m.logged_at <= at and m.bucket in BY_REFERENCE and m.record.get("reference"):
            sums[(m.bucket, m.location_id, m.record["reference"])] += m.delta
    out: dict[str, dict[str, dict[str, int]]] = {b: {} for b in BY_REFERENCE}
    for (bucket, loc, ref), units in sorted(sums.items()):
        if units:
            out[bucket].setdefault(loc, {})[ref] = units
    return out


def in_window(moves: Iterable[Moved], since: int, until: int) -> list[Moved]:
    """The movements published after ``since`` and up to ``until``, in ledger order."""
    return sorted((m for m in moves if since < m.logged_at <= until), key=lambda m: m.offset)


def net_change(moves: Iterable[Moved]) -> Positions:
    """location -> bucket -> the sum of the deltas (only buckets that changed)."""
    out: Positions = {}
    for m in moves:
        buckets = out.setdefault(m.location_id, {})
        buckets[m.bucket] = buckets.get(m.bucket, 0) + m.delta
    changed = {
        loc: {b: buckets[b] for b in BUCKETS if buckets.get(b)}
        for loc, buckets in sorted(out.items())
    }
    return {loc: buckets for loc, buckets in changed.items() if buckets}
