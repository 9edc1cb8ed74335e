"""Picks and shipments, short picks and unreserved shipments (docs/semantics.md#warehouse-events)."""

from __future__ import annotations


def test_pick_marks_reserved_units_as_picked(shop):
    shop.receive("MUG", "A", 5)
    shop.place("o1", "MUG", 3)

    outs = shop.pick("o1", "A", "MUG", 2)

    assert shop.moves(outs) == [("A", "PICKED", 2, "PICK")]
    assert shop.line("MUG", "o1").picked == {"A": 2}
    assert shop.decisions(outs) == []


def test_pick_at_a_location_without_allocation_moves_the_allocation_there(shop):
    shop.receive("MUG", "A", 5)
    shop.receive("MUG", "B", 5)
    shop.channel("web", "A", "B")
    shop.place("o1", "MUG", 2)  # A:2

    outs = shop.pick("o1", "B", "MUG", 2)

    (decision,) = shop.decisions(outs)
    assert shop.summary(decision) == ("o1", "REALLOCATED", 2, {"B": 2})
    assert decision.reason == "PICKED_AT_OTHER_LOCATION"
    assert shop.moves(outs) == [
        ("A", "RESERVED", -2, "REALLOCATION"),
        ("B", "RESERVED", 2, "REALLOCATION"),
        ("B", "PICKED", 2, "PICK"),
    ]


def test_pick_at_a_location_without_sellable_stock_leaves_the_allocation(shop):
    shop.receive("MUG", "A", 5)
    shop.receive("MUG", "B", 1)
    shop.channel("web", "A", "B")
    shop.channel("web2", "B")
    shop.place("o3", "MUG", 1, channel="web2")  # takes B's only unit
    shop.place("o1", "MUG", 2)  # A:2

    outs = shop.pick("o1", "B", "MUG", 1)

    assert shop.decisions(outs) == []
    assert shop.alloc("MUG", "o1") == {"A": 2}
    assert "unreserved_pick" in shop.notes(outs)
    assert shop.pos("MUG", "B").picked == 0  # picked never exceeds reserved


def test_short_pick_reallocates_to_next_location_in_channel_priority(shop):
    shop.receive("MUG", "A", 2)
    shop.receive("MUG", "B", 1)
    shop.receive("MUG", "C", 5)
    shop.channel("web", "A", "B", "C")
    shop.place("o1", "MUG", 2)  # A:2

    outs = shop.pick("o1", "A", "MUG", picked=0, short=2)

    (decision,) = shop.decisions(outs)
    assert shop.summary(decision) == ("o1", "REALLOCATED", 2, {"B": 1, "C": 1})
    assert decision.reason == "SHORT_PICK"
    assert shop.moves(outs) == [
        ("A", "ON_HAND", -2, "SHORT_PICK"),
        ("A", "RESERVED", -2, "SHORT_PICK"),
        ("B", "RESERVED", 1, "REALLOCATION"),
        ("C", "RESERVED", 1, "REALLOCATION"),
    ]


def test_short_pick_without_stock_elsewhere_shorts_the_line_by_what_is_missing(shop):
    shop.receive("MUG", "A", 3)
    shop.receive("MUG", "B", 1)
    shop.channel("web", "A", "B")
    shop.place("o1", "MUG", 3)  # A:3

    outs = shop.pick("o1", "A", "MUG", picked=1, short=2)

    (decision,) = shop.decisions(outs)
    assert shop.summary(decision) == ("o1", "SHORTED", 2, {"A": 1, "B": 1})
    pos = shop.pos("MUG", "A")
    assert (pos.on_hand, pos.reserved, pos.picked) == (1, 1, 1)


def test_short_pick_of_the_whole_line_with_nothing_elsewhere_closes_it(shop):
    shop.receive("MUG", "A", 2)
    shop.place("o1", "MUG", 2)

    outs = shop.pick("o1", "A", "MUG", picked=0, short=2)

    assert shop.summary(shop.decisions(outs)[0]) == ("o1", "SHORTED", 0, {})
    assert shop.line("MUG", "o1") is None


def test_short_pick_beyond_the_lines_own_units_shorts_other_lines_most_recent_first(shop):
    shop.receive("MUG", "A", 4)
    shop.place("o1", "MUG", 1)
    shop.place("o2", "MUG", 2)
    shop.place("o3", "MUG", 1)

    # The picker for o1 finds the bin empty: 3 of the 4 units are gone, not just o1's one.
    outs = shop.pick("o1", "A", "MUG", picked=0, short=3)

    assert [shop.summary(d) for d in shop.decisions(outs)] == [
        ("o1", "SHORTED", 0, {}),
        ("o2", "SHORTED", 1, {"A": 1}),
        ("o3", "SHORTED", 0, {}),
    ]
    assert shop.pos("MUG", "A").on_hand == shop.pos("MUG", "A").reserved == 1


