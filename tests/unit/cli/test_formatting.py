"""One-line renderings of the outputs (``stocksignal tail``), the SKU rule, the channel fold."""

from __future__ import annotations

from stocksignal.cli.channels import ChannelRecord, fold_channels
from stocksignal.cli.formatting import (
    fmt_ts,
    format_availability,
    format_decision,
    format_dlq,
    format_movement,
    record_skus,
    utc,
)
from stocksignal.cli.sku import channel_rule
from stocksignal.contract.examples import example

T = 1_767_261_600_123  # 2026-01-01T10:00:00.123Z


def test_time_to_the_millisecond():
    assert fmt_ts(T, utc()) == "2026-01-01 10:00:00.123"
    assert fmt_ts(None) == "-" * 23


def test_a_movement_reads_like_a_ledger_line():
    m = {
        "sku": "MUG",
        "location_id": "WH-BER",
        "bucket": "RESERVED",
        "delta": -2,
        "balance_after": 2,
        "reason": "SHORT_PICK",
        "reason_detail": "short pick: 2 reserved units not found",
        "reference": "W-1",
        "cause_event_id": "evt-9",
        "cause_event_type": "PickConfirmed",
        "occurred_at": T,
    }
    assert format_movement(m, utc()) == (
        "2026-01-01 10:00:00.123  MUG@WH-BER  RESERVED           -2 -> 2  SHORT_PICK "
        "(short pick: 2 reserved units not found)  ref W-1  <- PickConfirmed evt-9"
    )
    m.update(reason_detail=None, reference=None, delta=5)
    assert "+5 -> 2  SHORT_PICK  <- PickConfirmed" in format_movement(m, utc())


def test_a_decision_shows_status_quantities_allocations_and_reason():
    d = {
        "decision_id": "x",
        "order_id": "M-7",
        "sku": "MUG",
        "channel_id": "market",
        "status": "REJECTED",
        "qty_requested": 1,
        "qty_reserved": 0,
        "allocations": [],
        "reason": "INSUFFICIENT_STOCK",
        "cause_event_id": "evt-1",
        "decided_at": T,
    }
    assert format_decision(d, utc()) == (
        "2026-01-01 10:00:00.123  M-7  MUG  REJECTED    0/1 reserved {}  channel=market  "
        "reason=INSUFFICIENT_STOCK  <- evt-1"
    )
    d.update(
        status="RESERVED",
        qty_reserved=2,
        qty_requested=2,
        reason=None,
        allocations=[{"location_id": "BER", "qty": 1}, {"location_id": "HAM", "qty": 1}],
    )
    assert "RESERVED    2/2 reserved {BER: 1, HAM: 1}  channel=market  <- evt-1" in format_decision(
        d, utc()
    )


def test_availability_shows_every_channel_and_the_non_zero_buckets():
    a = example("AvailabilityChanged")
    line = format_availability(a, tz=utc())
    assert f"{a['sku']}  v{a['version']}" in line
    for c in a["channels"]:
        assert f"{c['channel_id']}={c['available']}" in line
    for loc in a["locations"]:
        assert f"{loc['location_id']}: on_hand={loc['on_hand']} reserved={loc['reserved']}" in line
    assert line.endswith(f"<- {a['cause_event_type']} {a['cause_event_id']}")


def test_a_dlq_record_shows_its_headers_and_what_it_was():
    headers = {
        "dlq.reason": "VALIDATION_ERROR",
        "dlq.error": "lines[0].qty: 0 is not in 1..1000000",
        "dlq.topic": "inventory.orders.v1",
        "dlq.partition": "2",
        "dlq.offset": "15",
    }
    line = format_dlq(T, b"O-9", headers, "OrderPlaced", {"order_id": "O-9"}, b"\xc3\x01", utc())
    assert line == (
        "2026-01-01 10:00:00.123  VALIDATION_ERROR  inventory.orders.v1[2]@15  key=O-9  "
        'lines[0].qty: 0 is not in 1..1000000  | OrderPlaced {"order_id":"O-9"}'
    )
    garbage = format_dlq(T, None, {"dlq.reason": "DECODE_ERROR"}, None, None, b"\x00" * 30, utc())
    assert (
        "DECODE_ERROR  ?[?]@?  key=(none)" in garbage
        and "undecodable 30 bytes: " + "00" * 24 + "..." in garbage
    )


def test_record_skus():
    assert record_skus({"sku": "A"}) == {"A"}
    assert record_skus({"lines": [{"sku": "A"}, {"sku": "B"}, {"sku": "A"}]}) == {"A", "B"}
    assert record_skus(None) == set()


def test_the_channel_rule_is_the_computation():
    positions = {"WH-BER": {"sellable": 2}, "WH-HAM": {"sellable": 8}}
    ch = {"available": 8, "locations": ["WH-HAM", "WH-BER", "WH-X"], "safety_stock": 2}
    assert channel_rule(ch, positions) == "max(0, WH-HAM 8 + WH-BER 2 + WH-X 0 − 2) = 8"
    assert (
        channel_rule({"available": 0, "locations": [], "safety_stock": 0}, {})
        == "max(0, 0 − 0) = 0"
    )


def _configured(channel, locations, partition, offset, safety=0):
    record = {
        "event_id": f"e{offset}",
        "occurred_at": offset,
        "source": None,
        "channel_id": channel,
        "location_ids": locations,
        "safety_stock": safety,
    }
    return ChannelRecord(partition, offset, channel, "ChannelConfigured", record)


def _removed(channel, partition, offset):
    return ChannelRecord(
        partition,
        offset,
        channel,
        "ChannelRemoved",
        {"event_id": f"e{offset}", "occurred_at": offset, "source": None, "channel_id": channel},
    )


def test_the_newest_configuration_of_each_channel_wins_and_removed_ones_are_gone():
    records = [
        _configured("web", ["A"], 0, 5),
        _configured("web", ["A", "B"], 0, 9, safety=1),  # newer: wins
        _configured("mkt", ["B"], 1, 1),
        _removed("mkt", 1, 2),
        _configured("pos", ["C"], 2, 0),
        _removed("pos", 2, 3),
        _configured("pos", ["C", "D"], 2, 4),  # configured again after a removal
        _configured("gone", ["X"], 1, 7),
        ChannelRecord(1, 8, "gone", None, None),  # a tombstone
    ]
    folded = fold_channels(reversed(records))  # the input order does not matter, offsets do
    assert list(folded) == ["pos", "web"]
    assert folded["web"]["location_ids"] == ["A", "B"] and folded["web"]["safety_stock"] == 1
    assert folded["pos"]["location_ids"] == ["C", "D"]
    assert fold_channels([]) == {}
