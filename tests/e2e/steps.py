"""Driving a worker one step at a time, so cross-topic order is the order the test wrote."""

from __future__ import annotations

import time
import uuid
from typing import Any

from stocksignal.bench import harness
from stocksignal.bench.workload import Event
from stocksignal.settings import Settings

APPLIED = ("stocksignal_commands_applied_total", "stocksignal_duplicates_dropped_total")


def event(name: str, **fields: Any) -> Event:
    fields.setdefault("event_id", str(uuid.uuid4()))
    fields.setdefault("occurred_at", int(time.time() * 1000))
    fields.setdefault("source", "e2e")
    return Event(name, fields)


def handled(w: harness.Worker) -> float:
    return sum(w.metric(m) for m in APPLIED)


def step(
    w: harness.Worker,
    producer: harness.EventProducer,
    settings: Settings,
    *events: Event,
    timeout: float = 30.0,
) -> None:
    """Send ``events`` and wait until the worker has applied (or dropped) all their commands."""
    before = handled(w)
    n = harness.expected_commands(events, settings.command_partitions)
    producer.send_all(events)
    deadline = time.monotonic() + timeout
    while handled(w) < before + n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n} commands not handled in {timeout}s:\n{w.tail()}")
        time.sleep(0.05)