def test_shipment_fulfils_the_line_and_drops_on_hand_reserved_and_picked(shop):
    shop.receive("MUG", "A", 5)
    shop.place("o1", "MUG", 2)
    shop.pick("o1", "A", "MUG", 2)

    outs = shop.ship("s1", "o1", "A", "MUG", 2)

    (decision,) = shop.decisions(outs)
    assert shop.summary(decision) == ("o1", "FULFILLED", 0, {})
    assert decision.reason is None
    assert shop.moves(outs) == [
        ("A", "ON_HAND", -2, "SHIPMENT"),
        ("A", "PICKED", -2, "SHIPMENT"),
        ("A", "RESERVED", -2, "SHIPMENT"),
    ]
    assert [m.reference for m in shop.movements(outs)] == ["s1", "o1", "o1"]
    assert shop.line("MUG", "o1") is None


def test_partial_shipment_keeps_the_rest_of_the_line_reserved(shop):
    shop.receive("MUG", "A", 5)
    shop.place("o1", "MUG", 3)

    outs = shop.ship("s1", "o1", "A", "MUG", 1)

    assert shop.summary(shop.decisions(outs)[0]) == ("o1", "FULFILLED", 2, {"A": 2})
    assert shop.line("MUG", "o1").shipped == 1
    assert shop.summary(shop.decisions(shop.ship("s2", "o1", "A", "MUG", 2))[0]) == (
        "o1",
        "FULFILLED",
        0,
        {},
    )


def test_shipping_more_from_one_location_releases_the_lines_reservation_elsewhere(shop):
    shop.receive("MUG", "A", 1)
    shop.receive("MUG", "B", 5)
    shop.channel("web", "A", "B")
    shop.place("o1", "MUG", 3)  # A:1, B:2

    outs = shop.ship("s1", "o1", "B", "MUG", 3)

    (decision,) = shop.decisions(outs)
    assert shop.summary(decision) == ("o1", "FULFILLED", 0, {})
    assert decision.reason == "SHIPPED_FROM_OTHER_LOCATION"
    assert "unreserved_shipment" in shop.notes(outs)
    assert shop.moves(outs) == [
        ("B", "ON_HAND", -3, "SHIPMENT"),
        ("B", "RESERVED", -2, "SHIPMENT"),
        ("A", "RESERVED", -1, "RELEASE"),
    ]


def test_unreserved_shipment_of_an_unknown_line_still_takes_the_units(shop):
    shop.receive("MUG", "A", 5)

    outs = shop.ship("s1", "o9", "A", "MUG", 2)

    assert shop.decisions(outs) == []
    assert "unreserved_shipment" in shop.notes(outs)
    (move,) = shop.movements(outs)
    assert (move.delta, move.balance_after, move.reason) == (-2, 3, "SHIPMENT")
    assert "unreserved shipment" in move.reason_detail


def test_unreserved_shipment_takes_units_reserved_by_other_lines_and_reallocates_them(shop):
    shop.receive("MUG", "A", 2)
    shop.receive("MUG", "B", 2)
    shop.channel("web", "A", "B")
    shop.place("o1", "MUG", 2)  # A:2

    outs = shop.ship("s1", "o9", "A", "MUG", 2)  # o9 never reserved

    assert shop.summary(shop.decisions(outs)[0]) == ("o1", "REALLOCATED", 2, {"B": 2})
    assert shop.decisions(outs)[0].reason == "STOCK_SHORTFALL"
    assert "shortfall" in shop.notes(outs)


def test_shipment_beyond_on_hand_is_clamped_with_a_correction_first(shop):
    shop.receive("MUG", "A", 1)

    outs = shop.ship("s1", "o9", "A", "MUG", 3)

    first, second = shop.movements(outs)
    assert (first.reason, first.delta, first.balance_after) == ("CORRECTION", 2, 3)
    assert first.reason_detail == "clamped: shipment of -3 exceeded on_hand 1"
    assert (second.reason, second.delta, second.balance_after) == ("SHIPMENT", -3, 0)
    assert "clamped" in shop.notes(outs)
    assert shop.pos("MUG", "A").on_hand == 0


def test_a_shipment_id_already_applied_to_a_line_is_not_applied_again(shop):
    shop.receive("MUG", "A", 9)
    shop.place("o1", "MUG", 4)
    shop.ship("s1", "o1", "A", "MUG", 1)

    again_open = shop.ship("s1", "o1", "A", "MUG", 1)  # new event id, line still open
    shop.ship("s2", "o1", "A", "MUG", 3)
    again_closed = shop.ship("s2", "o1", "A", "MUG", 3)  # line closed meanwhile

    for outs in (again_open, again_closed):
        assert shop.movements(outs) == [] and "duplicate_shipment" in shop.notes(outs)
    assert shop.pos("MUG", "A").on_hand == 5
