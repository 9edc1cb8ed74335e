"""What must hold of any processor run, read as a consumer reads the output topics.

Each check takes decoded records and returns its problems (empty: it holds), so the end-to-end
tests assert them, ``make chaos`` prints the first one and the demo shows them as checks: one
copy of each rule (docs/semantics.md). Standard library only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

BUCKETS = (
    "on_hand",
    "reserved",
    "picked",
    "damaged",
    "quality_hold",
    "pending_inspection",
    "inbound",
)
Record = Mapping[str, Any]


def latest_snapshots(snapshots: Iterable[Record]) -> dict[str, Record]:
    """sku -> its snapshot of the highest version."""
    latest: dict[str, Record] = {}
    for a in snapshots:
        old = latest.get(a["sku"])
        if old is None or a["version"] > old["version"]:
            latest[a["sku"]] = a
    return latest


def ledger_problems(movements: Iterable[Record], latest: Mapping[str, Record]) -> list[str]:
    """The ledger explains every bucket: per (sku, location, bucket) the movements' deltas sum
    to the newest snapshot's balance. A movement read twice (the same ``movement_id``) counts
    once. ``movements`` in topic order also checks each ``balance_after`` as the running sum."""
    sums: dict[tuple[str, str, str], int] = defaultdict(int)
    seen: set[str] = set()
    for m in movements:
        if m["movement_id"] in seen:
            continue
        seen.add(m["movement_id"])
        key = (m["sku"], m["location_id"], m["bucket"].lower())
        sums[key] += m["delta"]
        if sums[key] != m["balance_after"]:
            return [
                f"{key}: deltas sum to {sums[key]}, movement {m['movement_id']} says {m['balance_after']}"
            ]
    problems = []
    for sku, snap in sorted(latest.items()):
        for loc in snap["locations"]:
            for bucket in BUCKETS:
                ledger = sums.get((sku, loc["location_id"], bucket), 0)
                if ledger != loc[bucket]:
                    problems.append(
                        f"{sku}@{loc['location_id']} {bucket}: ledger {ledger}, snapshot {loc[bucket]}"
                    )
    return problems


def oversell_problems(snapshots: Iterable[Record]) -> list[str]:
    """Never oversold: in every snapshot published, reserved <= on_hand and no bucket < 0."""
    problems = []
    for snap in snapshots:
        for loc in snap["locations"]:
            if loc["reserved"] > loc["on_hand"] or min(loc[b] for b in BUCKETS) < 0:
                problems.append(
                    f"oversold or negative: {snap['sku']} v{snap['version']} {loc['location_id']}"
                )
    return problems
