"""The rules of docs/semantics.md#validation, one test per rule, exact messages."""

from __future__ import annotations

from typing import Any

import pytest

from stocksignal.domain import ConfigureChannel, ValidationError, split, validate

COMMON = {"event_id": "e1", "occurred_at": 1_700_000_000_000, "source": None}
VALID: dict[str, dict[str, Any]] = {
    "OrderPlaced": {
        "order_id": "o1",
        "channel_id": "web",
        "lines": [{"sku": "MUG", "qty": 1}],
        "hold_expires_at": None,
    },
    "OrderConfirmed": {"order_id": "o1"},
    "OrderCancelled": {"order_id": "o1", "lines": None, "reason": None},
    "PickConfirmed": {
        "order_id": "o1",
        "location_id": "A",
        "lines": [{"sku": "MUG", "qty_picked": 1, "qty_short": 0}],
    },
    "ShipmentConfirmed": {
        "shipment_id": "s1",
        "order_id": "o1",
        "location_id": "A",
        "lines": [{"sku": "MUG", "qty": 1}],
    },
    "ReturnReceived": {
        "return_id": "r1",
        "order_id": None,
        "location_id": "A",
        "lines": [{"sku": "MUG", "qty": 1}],
    },
    "ReturnInspected": {
        "return_id": "r1",
        "location_id": "A",
        "lines": [{"sku": "MUG", "qty_restock": 1, "qty_damaged": 0}],
    },
    "InboundExpected": {
        "reference": "PO-1",
        "location_id": "A",
        "sku": "MUG",
        "qty": 1,
        "expected_at": None,
    },
    "StockReceived": {"reference": None, "location_id": "A", "sku": "MUG", "qty": 1},
    "StockAdjusted": {"location_id": "A", "sku": "MUG", "qty_delta": -1, "reason": "audit"},
    "StockCounted": {"location_id": "A", "sku": "MUG", "counted_qty": 0},
    "StockStatusChanged": {
        "location_id": "A",
        "sku": "MUG",
        "qty": 1,
        "from_status": "SELLABLE",
        "to_status": "WRITTEN_OFF",
    },
    "TransferDispatched": {
        "transfer_id": "t1",
        "from_location_id": "A",
        "to_location_id": "B",
        "sku": "MUG",
        "qty": 1,
    },
    "TransferReceived": {
        "transfer_id": "t1",
        "to_location_id": "B",
        "sku": "MUG",
        "qty_received": 1,
    },
    "ChannelConfigured": {"channel_id": "web", "location_ids": ["A", "B"], "safety_stock": 0},
    "ChannelRemoved": {"channel_id": "web"},
}


def problems(name: str, **changes: Any) -> list[str]:
    record = {**COMMON, **VALID[name], **changes}
    try:
        validate(name, record)
    except ValidationError as err:
        assert str(err) == "; ".join(err.problems)
        return err.problems
    return []


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_records_pass(name):
    assert problems(name) == []


def test_unknown_record_name_is_rejected():
    with pytest.raises(ValidationError) as err:
        validate("OrderTeleported", {**COMMON})
    assert err.value.problems == ["record: unknown record name 'OrderTeleported'"]


def test_validation_error_is_a_value_error_listing_every_problem():
    found = problems("OrderPlaced", order_id="", lines=[{"sku": "MUG", "qty": 0}])
    assert found == ["order_id: length 0 is not in 1..128", "lines[0].qty: 0 is not in 1..1000000"]
    assert issubclass(ValidationError, ValueError)


@pytest.mark.parametrize(
    "qty, message",
    [
        (0, "lines[0].qty: 0 is not in 1..1000000"),
        (1_000_001, "lines[0].qty: 1000001 is not in 1..1000000"),
        (-3, "lines[0].qty: -3 is not in 1..1000000"),
        (1.5, "lines[0].qty: expected an integer, got float"),
        ("2", "lines[0].qty: expected an integer, got str"),
        (True, "lines[0].qty: expected an integer, got bool"),
        (None, "lines[0].qty: is required"),
    ],
)
def test_line_quantities_are_integers_in_1_to_a_million(qty, message):
    assert problems("OrderPlaced", lines=[{"sku": "MUG", "qty": qty}]) == [message]


