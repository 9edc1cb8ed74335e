"""Splitting input events into per-SKU commands, and remembering orders' SKUs."""

from __future__ import annotations

import pytest

from stocksignal.domain import (
    CancelLine,
    ConfigureChannel,
    ConfirmLine,
    OrderRef,
    PickLine,
    PlaceLine,
    ReceiveTransfer,
    RemoveChannel,
    ShipLine,
    UnknownOrderError,
    ValidationError,
    needs_order,
    remember_fan_out,
    remember_order,
    split,
)

PLACED = {
    "event_id": "e1",
    "occurred_at": 100,
    "source": "web-shop",
    "order_id": "o1",
    "channel_id": "web",
    "lines": [{"sku": "MUG", "qty": 2}, {"sku": "CUP", "qty": 1}, {"sku": "MUG", "qty": 3}],
    "hold_expires_at": 9_000,
}


def test_order_placed_gives_one_command_per_sku_merging_repeated_skus():
    commands = split("OrderPlaced", PLACED, logged_at=150)

    assert commands == [
        PlaceLine(
            command_id="e1:MUG@150",
            event_id="e1",
            event_type="OrderPlaced",
            occurred_at=100,
            logged_at=150,
            source="web-shop",
            sku="MUG",
            order_id="o1",
            channel_id="web",
            qty=5,
            hold_expires_at=9_000,
        ),
        PlaceLine(
            command_id="e1:CUP@150",
            event_id="e1",
            event_type="OrderPlaced",
            occurred_at=100,
            logged_at=150,
            source="web-shop",
            sku="CUP",
            order_id="o1",
            channel_id="web",
            qty=1,
            hold_expires_at=9_000,
        ),
    ]


def test_remember_order_keeps_skus_and_merges_them_when_the_order_is_placed_again():
    ref = remember_order(PLACED)
    assert ref == OrderRef("o1", "web", ("MUG", "CUP"))

    again = {
        **PLACED,
        "event_id": "e2",
        "lines": [{"sku": "PLATE", "qty": 1}, {"sku": "CUP", "qty": 1}],
    }
    assert remember_order(again, ref) == OrderRef("o1", "web", ("MUG", "CUP", "PLATE"))
    assert remember_order(PLACED, ref) == ref  # idempotent
    assert OrderRef.from_dict(ref.to_dict()) == ref


def test_order_confirmed_fans_out_to_the_remembered_skus():
    record = {"event_id": "e3", "occurred_at": 200, "order_id": "o1"}

    commands = split("OrderConfirmed", record, logged_at=250, order=remember_order(PLACED))

    assert [(type(c), c.sku, c.command_id) for c in commands] == [
        (ConfirmLine, "MUG", "e3:MUG@250"),
        (ConfirmLine, "CUP", "e3:CUP@250"),
    ]


def test_order_cancelled_without_lines_cancels_every_remembered_line_entirely():
    record = {
        "event_id": "e4",
        "occurred_at": 200,
        "order_id": "o1",
        "lines": None,
        "reason": "fraud",
    }

    commands = split("OrderCancelled", record, logged_at=250, order=remember_order(PLACED))

    assert [(c.sku, c.qty, c.reason) for c in commands] == [
        ("MUG", None, "fraud"),
        ("CUP", None, "fraud"),
    ]
    assert all(isinstance(c, CancelLine) for c in commands)


def test_order_cancelled_with_lines_needs_no_memory():
    record = {
        "event_id": "e4",
        "occurred_at": 200,
        "order_id": "o1",
        "lines": [{"sku": "MUG", "qty": 1}, {"sku": "MUG", "qty": 1}],
    }

    assert not needs_order("OrderCancelled", record)
    (command,) = split("OrderCancelled", record, logged_at=250)
    assert (command.sku, command.qty, command.reason) == ("MUG", 2, None)


