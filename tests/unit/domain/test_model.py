"""The partition model: dedupe window, channel broadcast and republish, timers."""

from __future__ import annotations

from stocksignal.domain import (
    DEFAULT_DEDUPE_WINDOW_MS,
    Channel,
    ChannelBook,
    ConfigureChannel,
    InMemoryInventory,
    PartitionModel,
    Position,
    ReceiveStock,
    RemoveChannel,
    SkuState,
    dedupe_key,
    expire_holds,
    partition_of,
    reconcile,
    within_window,
)


def receipt(event_id: str, logged_at: int, sku: str = "MUG", qty: int = 1) -> ReceiveStock:
    return ReceiveStock(
        command_id=f"{event_id}:{sku}",
        event_id=event_id,
        event_type="StockReceived",
        occurred_at=logged_at,
        logged_at=logged_at,
        sku=sku,
        location_id="A",
        qty=qty,
    )


def configure(event_id: str, channel_id: str, *locs: str, safety: int = 0) -> ConfigureChannel:
    return ConfigureChannel(
        command_id=event_id,
        event_id=event_id,
        event_type="ChannelConfigured",
        occurred_at=0,
        logged_at=0,
        channel_id=channel_id,
        location_ids=locs,
        safety_stock=safety,
    )


def test_dedupe_keys_separate_skus_and_channel_commands():
    assert dedupe_key(receipt("e1", 0)) == "MUG\x00e1"
    assert dedupe_key(configure("e1", "web", "A")) == "\x00e1"


def test_within_window_is_measured_in_log_time():
    assert within_window(1_000, 1_000 + 999, 1_000)
    assert not within_window(1_000, 2_000, 1_000)
    assert within_window(5_000, 1_000, 1_000)  # a copy logged earlier is a repeat too
    assert DEFAULT_DEDUPE_WINDOW_MS == 7 * 24 * 3600 * 1000


def test_duplicate_event_within_the_window_has_no_effect():
    model = PartitionModel(dedupe_window_ms=10_000)
    model.handle(receipt("e1", 1_000))

    assert model.handle(receipt("e1", 10_999)) == []
    assert model.states["MUG"].positions["A"].on_hand == 1


def test_event_repeated_after_the_window_is_applied_again_and_old_markers_go():
    model = PartitionModel(dedupe_window_ms=10_000)
    model.handle(receipt("e1", 1_000))
    model.handle(receipt("e2", 5_000))

    assert len(model.handle(receipt("e1", 11_000))) == 1
    assert model.states["MUG"].positions["A"].on_hand == 3
    assert set(model.markers) == {"MUG\x00e2", "MUG\x00e1"}
    model.handle(receipt("e3", 15_000))
    assert "MUG\x00e2" not in model.markers  # first applied at 5_000: out of the window


def test_same_event_id_for_another_sku_is_not_a_duplicate():
    model = PartitionModel()
    model.handle(receipt("e1", 1, sku="MUG"))

    assert len(model.handle(receipt("e1", 2, sku="CUP"))) == 1


def test_channel_change_republishes_only_skus_whose_availability_changed():
    model = PartitionModel()
    model.handle(receipt("e1", 1, sku="MUG"))
    model.handle(
        ReceiveStock(
            command_id="e2:CUP",
            event_id="e2",
            event_type="StockReceived",
            occurred_at=2,
            logged_at=2,
            sku="CUP",
            location_id="B",
            qty=4,
        )
    )
    model.handle(configure("c1", "web", "A", "B"))

    outcomes = model.handle(configure("c2", "web", "B"))  # MUG at A drops out of web

    assert [o.state.sku for o in outcomes] == ["MUG"]
    (outcome,) = outcomes
    assert outcome.availability.available("web") == 0
    assert outcome.availability.version == 3 == model.states["MUG"].version
    assert (outcome.availability.cause_event_id, outcome.availability.cause_event_type) == (
        "c2",
        "ChannelConfigured",
    )
    assert outcome.decisions == [] and outcome.movements == []


def test_adding_or_removing_a_channel_changes_the_listed_channels_of_every_sku():
    model = PartitionModel()
    model.handle(receipt("e1", 1))

    added = model.handle(configure("c1", "marketplace", "Z"))
    removed = model.handle(
        RemoveChannel(
            command_id="c2",
            event_id="c2",
            event_type="ChannelRemoved",
            occurred_at=0,
            logged_at=0,
            channel_id="marketplace",
        )
    )

    assert [c.channel_id for c in added[0].availability.channels] == ["default", "marketplace"]
    assert [c.channel_id for c in removed[0].availability.channels] == ["default"]


