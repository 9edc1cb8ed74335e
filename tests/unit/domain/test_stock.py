"""Returns, inbound, receipts, adjustments, counts and status changes (docs/semantics.md#stock-events)."""

from __future__ import annotations


def test_return_received_waits_in_pending_inspection_and_is_not_sellable(shop):
    outs = shop.send(
        "ReturnReceived",
        return_id="r1",
        order_id="o1",
        location_id="A",
        lines=[{"sku": "MUG", "qty": 2}],
    )

    (move,) = shop.movements(outs)
    assert (move.bucket, move.delta, move.reason, move.reference) == (
        "PENDING_INSPECTION",
        2,
        "RETURN_RECEIVED",
        "r1",
    )
    assert shop.ats("MUG") == {"default": 0}


def test_return_inspection_restocks_good_units_and_books_damaged_ones(shop):
    shop.send("ReturnReceived", return_id="r1", location_id="A", lines=[{"sku": "MUG", "qty": 2}])

    outs = shop.send(
        "ReturnInspected",
        return_id="r1",
        location_id="A",
        lines=[{"sku": "MUG", "qty_restock": 1, "qty_damaged": 1}],
    )

    assert shop.moves(outs) == [
        ("A", "PENDING_INSPECTION", -1, "RETURN_RESTOCKED"),
        ("A", "ON_HAND", 1, "RETURN_RESTOCKED"),
        ("A", "PENDING_INSPECTION", -1, "RETURN_DAMAGED"),
        ("A", "DAMAGED", 1, "RETURN_DAMAGED"),
    ]
    pos = shop.pos("MUG", "A")
    assert (pos.on_hand, pos.damaged, pos.pending_inspection) == (1, 1, 0)
    assert shop.ats("MUG") == {"default": 1}


def test_units_inspected_without_a_receipt_are_taken_as_received_now(shop):
    shop.send("ReturnReceived", return_id="r1", location_id="A", lines=[{"sku": "MUG", "qty": 1}])

    outs = shop.send(
        "ReturnInspected",
        return_id="r2",
        location_id="A",
        lines=[{"sku": "MUG", "qty_restock": 3, "qty_damaged": 0}],
    )

    assert shop.moves(outs)[0] == ("A", "PENDING_INSPECTION", 2, "RETURN_RECEIVED")
    assert "inspected_without_receipt" in shop.notes(outs)
    assert shop.pos("MUG", "A").pending_inspection == 0
    assert shop.pos("MUG", "A").on_hand == 3


def test_inbound_is_tracked_per_reference_and_never_sellable(shop):
    shop.send("InboundExpected", reference="PO-1", location_id="A", sku="MUG", qty=5)
    shop.send("InboundExpected", reference="PO-2", location_id="A", sku="MUG", qty=2)

    assert shop.pos("MUG", "A").inbound == 7
    assert shop.inv.state("MUG").inbound == {"A": {"PO-1": 5, "PO-2": 2}}
    assert shop.ats("MUG") == {"default": 0}


def test_receipt_clears_at_most_the_outstanding_inbound_of_its_reference(shop):
    shop.send("InboundExpected", reference="PO-1", location_id="A", sku="MUG", qty=5)
    shop.send("InboundExpected", reference="PO-2", location_id="A", sku="MUG", qty=2)

    partial = shop.receive("MUG", "A", 3, reference="PO-1")
    over = shop.receive("MUG", "A", 4, reference="PO-1")

    assert shop.moves(partial) == [("A", "ON_HAND", 3, "RECEIPT"), ("A", "INBOUND", -3, "RECEIPT")]
    assert shop.moves(over) == [("A", "ON_HAND", 4, "RECEIPT"), ("A", "INBOUND", -2, "RECEIPT")]
    assert shop.inv.state("MUG").inbound == {"A": {"PO-2": 2}}
    assert (shop.pos("MUG", "A").on_hand, shop.pos("MUG", "A").inbound) == (7, 2)


def test_receipt_without_or_with_an_unknown_reference_leaves_inbound_alone(shop):
    shop.send("InboundExpected", reference="PO-1", location_id="A", sku="MUG", qty=5)

    shop.receive("MUG", "A", 2)
    outs = shop.receive("MUG", "A", 1, reference="PO-9")

    assert shop.pos("MUG", "A").inbound == 5
    assert "receipt_without_inbound" in shop.notes(outs)


def test_positive_adjustment_adds_on_hand_with_its_reason(shop):
    outs = shop.adjust("MUG", "A", 4, reason="found in returns cage")

    (move,) = shop.movements(outs)
    assert (move.delta, move.reason, move.reason_detail) == (
        4,
        "ADJUSTMENT",
        "adjustment: found in returns cage",
    )


