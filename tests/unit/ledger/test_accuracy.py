"""Inventory record accuracy from counts and their corrections (pure)."""

from __future__ import annotations

from stocksignal.domain import InMemoryInventory
from stocksignal.ledger.accuracy import Correction, Count, accuracy, unique


def counted(
    shop: InMemoryInventory, event_id: str, sku: str, loc: str, qty: int, source: str | None = None
):
    """Post a count to the reference model: (the Count, its Correction or None)."""
    outcomes = shop.post(
        "StockCounted", event_id=event_id, sku=sku, location_id=loc, counted_qty=qty, source=source
    )
    count = Count(sku, loc, event_id, shop.clock, qty, source)
    moves = [
        m
        for o in outcomes
        for m in o.movements
        if m.reason == "CYCLE_COUNT" and m.bucket == "ON_HAND"
    ]
    return count, [
        Correction(
            m.sku, m.location_id, m.cause_event_id, m.delta, m.balance_after, m.reason_detail
        )
        for m in moves
    ]


def test_accuracy_per_location_from_the_counts_and_the_ledger():
    shop = InMemoryInventory()
    shop.post("StockReceived", sku="MUG", location_id="BER", qty=10)
    shop.post("StockReceived", sku="LAMP", location_id="HAM", qty=3)
    counts, corrections = [], []
    for args in [
        ("c1", "MUG", "BER", 10),
        ("c2", "MUG", "BER", 7, "stock-import: bin 4 short"),
        ("c3", "LAMP", "HAM", 3),
        ("c4", "LAMP", "HAM", 5, "stock-import: found behind shelf"),
        ("c5", "MUG", "HAM", 0),
    ]:
        count, moves = counted(shop, *args)
        counts.append(count)
        corrections.extend(moves)
    result = accuracy(counts, corrections, top=1)
    ber, ham = result.locations["BER"], result.locations["HAM"]
    assert (ber.counts, len(ber.positions), ber.corrected, ber.units_up, ber.units_down) == (
        2,
        1,
        1,
        0,
        3,
    )
    assert (ham.counts, len(ham.positions), ham.corrected, ham.units_up, ham.units_down) == (
        3,
        2,
        1,
        2,
        0,
    )
    assert ber.accuracy == 0.5 and ham.accuracy == 2 / 3
    assert (result.total.counts, result.total.agreed, result.total.accuracy) == (5, 3, 0.6)
    (largest,) = result.largest
    assert largest.count.event_id == "c2" and largest.correction.delta == -3
    assert largest.to_json()["source"] == "stock-import: bin 4 short"
    assert "books said 10" in largest.correction.reason_detail


def test_a_repeated_count_event_is_one_count_and_a_foreign_correction_is_ignored():
    c = Count("MUG", "BER", "e1", 10, 4)
    repeat = Count("MUG", "BER", "e1", 20, 4)
    assert unique([repeat, c]) == [c]
    other = Correction(
        "MUG", "HAM", "e1", -2, 0
    )  # same event id, another position: not this count's
    result = accuracy([c, repeat], [other])
    assert result.total.counts == 1 and result.total.corrected == 0 and result.total.accuracy == 1.0


def test_no_counts_no_accuracy():
    result = accuracy([], [])
    assert result.total.counts == 0 and result.total.accuracy is None and result.locations == {}