@pytest.mark.parametrize(
    "name, extra",
    [
        ("OrderConfirmed", {}),
        ("OrderCancelled", {"lines": None}),
    ],
)
def test_events_of_an_order_never_placed_raise_unknown_order(name, extra):
    record = {"event_id": "e5", "occurred_at": 1, "order_id": "ghost", **extra}

    assert needs_order(name, record)
    with pytest.raises(UnknownOrderError) as err:
        split(name, record, logged_at=1, order=None)
    assert isinstance(err.value, ValidationError)


def test_pick_lines_merge_picked_and_short_per_sku():
    record = {
        "event_id": "e6",
        "occurred_at": 1,
        "order_id": "o1",
        "location_id": "A",
        "lines": [{"sku": "MUG", "qty_picked": 1, "qty_short": 1}, {"sku": "MUG", "qty_picked": 2}],
    }

    (command,) = split("PickConfirmed", record, logged_at=2)

    assert isinstance(command, PickLine)
    assert (command.qty_picked, command.qty_short, command.location_id) == (3, 1, "A")


def test_shipment_splits_per_sku_with_its_shipment_id():
    record = {
        "event_id": "e7",
        "occurred_at": 1,
        "shipment_id": "s1",
        "order_id": "o1",
        "location_id": "A",
        "lines": [{"sku": "MUG", "qty": 1}, {"sku": "CUP", "qty": 2}],
    }

    commands = split("ShipmentConfirmed", record, logged_at=2)

    assert [(type(c), c.sku, c.shipment_id, c.qty) for c in commands] == [
        (ShipLine, "MUG", "s1", 1),
        (ShipLine, "CUP", "s1", 2),
    ]


def test_stock_event_gives_one_command_for_its_sku():
    record = {
        "event_id": "e8",
        "occurred_at": 1,
        "transfer_id": "t1",
        "to_location_id": "B",
        "sku": "MUG",
        "qty_received": 2,
    }

    (command,) = split("TransferReceived", record, logged_at=2)

    assert isinstance(command, ReceiveTransfer)
    assert (command.command_id, command.sku, command.qty_received) == ("e8:MUG@2", "MUG", 2)


def test_channel_events_give_one_channel_command_without_a_sku():
    configured = {
        "event_id": "c1",
        "occurred_at": 1,
        "channel_id": "web",
        "location_ids": ["B", "A"],
        "safety_stock": 2,
    }
    removed = {"event_id": "c2", "occurred_at": 2, "channel_id": "web"}

    (configure,) = split("ChannelConfigured", configured, logged_at=3)
    (remove,) = split("ChannelRemoved", removed, logged_at=4)

    assert configure == ConfigureChannel(
        command_id="c1",
        event_id="c1",
        event_type="ChannelConfigured",
        occurred_at=1,
        logged_at=3,
        channel_id="web",
        location_ids=("B", "A"),
        safety_stock=2,
    )
    assert isinstance(remove, RemoveChannel) and not hasattr(remove, "sku")


def test_split_refuses_unknown_record_names():
    with pytest.raises(ValidationError):
        split("OrderTeleported", {"event_id": "e", "occurred_at": 1}, logged_at=1)


def test_a_replayed_order_level_event_reaches_the_same_skus_as_the_first_time():
    cancel = {"event_id": "e9", "occurred_at": 1, "order_id": "o1", "lines": None}
    ref = remember_order(PLACED)  # MUG, CUP
    first = split("OrderCancelled", cancel, logged_at=2, order=ref)
    ref = remember_fan_out(ref, "e9")
    # The order is placed again with a new SKU; then the router replays the cancellation.
    ref = remember_order({**PLACED, "event_id": "e10", "lines": [{"sku": "PLATE", "qty": 1}]}, ref)

    replayed = split("OrderCancelled", cancel, logged_at=2, order=ref)
    later = split("OrderCancelled", {**cancel, "event_id": "e11"}, logged_at=3, order=ref)

    assert [c.sku for c in replayed] == [c.sku for c in first] == ["MUG", "CUP"]
    assert [c.sku for c in later] == ["MUG", "CUP", "PLATE"]
    assert remember_fan_out(ref, "e9") is ref
    assert OrderRef.from_dict(ref.to_dict()) == ref
