"""Order lines: reservations, holds, confirmation, cancellation.

The rules are docs/semantics.md#order-lines-reservations-and-holds.
"""

from __future__ import annotations

import pytest

from stocksignal.domain import UnknownOrderError


def test_order_within_ats_is_reserved_across_channel_locations_in_priority_order(shop):
    shop.receive("MUG", "B", 2)
    shop.receive("MUG", "A", 5)
    shop.channel("web", "B", "A")

    decision = shop.place("o1", "MUG", 4)

    assert shop.summary(decision) == ("o1", "RESERVED", 4, {"A": 2, "B": 2})
    assert decision.qty_requested == 4 and decision.reason is None
    assert (shop.pos("MUG", "B").reserved, shop.pos("MUG", "A").reserved) == (2, 2)
    assert shop.ats("MUG")["web"] == 3


def test_order_above_ats_is_rejected_and_reserves_nothing(shop):
    shop.receive("MUG", "A", 3)
    shop.channel("web", "A")

    decision = shop.place("o1", "MUG", 4)

    assert shop.summary(decision) == ("o1", "REJECTED", 0, {})
    assert decision.reason == "INSUFFICIENT_STOCK"
    assert shop.pos("MUG", "A").reserved == 0
    assert shop.line("MUG", "o1") is None


def test_last_unit_raced_by_two_channels_is_reserved_once(shop):
    shop.receive("MUG", "A", 1)
    shop.channel("web", "A")
    shop.channel("marketplace", "A")

    first = shop.place("o1", "MUG", 1, channel="web")
    second = shop.place("o2", "MUG", 1, channel="marketplace")

    assert (first.status, second.status) == ("RESERVED", "REJECTED")
    assert shop.pos("MUG", "A").reserved == 1
    assert shop.ats("MUG") == {"default": 0, "web": 0, "marketplace": 0}


def test_safety_stock_rejects_an_order_that_sellable_stock_could_cover(shop):
    shop.receive("MUG", "A", 5)
    shop.channel("marketplace", "A", safety=2)

    assert shop.place("o1", "MUG", 4, channel="marketplace").status == "REJECTED"
    assert shop.place("o2", "MUG", 3, channel="marketplace").status == "RESERVED"
    assert shop.ats("MUG") == {"default": 2, "marketplace": 0}


def test_unconfigured_channel_is_decided_with_default_rules_and_noted(shop):
    shop.receive("MUG", "B", 1)
    shop.receive("MUG", "A", 1)

    outs = shop.send(
        "OrderPlaced", order_id="o1", channel_id="pos", lines=[{"sku": "MUG", "qty": 2}]
    )

    (decision,) = shop.decisions(outs)
    assert shop.summary(decision) == ("o1", "RESERVED", 2, {"A": 1, "B": 1})
    assert decision.channel_id == "pos"  # the order's channel, decided with default rules
    assert "default_channel_used" in shop.notes(outs)


def test_configured_default_channel_overrides_the_builtin_for_unknown_channels(shop):
    shop.receive("MUG", "A", 3)
    shop.receive("MUG", "B", 3)
    shop.channel("default", "B", safety=1)

    decision = shop.place("o1", "MUG", 2, channel="pos")

    assert shop.summary(decision) == ("o1", "RESERVED", 2, {"B": 2})
    assert shop.ats("MUG") == {"default": 0}


def test_lines_of_one_order_are_decided_independently(shop):
    shop.receive("MUG", "A", 1)
    shop.receive("CUP", "A", 5)

    outs = shop.send(
        "OrderPlaced",
        order_id="o1",
        channel_id="web",
        lines=[{"sku": "MUG", "qty": 2}, {"sku": "CUP", "qty": 2}],
    )

    assert {d.sku: str(d.status) for d in shop.decisions(outs)} == {
        "MUG": "REJECTED",
        "CUP": "RESERVED",
    }


def test_lines_repeating_a_sku_are_merged_by_adding_quantities(shop):
    shop.receive("MUG", "A", 5)

    outs = shop.send(
        "OrderPlaced",
        order_id="o1",
        channel_id="web",
        lines=[{"sku": "MUG", "qty": 2}, {"sku": "MUG", "qty": 1}],
    )

    (decision,) = shop.decisions(outs)
    assert (decision.qty_requested, decision.qty_reserved) == (3, 3)


def test_placing_an_open_line_again_under_a_new_event_id_changes_nothing(shop):
    shop.receive("MUG", "A", 5)
    shop.place("o1", "MUG", 2)

    outs = shop.send(
        "OrderPlaced", order_id="o1", channel_id="web", lines=[{"sku": "MUG", "qty": 2}]
    )

    assert shop.decisions(outs) == [] and shop.movements(outs) == []
    assert "duplicate_line" in shop.notes(outs)
    assert shop.pos("MUG", "A").reserved == 2


def test_a_rejected_line_can_be_placed_again_once_stock_arrives(shop):
    shop.place("o1", "MUG", 1)
    shop.receive("MUG", "A", 1)

    assert shop.place("o1", "MUG", 1).status == "RESERVED"