def test_quantities_at_the_bounds_are_valid():
    assert problems("OrderPlaced", lines=[{"sku": "MUG", "qty": 1_000_000}]) == []
    assert problems("StockReceived", qty=1) == []


@pytest.mark.parametrize(
    "name, field",
    [
        ("InboundExpected", "qty"),
        ("StockReceived", "qty"),
        ("StockStatusChanged", "qty"),
        ("TransferDispatched", "qty"),
        ("TransferReceived", "qty_received"),
    ],
)
def test_stock_event_quantities_are_in_1_to_a_million(name, field):
    assert problems(name, **{field: 0}) == [f"{field}: 0 is not in 1..1000000"]


def test_repeated_sku_lines_must_still_fit_a_million_when_merged():
    lines = [{"sku": "MUG", "qty": 600_000}, {"sku": "MUG", "qty": 500_000}]
    assert problems("OrderPlaced", lines=lines) == [
        "lines: qty of sku 'MUG' totals 1100000, more than 1000000"
    ]


@pytest.mark.parametrize(
    "delta, message",
    [
        (0, "qty_delta: must not be 0"),
        (1_000_001, "qty_delta: 1000001 is not in -1000000..1000000"),
        (-1_000_001, "qty_delta: -1000001 is not in -1000000..1000000"),
    ],
)
def test_qty_delta_is_non_zero_within_plus_minus_a_million(delta, message):
    assert problems("StockAdjusted", qty_delta=delta) == [message]


def test_qty_delta_bounds_are_valid():
    assert problems("StockAdjusted", qty_delta=-1_000_000) == []
    assert problems("StockAdjusted", qty_delta=1_000_000) == []


def test_counted_qty_may_be_zero_but_not_negative_or_above_a_million():
    assert problems("StockCounted", counted_qty=0) == []
    assert problems("StockCounted", counted_qty=-1) == ["counted_qty: -1 is not in 0..1000000"]
    assert problems("StockCounted", counted_qty=1_000_001) == [
        "counted_qty: 1000001 is not in 0..1000000"
    ]


def test_inspection_line_may_have_a_zero_but_must_move_a_unit():
    line = {"sku": "MUG", "qty_restock": 0, "qty_damaged": 2}
    assert problems("ReturnInspected", lines=[line]) == []
    assert problems("ReturnInspected", lines=[{**line, "qty_damaged": 0}]) == [
        "lines[0]: moves no unit (qty_restock and qty_damaged are both 0)"
    ]
    assert problems("ReturnInspected", lines=[{**line, "qty_restock": -1}]) == [
        "lines[0].qty_restock: -1 is not in 0..1000000"
    ]


def test_pick_line_may_pick_zero_when_short_but_must_move_a_unit():
    assert problems("PickConfirmed", lines=[{"sku": "MUG", "qty_picked": 0, "qty_short": 2}]) == []
    assert problems("PickConfirmed", lines=[{"sku": "MUG", "qty_picked": 3}]) == []  # default 0
    assert problems("PickConfirmed", lines=[{"sku": "MUG", "qty_picked": 0, "qty_short": 0}]) == [
        "lines[0]: moves no unit (qty_picked and qty_short are both 0)"
    ]
    assert problems("PickConfirmed", lines=[{"sku": "MUG", "qty_picked": 1, "qty_short": -1}]) == [
        "lines[0].qty_short: -1 is not in 0..1000000"
    ]


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "sku: length 0 is not in 1..128"),
        ("x" * 129, "sku: length 129 is not in 1..128"),
        ("MUG\n", "sku: contains a non-printable character"),
        ("MU\x00G", "sku: contains a non-printable character"),
        (" MUG", "sku: has leading or trailing whitespace"),
        (42, "sku: expected a string, got int"),
        (None, "sku: is required"),
    ],
)
def test_ids_are_1_to_128_printable_characters(value, message):
    assert problems("StockReceived", sku=value) == [message]


def test_ids_at_128_characters_with_inner_spaces_and_unicode_are_valid():
    assert problems("StockReceived", sku="x" * 128) == []
    assert problems("StockReceived", location_id="Lager Köln 2") == []


