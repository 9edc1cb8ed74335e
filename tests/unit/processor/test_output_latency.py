"""stocksignal_output_latency_seconds is measured from the cause's input record entering the
log (its Kafka timestamp), not from the producer's occurred_at: a backfill of old events
(occurred_at years ago, sent now) is not slow processing and must not fire
StocksignalOutputLatencyHigh (docs/operations.md#stocksignaloutputlatencyhigh)."""

from __future__ import annotations

import time

import pytest

from stocksignal.bench.workload import Event
from tests.unit.processor.world import World, run_until_idle

LATENCY = "stocksignal_output_latency_seconds"


@pytest.fixture(autouse=True)
def no_wall_clock_sleeps(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda _s: None)


def received(n: int, occurred_at: int) -> Event:
    return Event(
        "StockReceived",
        {
            "event_id": f"r-{n}",
            "occurred_at": occurred_at,
            "source": "test",
            "sku": f"SKU-{n}",
            "location_id": "BER",
            "qty": 5,
            "reference": None,
        },
    )


def observed(worker) -> tuple[float, float]:
    r = worker.metrics.registry
    return r.get_sample_value(LATENCY + "_count") or 0.0, r.get_sample_value(
        LATENCY + "_sum"
    ) or 0.0


def test_a_backfill_of_old_events_is_measured_from_its_log_time():
    world = World()
    world._ts = world.clock.wall_ms - 50  # the records are appended "now"...
    worker = world.worker().start()
    world.send([received(n, occurred_at=1_000) for n in range(3)])  # ...of events from 1970
    run_until_idle(worker)
    count, total = observed(worker)
    assert count == 3
    # From occurred_at each would be ~54 years; from the log time, the loop's few seconds.
    assert total / count < 60.0


def test_latency_counts_the_time_a_record_waited_in_the_log():
    world = World()  # record timestamps an hour before the wall clock: a backlog
    worker = world.worker().start()
    now_ms = world.clock.wall_ms
    world.send([received(n, occurred_at=now_ms) for n in range(2)])
    run_until_idle(worker)
    count, total = observed(worker)
    assert count == 2
    assert 3_600 <= total / count < 3_700  # waited an hour, though occurred_at says "just now"
