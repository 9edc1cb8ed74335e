"""Output records, deterministic ids, state and command serialisation, purity of apply."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

from stocksignal.domain import (
    COMMAND_TYPES,
    ChannelBook,
    InMemoryInventory,
    PlaceLine,
    ShipLine,
    SkuState,
    ValidationError,
    apply,
    command_from_dict,
    command_to_dict,
    decision_id,
    movement_id,
)
from stocksignal.domain.ids import NAMESPACE

SPEC_FIELDS = {
    "ReservationDecided": [
        "decision_id",
        "order_id",
        "sku",
        "channel_id",
        "status",
        "qty_requested",
        "qty_reserved",
        "allocations",
        "reason",
        "cause_event_id",
        "decided_at",
    ],
    "StockMoved": [
        "movement_id",
        "sku",
        "location_id",
        "bucket",
        "delta",
        "balance_after",
        "reason",
        "reason_detail",
        "cause_event_id",
        "cause_event_type",
        "reference",
        "occurred_at",
    ],
    "AvailabilityChanged": [
        "sku",
        "version",
        "channels",
        "locations",
        "cause_event_id",
        "cause_event_type",
        "occurred_at",
        "published_at",
    ],
    "ChannelAvailability": ["channel_id", "available"],
    "LocationStock": [
        "location_id",
        "on_hand",
        "reserved",
        "picked",
        "damaged",
        "quality_hold",
        "pending_inspection",
        "inbound",
        "sellable",
    ],
    "Allocation": ["location_id", "qty"],
}


def busy_inventory() -> InMemoryInventory:
    inv = InMemoryInventory()
    inv.post("StockReceived", sku="MUG", location_id="B", qty=4)
    inv.post("StockReceived", sku="MUG", location_id="A", qty=1)
    inv.post("ChannelConfigured", channel_id="web", location_ids=["A", "B"], safety_stock=1)
    inv.post("InboundExpected", reference="PO-1", location_id="C", sku="MUG", qty=3)
    inv.post(
        "TransferDispatched",
        transfer_id="t1",
        from_location_id="B",
        to_location_id="C",
        sku="MUG",
        qty=1,
    )
    inv.post(
        "OrderPlaced",
        order_id="o1",
        channel_id="web",
        lines=[{"sku": "MUG", "qty": 2}],
        hold_expires_at=50_000,
    )
    inv.post("OrderPlaced", order_id="o2", channel_id="pos", lines=[{"sku": "MUG", "qty": 1}])
    inv.post(
        "PickConfirmed", order_id="o1", location_id="B", lines=[{"sku": "MUG", "qty_picked": 1}]
    )
    inv.post(
        "ShipmentConfirmed",
        shipment_id="s1",
        order_id="o2",
        location_id="B",
        lines=[{"sku": "MUG", "qty": 1}],
    )
    inv.post("OrderPlaced", order_id="o3", channel_id="web", lines=[{"sku": "MUG", "qty": 1}])
    inv.post(
        "ShipmentConfirmed",
        shipment_id="s2",
        order_id="o3",
        location_id="B",
        lines=[{"sku": "MUG", "qty": 1}],
    )
    return inv


def test_records_have_exactly_the_spec_fields():
    inv = InMemoryInventory()
    inv.post("StockReceived", sku="MUG", location_id="A", qty=2)
    (out,) = inv.post(
        "OrderPlaced", order_id="o1", channel_id="web", lines=[{"sku": "MUG", "qty": 1}]
    )

    decision, movement, availability = out.decisions[0], out.movements[0], out.availability
    assert list(decision.to_record()) == SPEC_FIELDS["ReservationDecided"]
    assert list(decision.to_record()["allocations"][0]) == SPEC_FIELDS["Allocation"]
    assert list(movement.to_record()) == SPEC_FIELDS["StockMoved"]
    record = availability.to_record()
    assert list(record) == SPEC_FIELDS["AvailabilityChanged"]
    assert list(record["channels"][0]) == SPEC_FIELDS["ChannelAvailability"]
    assert list(record["locations"][0]) == SPEC_FIELDS["LocationStock"]
    for cls in (type(decision), type(movement), type(availability)):
        assert [f.name for f in dataclasses.fields(cls)] == SPEC_FIELDS[cls.__name__]


def test_records_carry_plain_symbols_and_json_types():
    inv = InMemoryInventory()
    inv.post("StockReceived", sku="MUG", location_id="A", qty=2)
    (out,) = inv.post(
        "OrderPlaced", order_id="o1", channel_id="web", lines=[{"sku": "MUG", "qty": 1}]
    )

    record = out.decisions[0].to_record()
    assert type(record["status"]) is str and record["status"] == "RESERVED"
    assert type(out.movements[0].to_record()["bucket"]) is str
    json.dumps(out.availability.to_record())


def test_availability_is_published_with_the_next_version_only_when_a_bucket_changes():
    inv = InMemoryInventory()
    (received,) = inv.post("StockReceived", sku="MUG", location_id="A", qty=2)
    inv.post(
        "OrderPlaced",
        order_id="o1",
        channel_id="web",
        lines=[{"sku": "MUG", "qty": 1}],
        hold_expires_at=9_000,
    )
    (confirmed,) = inv.post("OrderConfirmed", order_id="o1")
    (rejected,) = inv.post(
        "OrderPlaced", order_id="o2", channel_id="web", lines=[{"sku": "MUG", "qty": 5}]
    )

    assert received.availability.version == 1
    assert confirmed.availability is None and confirmed.state.version == 2
    assert rejected.availability is None and rejected.decisions
    assert inv.state("MUG").version == 2


def test_snapshot_lists_channels_and_locations_sorted_by_id():
    inv = busy_inventory()
    (out,) = inv.post("StockReceived", sku="MUG", location_id="AA", qty=1)

    snapshot = out.availability
    assert [c.channel_id for c in snapshot.channels] == ["default", "web"]
    assert [loc.location_id for loc in snapshot.locations] == ["A", "AA", "B", "C"]
    assert snapshot.published_at == 0
    c = next(loc for loc in snapshot.locations if loc.location_id == "C")
    assert (c.inbound, c.sellable) == (4, 0)


def test_decided_at_is_the_log_time_and_occurred_at_the_event_time():
    inv = InMemoryInventory()
    inv.handle_event(
        "StockReceived",
        {"event_id": "e1", "occurred_at": 10, "sku": "MUG", "location_id": "A", "qty": 1},
        logged_at=20,
    )
    (out,) = inv.handle_event(
        "OrderPlaced",
        {
            "event_id": "e2",
            "occurred_at": 30,
            "order_id": "o1",
            "channel_id": "web",
            "lines": [{"sku": "MUG", "qty": 1}],
        },
        logged_at=45,
    )

    assert out.decisions[0].decided_at == 45
    assert out.movements[0].occurred_at == out.availability.occurred_at == 30
    assert out.availability.cause_event_id == out.decisions[0].cause_event_id == "e2"


def test_ids_are_uuid5_of_command_id_and_output_index():
    assert decision_id("e1:MUG", 0) == str(uuid.uuid5(NAMESPACE, "e1:MUG|d0"))
    assert movement_id("e1:MUG", 3) == str(uuid.uuid5(NAMESPACE, "e1:MUG|m3"))
    assert decision_id("e1:MUG", 0) != movement_id("e1:MUG", 0)


def test_same_command_on_same_state_gives_identical_outcome_and_ids():
    inv = busy_inventory()
    state, book = inv.state("MUG"), inv.book("MUG")
    ship = ShipLine(
        command_id="x:MUG",
        event_id="x",
        event_type="ShipmentConfirmed",
        occurred_at=1,
        logged_at=2,
        sku="MUG",
        shipment_id="s9",
        order_id="o1",
        location_id="A",
        qty=2,
    )

    first, second = apply(state, ship, book), apply(state, ship, book)

    assert first == second
    assert len({m.movement_id for m in first.movements}) == len(first.movements) > 1


def test_apply_never_mutates_its_input_state_and_shares_what_it_did_not_touch():
    inv = busy_inventory()
    state = inv.state("MUG")
    before = json.dumps(state.to_dict(), sort_keys=True)
    ship = ShipLine(
        command_id="x:MUG",
        event_id="x",
        event_type="ShipmentConfirmed",
        occurred_at=1,
        logged_at=2,
        sku="MUG",
        shipment_id="s9",
        order_id="o1",
        location_id="B",
        qty=1,
    )

    outcome = apply(state, ship, inv.book("MUG"))

    assert json.dumps(state.to_dict(), sort_keys=True) == before
    assert outcome.state.positions["C"] is state.positions["C"]  # untouched: shared
    assert outcome.state.positions["B"] is not state.positions["B"]


def test_state_round_trips_exactly_through_json():
    state = busy_inventory().state("MUG")
    d = state.to_dict()

    assert SkuState.from_dict(json.loads(json.dumps(d))) == state
    assert SkuState.from_dict(d).to_dict() == d
    assert state.lines and state.inbound and state.transfers and state.recent


def test_state_dict_holds_only_str_int_list_and_dict():
    def walk(value):
        if isinstance(value, dict):
            for k, v in value.items():
                assert type(k) is str
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert type(value) in (str, int), value

    walk(busy_inventory().state("MUG").to_dict())


def test_closed_lines_leave_the_state():
    inv = busy_inventory()
    assert set(inv.state("MUG").lines) == {"o1"}  # o2 shipped, o3 rejected
    inv.post("OrderCancelled", order_id="o1", lines=None)
    assert inv.state("MUG").lines == {}


def test_empty_state_and_none_state_are_the_same_starting_point():
    place = PlaceLine(
        command_id="e:MUG",
        event_id="e",
        event_type="OrderPlaced",
        occurred_at=1,
        logged_at=1,
        sku="MUG",
        order_id="o1",
        channel_id="web",
        qty=1,
    )
    assert apply(None, place, ChannelBook()) == apply(SkuState.empty("MUG"), place, ChannelBook())


def test_apply_refuses_a_command_for_another_sku():
    place = PlaceLine(
        command_id="e:CUP",
        event_id="e",
        event_type="OrderPlaced",
        occurred_at=1,
        logged_at=1,
        sku="CUP",
        order_id="o1",
        channel_id="web",
        qty=1,
    )
    with pytest.raises(ValueError):
        apply(SkuState.empty("MUG"), place, ChannelBook())


def example_command(cls):
    values = {
        "str": "x",
        "int": 3,
        "str | None": "y",
        "int | None": 4,
        "tuple[str, ...]": ("A", "B"),
        "tuple[tuple[str, int], ...]": (("A", 1), ("B", 6)),
        "bool": True,
    }
    return cls(**{f.name: values[f.type] for f in dataclasses.fields(cls)})


@pytest.mark.parametrize("name", sorted(COMMAND_TYPES))
def test_every_command_round_trips_through_a_json_dict(name):
    command = example_command(COMMAND_TYPES[name])

    d = json.loads(json.dumps(command_to_dict(command)))

    assert d["type"] == name
    assert command_from_dict(d) == command


def test_command_from_dict_rejects_unknown_types_and_missing_fields():
    with pytest.raises(ValidationError):
        command_from_dict({"type": "Teleport"})
    with pytest.raises(ValidationError):
        command_from_dict({"type": "PlaceLine", "sku": "MUG"})
