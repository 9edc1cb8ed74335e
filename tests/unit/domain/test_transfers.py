"""Transfers between two locations of one SKU (docs/semantics.md#stock-events)."""

from __future__ import annotations


def dispatch(shop, tid="t1", qty=3, src="A", dst="B"):
    return shop.send(
        "TransferDispatched",
        transfer_id=tid,
        from_location_id=src,
        to_location_id=dst,
        sku="MUG",
        qty=qty,
    )


def receive(shop, tid="t1", qty=3, dst="B"):
    return shop.send(
        "TransferReceived", transfer_id=tid, to_location_id=dst, sku="MUG", qty_received=qty
    )


def test_dispatch_takes_units_from_source_and_expects_them_at_destination(shop):
    shop.receive("MUG", "A", 5)

    outs = dispatch(shop)

    assert shop.moves(outs) == [
        ("A", "ON_HAND", -3, "TRANSFER_OUT"),
        ("B", "INBOUND", 3, "TRANSFER_OUT"),
    ]
    assert {m.reference for m in shop.movements(outs)} == {"t1"}
    assert shop.ats("MUG") == {"default": 2}


def test_receipt_clears_the_dispatched_inbound_and_adds_on_hand(shop):
    shop.receive("MUG", "A", 5)
    dispatch(shop)

    outs = receive(shop)

    assert shop.moves(outs) == [
        ("B", "INBOUND", -3, "TRANSFER_IN"),
        ("B", "ON_HAND", 3, "TRANSFER_IN"),
    ]
    assert shop.inv.state("MUG").transfers == {}
    assert shop.ats("MUG") == {"default": 5}


def test_receipt_short_of_the_dispatch_records_the_missing_units_as_variance(shop):
    shop.receive("MUG", "A", 5)
    dispatch(shop)

    outs = receive(shop, qty=2)

    assert shop.moves(outs) == [
        ("B", "INBOUND", -2, "TRANSFER_IN"),
        ("B", "INBOUND", -1, "TRANSFER_VARIANCE"),
        ("B", "ON_HAND", 2, "TRANSFER_IN"),
    ]
    assert (shop.pos("MUG", "B").inbound, shop.pos("MUG", "B").on_hand) == (0, 2)


def test_receipt_above_the_dispatch_records_the_extra_units_as_variance(shop):
    shop.receive("MUG", "A", 5)
    dispatch(shop)

    outs = receive(shop, qty=4)

    assert shop.moves(outs) == [
        ("B", "INBOUND", -3, "TRANSFER_IN"),
        ("B", "ON_HAND", 3, "TRANSFER_IN"),
        ("B", "ON_HAND", 1, "TRANSFER_VARIANCE"),
    ]


def test_repeated_dispatch_and_receipt_under_new_event_ids_are_ignored(shop):
    shop.receive("MUG", "A", 9)
    dispatch(shop)
    again = dispatch(shop)
    receive(shop)
    again_received = receive(shop)
    after_receipt = dispatch(shop)

    for outs in (again, again_received, after_receipt):
        assert shop.movements(outs) == [] and "duplicate_transfer" in shop.notes(outs)
    assert (shop.pos("MUG", "A").on_hand, shop.pos("MUG", "B").on_hand) == (6, 3)


def test_receipt_overtaking_its_dispatch_books_each_side_once(shop):
    shop.receive("MUG", "A", 5)

    early = receive(shop)
    late = dispatch(shop)

    assert "transfer_not_dispatched" in shop.notes(early)
    assert "transfer_received_before_dispatch" in shop.notes(late)
    assert shop.moves(late) == [("A", "ON_HAND", -3, "TRANSFER_OUT")]
    a, b = shop.pos("MUG", "A"), shop.pos("MUG", "B")
    assert (a.on_hand, b.on_hand, b.inbound) == (2, 3, 0)


def test_receipt_at_another_location_clears_the_expected_one(shop):
    shop.receive("MUG", "A", 5)
    dispatch(shop)

    outs = receive(shop, dst="C")

    assert "transfer_received_elsewhere" in shop.notes(outs)
    assert (shop.pos("MUG", "B").inbound, shop.pos("MUG", "C").on_hand) == (0, 3)


def test_dispatching_reserved_units_reallocates_their_lines(shop):
    shop.receive("MUG", "A", 3)
    shop.receive("MUG", "C", 5)
    shop.channel("web", "A", "C")
    shop.place("o1", "MUG", 3)  # A:3

    outs = dispatch(shop, qty=3)

    assert shop.summary(shop.decisions(outs)[0]) == ("o1", "REALLOCATED", 3, {"C": 3})