def test_hold_is_released_as_expired_when_the_timer_reaches_its_time(shop):
    shop.receive("MUG", "A", 3)
    shop.place("o1", "MUG", 2, hold=60_000)

    assert shop.expire(59_999) == []
    outs = shop.expire(60_000)

    (decision,) = shop.decisions(outs)
    assert shop.summary(decision) == ("o1", "EXPIRED", 0, {})
    assert decision.reason == "HOLD_EXPIRED"
    assert shop.moves(outs) == [("A", "RESERVED", -2, "EXPIRY")]
    assert shop.line("MUG", "o1") is None
    assert outs[0].availability.available("default") == 3


def test_expiry_is_decided_by_log_time_so_a_late_timer_changes_nothing_but_timing(shop):
    shop.receive("MUG", "A", 1)
    shop.place("o1", "MUG", 1, hold=10_000)

    # No ExpireHolds command yet: the hold still holds, whatever the wall clock says.
    assert shop.place("o2", "MUG", 1).status == "REJECTED"
    assert shop.decisions(shop.expire(99_000))[0].status == "EXPIRED"
    assert shop.place("o3", "MUG", 1).status == "RESERVED"


def test_confirmed_hold_never_expires(shop):
    shop.receive("MUG", "A", 3)
    shop.place("o1", "MUG", 2, hold=60_000)

    outs = shop.send("OrderConfirmed", order_id="o1")

    assert "hold_confirmed" in shop.notes(outs)
    assert shop.inv.state("MUG").open_holds() == []
    assert shop.expire(120_000) == []
    assert shop.pos("MUG", "A").reserved == 2


def test_open_holds_lists_unconfirmed_holds_soonest_first(shop):
    shop.receive("MUG", "A", 9)
    shop.place("o2", "MUG", 1, hold=50_000)
    shop.place("o1", "MUG", 1, hold=90_000)
    shop.place("o3", "MUG", 1)
    shop.place("o4", "MUG", 1, hold=10_000)
    shop.send("OrderConfirmed", order_id="o4")

    assert shop.inv.state("MUG").open_holds() == [(50_000, "o2"), (90_000, "o1")]


def test_expiry_releases_every_due_hold_oldest_deadline_first(shop):
    shop.receive("MUG", "A", 9)
    shop.place("o1", "MUG", 1, hold=30_000)
    shop.place("o2", "MUG", 1, hold=20_000)
    shop.place("o3", "MUG", 1, hold=40_000)

    outs = shop.expire(30_000)

    assert [d.order_id for d in shop.decisions(outs)] == ["o2", "o1"]
    assert shop.inv.state("MUG").open_holds() == [(40_000, "o3")]


def test_cancel_releases_the_whole_unshipped_reservation(shop):
    shop.receive("MUG", "A", 5)
    shop.place("o1", "MUG", 3)

    outs = shop.cancel("o1", reason="customer changed mind")

    (decision,) = shop.decisions(outs)
    assert shop.summary(decision) == ("o1", "RELEASED", 0, {})
    assert decision.reason == "customer changed mind"
    assert shop.moves(outs) == [("A", "RESERVED", -3, "RELEASE")]
    assert shop.line("MUG", "o1") is None


def test_cancel_with_qty_releases_at_most_that_much_lowest_priority_location_first(shop):
    shop.receive("MUG", "A", 2)
    shop.receive("MUG", "B", 5)
    shop.channel("web", "A", "B")
    shop.place("o1", "MUG", 4)  # A:2, B:2

    outs = shop.cancel("o1", lines=[{"sku": "MUG", "qty": 3}])

    assert shop.summary(shop.decisions(outs)[0]) == ("o1", "RELEASED", 1, {"A": 1})
    assert shop.alloc("MUG", "o1") == {"A": 1}


def test_cancel_returns_picked_units_to_stock(shop):
    shop.receive("MUG", "A", 5)
    shop.place("o1", "MUG", 3)
    shop.pick("o1", "A", "MUG", 2)

    outs = shop.cancel("o1")

    assert shop.moves(outs) == [
        ("A", "RESERVED", -1, "RELEASE"),  # the unpicked unit first
        ("A", "PICKED", -2, "RELEASE"),
        ("A", "RESERVED", -2, "RELEASE"),
    ]
    pos = shop.pos("MUG", "A")
    assert (pos.on_hand, pos.reserved, pos.picked, pos.sellable) == (5, 0, 0, 5)


def test_cancel_of_a_line_that_is_not_open_changes_nothing(shop):
    shop.receive("MUG", "A", 5)
    shop.place("o1", "MUG", 9)  # rejected: never open

    outs = shop.cancel("o1", lines=[{"sku": "MUG", "qty": 1}])

    assert shop.decisions(outs) == [] and "line_not_open" in shop.notes(outs)


def test_confirming_an_order_never_placed_is_a_validation_error(shop):
    with pytest.raises(UnknownOrderError) as err:
        shop.send("OrderConfirmed", order_id="ghost")
    assert err.value.problems == ["order_id: unknown order 'ghost' (no OrderPlaced seen)"]
