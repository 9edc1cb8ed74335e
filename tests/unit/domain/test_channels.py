"""Stock positions, channels, the default channel and ATS (docs/semantics.md, stock positions and channels)."""

from __future__ import annotations

from stocksignal.domain import Channel, ChannelBook, Position, SkuState


def state(**positions: Position) -> SkuState:
    return SkuState("MUG", positions=dict(positions))


def test_sellable_is_on_hand_minus_reserved_and_never_negative():
    assert Position(on_hand=5, reserved=2).sellable == 3
    assert Position(on_hand=1, reserved=3).sellable == 0


def test_ats_sums_sellable_over_the_channel_locations_minus_safety_stock():
    book = ChannelBook().with_channel(Channel("web", ("A", "B"), safety_stock=2))
    s = state(A=Position(on_hand=5, reserved=1), B=Position(on_hand=3), C=Position(on_hand=50))

    assert book.ats(s)["web"] == 4 + 3 - 2


def test_ats_is_never_negative_when_safety_stock_exceeds_sellable():
    book = ChannelBook().with_channel(Channel("web", ("A",), safety_stock=10))
    assert book.ats(state(A=Position(on_hand=3)))["web"] == 0


def test_damaged_held_pending_and_inbound_units_never_count_towards_ats():
    s = state(A=Position(on_hand=1, damaged=5, quality_hold=5, pending_inspection=5, inbound=5))
    assert ChannelBook().ats(s) == {"default": 1}


def test_default_channel_covers_every_location_of_the_sku_in_lexical_order():
    s = state(B=Position(on_hand=1), A=Position(), C=Position(on_hand=2))

    default = ChannelBook().resolve("default", s)

    assert default == Channel("default", ("A", "B", "C"), 0)
    assert ChannelBook().resolve("not-configured", s) == default


def test_configured_default_channel_overrides_the_builtin():
    book = ChannelBook().with_channel(Channel("default", ("B",), 1))
    s = state(A=Position(on_hand=9), B=Position(on_hand=4))

    assert book.resolve("pos", s) == Channel("default", ("B",), 1)
    assert book.ats(s) == {"default": 3}


def test_ats_lists_default_and_every_configured_channel():
    book = ChannelBook().with_channel(Channel("web", ("A",))).with_channel(Channel("pos", ()))
    assert book.ats(state(A=Position(on_hand=2))) == {"default": 2, "web": 2, "pos": 0}


def test_channel_book_changes_return_a_new_book():
    empty = ChannelBook()
    web = empty.with_channel(Channel("web", ("A",)))

    assert empty.configured == {} and set(web.configured) == {"web"}
    assert web.without("web") == empty
    assert web.without("unknown") is web


def test_channel_book_round_trips_through_a_dict():
    book = ChannelBook().with_channel(Channel("web", ("B", "A"), 3))
    assert ChannelBook.from_dict(book.to_dict()) == book


def test_locations_outside_a_channel_rank_after_its_own():
    web = Channel("web", ("B", "A"))
    assert [web.priority(x) for x in ("B", "A", "Z")] == [0, 1, 2]