def test_negative_adjustment_beyond_on_hand_is_clamped_with_a_correction_first(shop):
    shop.receive("MUG", "A", 6)

    outs = shop.adjust("MUG", "A", -10)

    correction, adjustment = shop.movements(outs)
    assert (correction.reason, correction.delta, correction.balance_after) == ("CORRECTION", 4, 10)
    assert correction.reason_detail == "clamped: adjustment of -10 exceeded on_hand 6"
    assert (adjustment.reason, adjustment.delta, adjustment.balance_after) == ("ADJUSTMENT", -10, 0)
    assert shop.pos("MUG", "A").on_hand == 0


def test_negative_adjustment_below_reserved_reallocates_oldest_line_first_then_shorts(shop):
    shop.receive("MUG", "A", 3)
    shop.receive("MUG", "B", 2)
    shop.channel("web", "A", "B")
    shop.place("o1", "MUG", 2)  # A:2
    shop.place("o2", "MUG", 1)  # A:1

    outs = shop.adjust("MUG", "A", -3)

    # Both lines lose their units at A; the earlier order gets first call on B's two units.
    assert [shop.summary(d) for d in shop.decisions(outs)] == [
        ("o1", "REALLOCATED", 2, {"B": 2}),
        ("o2", "SHORTED", 0, {}),
    ]


def test_cycle_count_sets_on_hand_to_counted_plus_picked(shop):
    shop.receive("MUG", "A", 10)
    shop.place("o1", "MUG", 3)
    shop.pick("o1", "A", "MUG", 3)

    outs = shop.count("MUG", "A", 5)  # 5 in the bins; the 3 picked ones are in a tote

    (move,) = shop.movements(outs)
    assert (move.delta, move.balance_after, move.reason) == (-2, 8, "CYCLE_COUNT")
    assert move.reason_detail == "counted 5 in bins + 3 picked; books said 10"


def test_cycle_count_matching_the_books_changes_nothing(shop):
    shop.receive("MUG", "A", 4)

    outs = shop.count("MUG", "A", 4)

    assert outs[0].movements == [] and outs[0].availability is None


def test_cycle_count_below_reserved_shorts_most_recent_line_first(shop):
    shop.receive("MUG", "A", 5)
    shop.place("o1", "MUG", 2)
    shop.place("o2", "MUG", 2)

    outs = shop.count("MUG", "A", 3)

    assert [shop.summary(d) for d in shop.decisions(outs)] == [("o2", "SHORTED", 1, {"A": 1})]
    assert shop.alloc("MUG", "o1") == {"A": 2}
    pos = shop.pos("MUG", "A")
    assert (pos.on_hand, pos.reserved) == (3, 3)


def test_cycle_count_shortfall_takes_unpicked_units_before_picked_ones(shop):
    shop.receive("MUG", "A", 4)
    shop.place("o1", "MUG", 2)
    shop.place("o2", "MUG", 2)
    shop.pick("o2", "A", "MUG", 2)

    outs = shop.count("MUG", "A", 1)  # 1 in bins + 2 picked = 3 on hand, 4 reserved

    assert [shop.summary(d) for d in shop.decisions(outs)] == [("o1", "SHORTED", 1, {"A": 1})]
    assert shop.line("MUG", "o2").picked == {"A": 2}


def test_status_change_moves_units_between_buckets(shop):
    shop.receive("MUG", "A", 5)

    outs = shop.status("MUG", "A", 2, "SELLABLE", "QUALITY_HOLD")
    back = shop.status("MUG", "A", 1, "QUALITY_HOLD", "SELLABLE")

    assert shop.moves(outs) == [
        ("A", "ON_HAND", -2, "STATUS_CHANGE"),
        ("A", "QUALITY_HOLD", 2, "STATUS_CHANGE"),
    ]
    assert shop.moves(back) == [
        ("A", "QUALITY_HOLD", -1, "STATUS_CHANGE"),
        ("A", "ON_HAND", 1, "STATUS_CHANGE"),
    ]
    assert (shop.pos("MUG", "A").on_hand, shop.pos("MUG", "A").quality_hold) == (4, 1)


def test_writing_off_damaged_units_removes_them(shop):
    shop.receive("MUG", "A", 5)
    shop.status("MUG", "A", 2, "SELLABLE", "DAMAGED")

    outs = shop.status("MUG", "A", 2, "DAMAGED", "WRITTEN_OFF")

    assert shop.moves(outs) == [("A", "DAMAGED", -2, "STATUS_CHANGE")]
    assert shop.pos("MUG", "A").damaged == 0


def test_damaging_reserved_units_reallocates_their_lines(shop):
    shop.receive("MUG", "A", 2)
    shop.receive("MUG", "B", 2)
    shop.channel("web", "A", "B")
    shop.place("o1", "MUG", 2)  # A:2

    outs = shop.status("MUG", "A", 2, "SELLABLE", "DAMAGED")

    assert shop.summary(shop.decisions(outs)[0]) == ("o1", "REALLOCATED", 2, {"B": 2})


def test_status_change_from_a_bucket_short_of_units_believes_the_event(shop):
    shop.status("MUG", "A", 1, "SELLABLE", "DAMAGED")  # nothing was sellable

    pos = shop.pos("MUG", "A")
    assert (pos.on_hand, pos.damaged) == (0, 1)
