"""The sync worker's push mode ``levels``: it pushes a channel's number only at changes of its
stock level, read from inventory.stock-levels.v1 (docs/adapters.md#what-is-pushed-and-in-what-order)."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client import CollectorRegistry

from stocksignal.adapters.marketplace.config import check_marketplace_settings
from stocksignal.adapters.marketplace.metrics import SyncMetrics
from stocksignal.adapters.marketplace.records import ChannelChange, level_change
from stocksignal.adapters.marketplace.worker import SyncConfig, SyncWorker
from stocksignal.contract import make_codec
from stocksignal.contract.examples import example
from stocksignal.settings import Settings, SettingsError

GOOD = dataclasses.replace(
    Settings(), marketplace_channel="web-de", marketplace_url="https://example.invalid/stock"
)
CODEC = make_codec("")


class Msg:
    def __init__(self, value: bytes) -> None:
        self._value = value

    def value(self) -> bytes:
        return self._value

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 0


def _worker(push: str) -> SyncWorker:
    config = SyncConfig(
        "web-de", "t", batch_size=10, linger_s=0.1, max_attempts=0, max_pending=10, push=push
    )
    return SyncWorker(
        config,
        None,
        CODEC,
        None,
        None,
        None,
        None,
        None,
        SyncMetrics("web-de", CollectorRegistry()),
    )


def test_the_push_mode_is_checked():
    check_marketplace_settings(dataclasses.replace(GOOD, marketplace_push="levels"))
    assert Settings().marketplace_push == "every-change"
    with pytest.raises(SettingsError, match="STOCKSIGNAL_MARKETPLACE_PUSH"):
        check_marketplace_settings(dataclasses.replace(GOOD, marketplace_push="sometimes"))


def test_a_level_record_is_the_channels_value_with_the_snapshot_version():
    record = example("StockLevelChanged")  # web-de back in stock, 116 available, v1042
    assert level_change(record, "web-de") == ChannelChange("TSHIRT-BLK-M", 1042, 116, False)
    assert level_change(record, "other") is None


def test_levels_mode_reads_level_records_and_passes_over_other_channels():
    w = _worker("levels")
    record = example("StockLevelChanged")
    assert w._decode(Msg(CODEC.encode("StockLevelChanged", record))) == ChannelChange(
        "TSHIRT-BLK-M", 1042, 116, False
    )
    other = {**record, "channel_id": "mkt"}
    assert w._decode(Msg(CODEC.encode("StockLevelChanged", other))) is None
    skipped = w.metrics.skipped.labels("web-de", "unexpected_record")
    before = skipped._value.get()
    assert (
        w._decode(Msg(CODEC.encode("AvailabilityChanged", example("AvailabilityChanged")))) is None
    )
    assert skipped._value.get() == before + 1  # a record of the other mode is unexpected here


def test_every_change_mode_is_unchanged():
    w = _worker("every-change")
    got = w._decode(Msg(CODEC.encode("AvailabilityChanged", example("AvailabilityChanged"))))
    assert got == ChannelChange("TSHIRT-BLK-M", 1042, 116, False)
