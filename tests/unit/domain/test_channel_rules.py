"""Channel rules of v1.1 (contract section 10.1, docs/semantics.md#channel-rules): a buffer, a
cap, and what they do to available-to-sell and to reservations."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stocksignal.domain import (
    Channel,
    ChannelBook,
    InMemoryInventory,
    Position,
    ReservationStatus,
    SkuState,
    ValidationError,
)

RULES_SETTINGS = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def state(**positions: Position) -> SkuState:
    return SkuState("MUG", positions=dict(positions))


# --- the formula ----------------------------------------------------------------------------


def test_buffer_is_taken_after_safety_stock_and_rounds_down():
    ch = Channel("mkt", ("A",), safety_stock=2, buffer_percent=25)
    # raw = 9 - 2 = 7; 7 * 75 / 100 = 5.25 -> 5
    assert ch.ats(state(A=Position(on_hand=9)).positions) == 5


def test_cap_applies_after_the_buffer():
    ch = Channel("mkt", ("A",), buffer_percent=50, max_available=3)
    assert ch.ats(state(A=Position(on_hand=100)).positions) == 3
    assert ch.ats(state(A=Position(on_hand=4)).positions) == 2  # below the cap: the buffer rules


def test_a_cap_of_zero_closes_the_channel_and_full_buffer_too():
    s = state(A=Position(on_hand=50))
    assert Channel("x", ("A",), max_available=0).ats(s.positions) == 0
    assert Channel("x", ("A",), buffer_percent=100).ats(s.positions) == 0


def test_negative_raw_is_zero_before_the_buffer():
    ch = Channel("mkt", ("A",), safety_stock=10, buffer_percent=10, max_available=5)
    assert ch.ats(state(A=Position(on_hand=3)).positions) == 0


def test_the_built_in_default_channel_has_no_buffer_and_no_cap():
    default = ChannelBook().resolve("default", state(A=Position(on_hand=7)))
    assert (default.buffer_percent, default.max_available, default.low_stock_threshold) == (
        0,
        None,
        0,
    )


def test_channels_round_trip_through_the_book_and_old_books_read_with_defaults():
    ch = Channel("mkt", ("A", "B"), 1, 20, 40, 3)
    book = ChannelBook().with_channel(ch)
    assert ChannelBook.from_dict(book.to_dict()) == book
    v1 = {"channels": [{"channel_id": "web", "location_ids": ["A"], "safety_stock": 2}]}
    assert ChannelBook.from_dict(v1).configured["web"] == Channel("web", ("A",), 2, 0, None, 0)
    # Default rules store as v1 did: the same bytes before and after the upgrade.
    assert ChannelBook.from_dict(v1).to_dict() == v1


sellables = st.lists(st.integers(0, 60), min_size=1, max_size=3)
rules = st.fixed_dictionaries(
    {
        "safety_stock": st.integers(0, 30),
        "buffer_percent": st.integers(0, 100),
        "max_available": st.none() | st.integers(0, 80),
    }
)


@RULES_SETTINGS
@given(sellables, rules)
def test_ats_never_exceeds_the_cap_nor_the_unbuffered_value(on_hand, r):
    locs = tuple(f"L{i}" for i in range(len(on_hand)))
    positions = {loc: Position(on_hand=n) for loc, n in zip(locs, on_hand)}
    ruled = Channel("c", locs, r["safety_stock"], r["buffer_percent"], r["max_available"])
    v1 = Channel("c", locs, r["safety_stock"])

    ats = ruled.ats(positions)

    assert 0 <= ats <= v1.ats(positions)
    if r["max_available"] is not None:
        assert ats <= r["max_available"]
    # and it is exactly the contract's formula
    buffered = (max(0, sum(on_hand) - r["safety_stock"]) * (100 - r["buffer_percent"])) // 100
    assert ats == (buffered if r["max_available"] is None else min(buffered, r["max_available"]))


# --- reservations are decided against the ruled ATS -----------------------------------------


def _configure(inv: InMemoryInventory, channel_id: str, locs: list[str], **rules: Any) -> None:
    inv.post("ChannelConfigured", channel_id=channel_id, location_ids=locs, **rules)


def test_a_buffer_limits_what_the_channel_can_reserve():
    inv = InMemoryInventory()
    _configure(inv, "mkt", ["A"], buffer_percent=20)
    inv.post("StockReceived", sku="MUG", location_id="A", qty=10)
    assert inv.ats("MUG")["mkt"] == 8

    [too_many] = inv.post(
        "OrderPlaced", order_id="o1", channel_id="mkt", lines=[{"sku": "MUG", "qty": 9}]
    )
    [fits] = inv.post(
        "OrderPlaced", order_id="o2", channel_id="mkt", lines=[{"sku": "MUG", "qty": 8}]
    )

    assert too_many.decisions[0].status == ReservationStatus.REJECTED
    assert fits.decisions[0].status == ReservationStatus.RESERVED
    # 2 sellable left: the buffer of the marketplace keeps it at 1, the default sells both
    assert inv.ats("MUG") == {"default": 2, "mkt": 1}


def test_a_cap_limits_what_the_channel_can_reserve_in_one_order():
    inv = InMemoryInventory()
    _configure(inv, "mkt", ["A"], max_available=3)
    inv.post("StockReceived", sku="MUG", location_id="A", qty=10)

    [capped] = inv.post(
        "OrderPlaced", order_id="o1", channel_id="mkt", lines=[{"sku": "MUG", "qty": 4}]
    )
    [web] = inv.post(
        "OrderPlaced", order_id="o2", channel_id="web", lines=[{"sku": "MUG", "qty": 4}]
    )

    assert capped.decisions[0].status == ReservationStatus.REJECTED
    assert web.decisions[0].status == ReservationStatus.RESERVED  # not configured: default rules
    assert inv.ats("MUG") == {"default": 6, "mkt": 3}


orders = st.lists(
    st.one_of(
        st.tuples(st.just("receive"), st.integers(1, 20)),
        st.tuples(st.just("order"), st.integers(1, 12)),
        st.tuples(st.just("cancel"), st.integers(0, 30)),
    ),
    min_size=1,
    max_size=25,
)


@RULES_SETTINGS
@given(rules, st.integers(0, 10), orders)
def test_a_channel_never_reserves_more_than_its_ats(r, threshold, steps):
    inv = InMemoryInventory()
    _configure(inv, "mkt", ["A", "B"], low_stock_threshold=threshold, **r)
    placed = 0
    for kind, n in steps:
        if kind == "receive":
            inv.post("StockReceived", sku="MUG", location_id="AB"[n % 2], qty=n)
        elif kind == "cancel":
            if placed:
                inv.post("OrderCancelled", order_id=f"o{n % placed}")
        else:
            before = inv.ats("MUG")["mkt"]
            placed += 1
            [outcome] = inv.post(
                "OrderPlaced",
                order_id=f"o{placed - 1}",
                channel_id="mkt",
                lines=[{"sku": "MUG", "qty": n}],
            )
            [decision] = outcome.decisions
            if decision.status == ReservationStatus.RESERVED:
                assert n <= before
            else:
                assert n > before and decision.qty_reserved == 0
        ats = inv.ats("MUG")["mkt"]
        assert ats <= inv.ats("MUG")["default"]
        if r["max_available"] is not None:
            assert ats <= r["max_available"]


@RULES_SETTINGS
@given(st.integers(0, 5), orders)
def test_with_the_default_rules_every_v1_result_is_unchanged(safety, steps):
    """A v1 ChannelConfigured (no new fields) and one spelling the defaults out decide alike."""
    v1, spelled = InMemoryInventory(), InMemoryInventory()
    _configure(v1, "mkt", ["A", "B"], safety_stock=safety)
    _configure(
        spelled,
        "mkt",
        ["A", "B"],
        safety_stock=safety,
        buffer_percent=0,
        max_available=None,
        low_stock_threshold=0,
    )
    placed = 0
    for kind, n in steps:
        if kind == "receive":
            event = ("StockReceived", {"sku": "MUG", "location_id": "AB"[n % 2], "qty": n})
        elif kind == "cancel" and placed:
            event = ("OrderCancelled", {"order_id": f"o{n % placed}"})
        elif kind == "order":
            placed += 1
            event = (
                "OrderPlaced",
                {
                    "order_id": f"o{placed - 1}",
                    "channel_id": "mkt",
                    "lines": [{"sku": "MUG", "qty": n}],
                },
            )
        else:
            continue
        a, b = v1.post(event[0], **event[1]), spelled.post(event[0], **event[1])
        assert a == b
    assert v1.ats("MUG") == spelled.ats("MUG")
    assert v1.state("MUG").positions == spelled.state("MUG").positions


# --- bad rules go to the DLQ ------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("buffer_percent", -1),
        ("buffer_percent", 101),
        ("max_available", -1),
        ("low_stock_threshold", -1),
        ("low_stock_threshold", 1_000_001),
        ("buffer_percent", True),
    ],
)
def test_rules_out_of_range_are_rejected(field, value):
    inv = InMemoryInventory()
    with pytest.raises(ValidationError, match=field):
        _configure(inv, "mkt", ["A"], **{field: value})


def test_rules_at_their_bounds_are_accepted():
    inv = InMemoryInventory()
    _configure(
        inv, "mkt", ["A"], buffer_percent=100, max_available=0, low_stock_threshold=1_000_000
    )
    assert inv.book().configured["mkt"] == Channel("mkt", ("A",), 0, 100, 0, 1_000_000)
