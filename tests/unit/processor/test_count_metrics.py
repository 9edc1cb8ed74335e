"""The accuracy counters (stocksignal_cycle_counts_total, stocksignal_count_correction_units_total)
count what a real Applier applies and commits: agreed and corrected counts per location, the
units corrected each way; repeats and other commands are not counts."""

from __future__ import annotations

import time

import pytest

from stocksignal.bench.workload import Event
from tests.unit.processor.world import World, run_until_idle


@pytest.fixture(autouse=True)
def no_wall_clock_sleeps(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda _s: None)


def ev(name: str, n: int, **fields) -> Event:
    return Event(name, {"event_id": f"{name}-{n}", "occurred_at": 1, "source": "test", **fields})


def sample(worker, name: str, **labels) -> float:
    return worker.metrics.registry.get_sample_value(name, labels) or 0.0


def test_counts_and_corrections_per_location_as_committed():
    world = World()
    worker = world.worker().start()
    count = ev("StockCounted", 3, sku="MUG", location_id="BER", counted_qty=4)
    world.send(
        [
            ev("StockReceived", 1, sku="MUG", location_id="BER", qty=10, reference=None),
            ev(
                "OrderPlaced",
                1,
                order_id="W-1",
                channel_id="web",
                lines=[{"sku": "MUG", "qty": 2}],
                hold_expires_at=None,
            ),
            ev(
                "PickConfirmed",
                1,
                order_id="W-1",
                location_id="BER",
                lines=[{"sku": "MUG", "qty_picked": 2}],
            ),
            ev(
                "StockCounted", 1, sku="MUG", location_id="BER", counted_qty=8
            ),  # 10 - 2 picked: agrees
            ev("StockCounted", 2, sku="MUG", location_id="HAM", counted_qty=3),  # new position: +3
            count,  # 4 + 2 picked = 6: -4
            count,  # a repeat: no count
            ev(
                "StockCounted", 4, sku="LAMP", location_id="HAM", counted_qty=0
            ),  # nothing there: agrees
            ev("StockAdjusted", 1, sku="MUG", location_id="HAM", qty_delta=-1, reason="broken"),
        ]
    )
    run_until_idle(worker)
    c, u = "stocksignal_cycle_counts_total", "stocksignal_count_correction_units_total"
    assert sample(worker, c, location="BER", outcome="agreed") == 1
    assert sample(worker, c, location="BER", outcome="corrected") == 1
    assert sample(worker, c, location="HAM", outcome="corrected") == 1
    assert sample(worker, c, location="HAM", outcome="agreed") == 1
    assert sample(worker, u, location="BER", direction="down") == 4
    assert sample(worker, u, location="HAM", direction="up") == 3
    assert sample(worker, u, location="BER", direction="up") == 0
    assert sample(worker, "stocksignal_duplicates_dropped_total", event_type="StockCounted") == 1


def test_an_aborted_transaction_counts_nothing():
    from stocksignal.processor.metrics import ProcessorMetrics

    metrics = ProcessorMetrics()
    metrics.counted("BER", [])
    metrics.discard_counts()
    metrics.flush_counts()
    assert (
        metrics.registry.get_sample_value(
            "stocksignal_cycle_counts_total", {"location": "BER", "outcome": "agreed"}
        )
        is None
    )