@pytest.mark.parametrize(
    "name, field",
    [
        ("OrderPlaced", "order_id"),
        ("OrderPlaced", "channel_id"),
        ("OrderPlaced", "event_id"),
        ("ShipmentConfirmed", "shipment_id"),
        ("ShipmentConfirmed", "location_id"),
        ("ReturnReceived", "return_id"),
        ("ReturnReceived", "order_id"),
        ("InboundExpected", "reference"),
        ("StockReceived", "reference"),
        ("TransferDispatched", "transfer_id"),
        ("TransferDispatched", "from_location_id"),
        ("TransferReceived", "to_location_id"),
        ("ChannelRemoved", "channel_id"),
    ],
)
def test_every_id_field_is_checked(name, field):
    assert problems(name, **{field: "bad\tid"}) == [f"{field}: contains a non-printable character"]


def test_optional_ids_may_be_null():
    assert problems("ReturnReceived", order_id=None) == []
    assert problems("StockReceived", reference=None) == []


def test_line_skus_are_ids():
    assert problems("ShipmentConfirmed", lines=[{"sku": "", "qty": 1}]) == [
        "lines[0].sku: length 0 is not in 1..128"
    ]


@pytest.mark.parametrize(
    "lines, message",
    [
        ([], "lines: must not be empty"),
        (None, "lines: is required"),
        ({"sku": "MUG"}, "lines: expected a list, got dict"),
        (["MUG"], "lines[0]: expected a record, got str"),
    ],
)
def test_line_lists_are_non_empty_lists_of_records(lines, message):
    assert problems("ShipmentConfirmed", lines=lines) == [message]


def test_cancelled_lines_may_be_null_for_the_whole_order_but_not_empty():
    assert problems("OrderCancelled", lines=None) == []
    assert problems("OrderCancelled", lines=[]) == ["lines: must not be empty"]


def test_written_off_is_not_a_from_status():
    assert problems("StockStatusChanged", from_status="WRITTEN_OFF", to_status="SELLABLE") == [
        "from_status: WRITTEN_OFF is not a valid from_status (written-off units are gone)"
    ]


def test_statuses_must_be_stock_status_symbols():
    assert problems("StockStatusChanged", to_status="LOST") == [
        "to_status: 'LOST' is not one of SELLABLE, DAMAGED, QUALITY_HOLD, WRITTEN_OFF"
    ]


def test_status_change_to_the_same_status_is_rejected():
    assert problems("StockStatusChanged", from_status="DAMAGED", to_status="DAMAGED") == [
        "to_status: equals from_status (DAMAGED)"
    ]


def test_transfer_to_its_own_source_is_rejected():
    assert problems("TransferDispatched", to_location_id="A") == [
        "to_location_id: equals from_location_id 'A'"
    ]


def test_channel_safety_stock_may_not_be_negative():
    assert problems("ChannelConfigured", safety_stock=-1) == [
        "safety_stock: -1 is not in 0..1000000"
    ]


def test_channel_safety_stock_defaults_to_zero():
    record = {**COMMON, "channel_id": "web", "location_ids": ["A"]}
    validate("ChannelConfigured", record)  # safety_stock may be left out
    (command,) = split("ChannelConfigured", record, logged_at=COMMON["occurred_at"])
    assert isinstance(command, ConfigureChannel) and command.safety_stock == 0


def test_channel_may_not_list_a_location_twice():
    assert problems("ChannelConfigured", location_ids=["A", "B", "A"]) == [
        "location_ids[2]: 'A' is listed twice"
    ]


def test_channel_with_no_locations_is_valid_and_sells_nothing():
    assert problems("ChannelConfigured", location_ids=[]) == []


def test_timestamps_are_non_negative_integers():
    assert problems("OrderPlaced", occurred_at=-1) == [
        "occurred_at: -1 is not in 0..9223372036854775807"
    ]
    assert problems("OrderPlaced", hold_expires_at="soon") == [
        "hold_expires_at: expected an integer, got str"
    ]


def test_adjustment_reason_is_required_text():
    assert problems("StockAdjusted", reason="") == ["reason: length 0 is not in 1..1024"]
    assert problems("StockAdjusted", reason=None) == ["reason: is required"]


def test_a_record_that_is_not_a_mapping_is_rejected():
    with pytest.raises(ValidationError) as err:
        validate("OrderConfirmed", ["o1"])  # type: ignore[arg-type]
    assert err.value.problems == ["record: expected a record, got list"]
