"""Stock levels in the read model (v1.1): stored beside each channel's available by the
projector, answered by the API as an added field (docs/adapters.md#the-redis-read-model)."""

from __future__ import annotations

from stocksignal.adapters.api import channel_item, sku_item
from stocksignal.adapters.availability_reader import _channel_value
from stocksignal.adapters.channel_levels import Thresholds
from stocksignal.adapters.snapshot import availability_from_hash, snapshot_of
from stocksignal.contract.examples import example


def _configured(t: Thresholds, channel_id: str, threshold: int | None) -> None:
    record = {"event_id": "e", "occurred_at": 1, "channel_id": channel_id, "location_ids": ["A"]}
    if threshold is not None:
        record["low_stock_threshold"] = threshold
    t.apply(channel_id.encode(), "ChannelConfigured", record)


def test_thresholds_follow_the_channels_topic():
    t = Thresholds()
    _configured(t, "web-de", 200)
    _configured(t, "mkt", None)  # a v1 record: threshold 0
    assert (t.of("web-de"), t.of("mkt"), t.of("default"), t.of("unconfigured")) == (200, 0, 0, 0)
    t.apply(b"mkt", "ChannelRemoved", {"event_id": "e2", "occurred_at": 2, "channel_id": "mkt"})
    t.apply(b"web-de", None, None)  # a tombstone
    assert t.configured == {}


def test_a_configured_default_lends_its_threshold_to_unconfigured_channels():
    t = Thresholds()
    _configured(t, "default", 7)
    assert t.of("default") == 7 and t.of("somewhere") == 7


def test_a_record_the_processor_rejects_configures_no_threshold():
    t = Thresholds()
    _configured(t, "web-de", 2_000_000)  # above 1,000,000: the processor's DLQ
    assert t.configured == {}


def test_levels_are_stored_beside_the_values_and_read_back():
    record = example("AvailabilityChanged")  # default 118, web-de 116
    t = Thresholds()
    _configured(t, "web-de", 116)
    snap = snapshot_of(record, t.of)
    assert snap.fields["lv:default"] == "IN_STOCK" and snap.fields["lv:web-de"] == "LOW_STOCK"
    found = availability_from_hash(snap.sku, {"version": str(snap.version), **snap.fields})
    assert found.channels == {"default": 118, "web-de": 116}  # lv: fields are no channels
    assert found.levels == {"default": "IN_STOCK", "web-de": "LOW_STOCK"}
    item = sku_item(found)
    assert item["channels"] == {"default": 118, "web-de": 116}
    assert item["levels"] == {"default": "IN_STOCK", "web-de": "LOW_STOCK"}


def test_zero_is_out_of_stock_without_any_threshold():
    record = example("AvailabilityChanged")
    record["channels"] = [{"channel_id": "default", "available": 0}]
    assert snapshot_of(record).fields["lv:default"] == "OUT_OF_STOCK"


def test_a_hash_written_before_levels_answers_null_and_keeps_every_v1_field():
    record = example("AvailabilityChanged")
    fields = {k: v for k, v in snapshot_of(record).fields.items() if not k.startswith("lv:")}
    found = availability_from_hash("TSHIRT-BLK-M", {"version": "1042", **fields})
    assert found.levels is None and sku_item(found)["levels"] is None
    value = _channel_value("TSHIRT-BLK-M", "web-de", "1042", "116", None)
    assert channel_item(value) == {
        "sku": "TSHIRT-BLK-M",
        "channel": "web-de",
        "available": 116,
        "version": 1042,
        "level": None,
    }


def test_one_channels_answer_carries_its_level():
    value = _channel_value("MUG", "web", "3", "0", "OUT_OF_STOCK")
    assert channel_item(value)["level"] == "OUT_OF_STOCK" and channel_item(value)["available"] == 0
    unknown_channel = _channel_value("MUG", "nope", "3", None, None)
    assert unknown_channel.level is None and unknown_channel.available is None
