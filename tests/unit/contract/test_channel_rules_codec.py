"""ChannelConfigured v1.1 on the wire: v1 frames still decode, with the new fields' defaults."""

from __future__ import annotations

from pathlib import Path

from stocksignal.contract.golden import load_samples
from stocksignal.contract.schemas import SchemaSet
from stocksignal.contract.single_object import SingleObjectCodec
from stocksignal.domain import split

V1_FINGERPRINT = "c4e7977aa60b3b52"  # ChannelConfigured as v1 wrote it


def _v1_sample(golden_dir: Path):
    return next(
        s for s in load_samples(golden_dir) if s.stem == f"ChannelConfigured.{V1_FINGERPRINT}"
    )


def test_the_v1_writer_schema_is_archived_and_is_not_the_current_one(schemas: SchemaSet) -> None:
    archived = [ws for ws in schemas.history if ws.record_name == "ChannelConfigured"]
    assert [ws.fingerprint_hex for ws in archived] == [V1_FINGERPRINT]
    assert schemas.current("ChannelConfigured").fingerprint_hex != V1_FINGERPRINT


def test_v1_bytes_decode_with_the_defaults(schemas: SchemaSet, golden_dir: Path) -> None:
    sample = _v1_sample(golden_dir)
    name, record = SingleObjectCodec(schemas).decode(sample.frame)
    assert name == "ChannelConfigured"
    assert {k: record[k] for k in ("buffer_percent", "max_available", "low_stock_threshold")} == {
        "buffer_percent": 0, "max_available": None, "low_stock_threshold": 0,
    }  # fmt: skip
    assert {k: v for k, v in record.items() if k in sample.expected} == sample.expected
    [command] = split("ChannelConfigured", record, logged_at=1)
    assert (command.buffer_percent, command.max_available, command.low_stock_threshold) == (
        0,
        None,
        0,
    )


def test_current_bytes_carry_the_rules(schemas: SchemaSet) -> None:
    codec = SingleObjectCodec(schemas)
    record = {
        "event_id": "e1",
        "occurred_at": 1,
        "channel_id": "mkt",
        "location_ids": ["A"],
        "buffer_percent": 15,
        "max_available": 40,
        "low_stock_threshold": 3,
    }
    _, decoded = codec.decode(codec.encode("ChannelConfigured", record))
    assert (
        decoded["buffer_percent"],
        decoded["max_available"],
        decoded["low_stock_threshold"],
    ) == (15, 40, 3)
    _, no_cap = codec.decode(codec.encode("ChannelConfigured", {**record, "max_available": None}))
    assert no_cap["max_available"] is None
