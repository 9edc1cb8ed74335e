from __future__ import annotations

import pytest

from stocksignal.client import RepeatFilter


def test_availability_repeats_and_older_versions_are_dropped_per_sku():
    f = RepeatFilter()
    assert f.is_new("AvailabilityChanged", {"sku": "A", "version": 2})
    assert f.is_new("AvailabilityChanged", {"sku": "B", "version": 1})
    assert not f.is_new("AvailabilityChanged", {"sku": "A", "version": 2})
    assert not f.is_new("AvailabilityChanged", {"sku": "A", "version": 1})
    assert f.is_new("AvailabilityChanged", {"sku": "A", "version": 3})


def test_stock_levels_are_versioned_per_sku_and_channel():
    f = RepeatFilter()
    assert f.is_new("StockLevelChanged", {"sku": "A", "channel_id": "web", "version": 4})
    assert f.is_new("StockLevelChanged", {"sku": "A", "channel_id": "mkt", "version": 4})
    assert not f.is_new("StockLevelChanged", {"sku": "A", "channel_id": "web", "version": 4})


@pytest.mark.parametrize(
    "name, field", [("ReservationDecided", "decision_id"), ("StockMoved", "movement_id")]
)
def test_ids_are_remembered_up_to_max_ids(name, field):
    f = RepeatFilter(max_ids=2)
    assert f.is_new(name, {field: "1"}) and f.is_new(name, {field: "2"})
    assert not f.is_new(name, {field: "1"})  # seen again: now the newest
    assert f.is_new(name, {field: "3"})  # evicts "2", the oldest
    assert not f.is_new(name, {field: "1"}) and f.is_new(name, {field: "2"})


def test_records_without_a_rule_are_always_new():
    f = RepeatFilter()
    assert f.is_new("OrderPlaced", {"event_id": "e"}) and f.is_new("OrderPlaced", {"event_id": "e"})


def test_max_ids_must_be_positive():
    with pytest.raises(ValueError):
        RepeatFilter(max_ids=0)