def test_reconcile_without_a_visible_change_returns_the_same_state():
    s = SkuState("MUG", positions={"A": Position(on_hand=2)})
    old = ChannelBook().with_channel(Channel("web", ("A",), 0))
    new = ChannelBook().with_channel(Channel("web", ("A", "B"), 0))

    outcome = reconcile(s, old, new, configure("c1", "web", "A", "B"))

    assert outcome.state is s and outcome.availability is None


def test_channel_commands_are_broadcast_to_every_partition():
    inv = InMemoryInventory(partitions=3)
    skus = ["MUG", "CUP", "PLATE", "BOWL", "FORK"]
    assert len({partition_of(s, 3) for s in skus}) > 1
    for sku in skus:
        inv.post("StockReceived", sku=sku, location_id="A", qty=2)

    outcomes = inv.post("ChannelConfigured", channel_id="web", location_ids=["A"], safety_stock=1)

    assert sorted(o.state.sku for o in outcomes) == sorted(skus)
    assert all(p.book.configured["web"].safety_stock == 1 for p in inv.partitions)
    assert {inv.ats(s)["web"] for s in skus} == {1}


def test_timer_command_has_a_synthetic_event_id_so_a_repeated_tick_is_a_duplicate():
    command = expire_holds("MUG", 60_000, logged_at=60_005)
    assert (command.event_id, command.command_id, command.event_type) == (
        "expire:MUG:60000",
        "expire:MUG:60000",
        "HoldsExpired",
    )

    inv = InMemoryInventory()
    inv.post("StockReceived", sku="MUG", location_id="A", qty=1)
    inv.post(
        "OrderPlaced",
        order_id="o1",
        channel_id="web",
        lines=[{"sku": "MUG", "qty": 1}],
        hold_expires_at=60_000,
    )
    assert inv.partitions[0].due_holds(59_999) == []
    assert inv.partitions[0].due_holds(60_000) == ["MUG"]
    assert len(inv.handle_command(command)) == 1
    assert inv.handle_command(command) == []


def test_inventory_remembers_orders_so_confirmations_reach_every_sku():
    inv = InMemoryInventory(partitions=2)
    inv.post("StockReceived", sku="MUG", location_id="A", qty=1)
    inv.post("StockReceived", sku="CUP", location_id="A", qty=1)
    inv.post(
        "OrderPlaced",
        order_id="o1",
        channel_id="web",
        hold_expires_at=5_000,
        lines=[{"sku": "MUG", "qty": 1}, {"sku": "CUP", "qty": 1}],
    )

    inv.post("OrderConfirmed", order_id="o1")

    assert inv.expire(10_000) == []
    assert inv.state("MUG").lines["o1"].confirmed and inv.state("CUP").lines["o1"].confirmed


def test_redelivered_cancellation_does_not_reach_a_line_placed_after_it():
    inv = InMemoryInventory(partitions=2)
    inv.post("StockReceived", sku="MUG", location_id="A", qty=5)
    inv.post("StockReceived", sku="CUP", location_id="A", qty=5)
    inv.post("OrderPlaced", order_id="o1", channel_id="web", lines=[{"sku": "MUG", "qty": 1}])
    cancel = {"event_id": "cancel-1", "occurred_at": 0, "order_id": "o1", "lines": None}
    inv.handle_event("OrderCancelled", cancel, logged_at=10_000)
    inv.post("OrderPlaced", order_id="o1", channel_id="web", lines=[{"sku": "CUP", "qty": 2}])

    assert inv.handle_event("OrderCancelled", cancel, logged_at=20_000) == []
    assert inv.state("CUP").lines["o1"].reserved == 2


def test_an_event_repeated_after_the_window_is_a_new_event_with_new_ids():
    inv = InMemoryInventory(dedupe_window_ms=1_000)
    event = {
        "event_id": "r1",
        "occurred_at": 1,
        "reference": None,
        "location_id": "A",
        "sku": "MUG",
        "qty": 1,
    }
    (first,) = inv.handle_event("StockReceived", event, logged_at=1_000)
    assert inv.handle_event("StockReceived", event, logged_at=1_500) == []  # a repeat: dropped
    (again,) = inv.handle_event("StockReceived", event, logged_at=5_000)  # beyond the window
    assert again.movements[0].balance_after == 2
    assert {m.movement_id for m in first.movements}.isdisjoint(
        m.movement_id for m in again.movements
    )
