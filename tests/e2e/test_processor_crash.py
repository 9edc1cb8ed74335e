"""Effectively once, proven by killing processes.

A stream of more than 20,000 realistic events (holds and producer duplicates included) runs
while workers are SIGKILLed and restarted, or join and die. Afterwards what the processor
published must equal what the independent model computes from the command log: the same
decisions (by id and content), the same ledger movements, the same final availability per
SKU and channel; the ledger must explain every balance; no snapshot may ever show an
oversold position.
"""

from __future__ import annotations

import json
import random
import time

import pytest

from stocksignal.bench.workload import Workload
from stocksignal.contract import partition_for
from tests.e2e import support

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

EVENTS = 20_000
CHUNK = 1000
RATE = 1000  # events/s while producing: the workers are killed mid-stream


def contended_workload(seed: int) -> Workload:
    # Few SKUs, so lines race for the same units and holds come due during the run.
    return Workload(skus=300, locations=3, seed=seed, hold_ms=3000, hold_share=0.1)


def produce_paced(producer, events, rate: int = RATE) -> None:
    start = time.monotonic()
    for i, e in enumerate(events):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        producer.send(e)
    producer.flush()


def run_stream(producer, load: Workload, between_chunks) -> None:
    """Produce the workload in chunks; re-send some events (producer duplicates)."""
    rnd = random.Random(7)
    sent = []
    for chunk in range(EVENTS // CHUNK):
        events = list(load.stream(CHUNK, int(time.time() * 1000)))
        repeats = rnd.sample(sent, k=min(len(sent), 20))
        produce_paced(producer, events + repeats)
        sent.extend(events)
        between_chunks(chunk)


def seed(producer, load: Workload) -> None:
    now = int(time.time() * 1000)
    producer.send_all([load.channel(now, safety_stock=2), *load.seed_stock(30, now)])


def assert_effectively_once(settings) -> support.Published:
    support.wait_quiescent(settings, settings.app_id, timeout=300)
    time.sleep(4)  # holds placed at the end come due (3 s) and are expired by the timer
    support.wait_quiescent(settings, settings.app_id, timeout=120)
    pub = support.Published.read(settings)
    expected = support.expected_from_log(settings)
    assert expected.commands > EVENTS
    support.assert_matches_model(pub, expected)
    assert any(d["status"] == "EXPIRED" for d in pub.decisions.values())
    return pub


def test_sigkill_three_times_loses_nothing_and_doubles_nothing(proc_settings, workers, producer):
    w = workers("w1")
    load = contended_workload(seed=21)
    seed(producer, load)
    kills = {4: "w1", 9: "w1", 14: "w1"}

    def between(chunk: int) -> None:
        nonlocal w
        if chunk in kills:
            w.kill()
            w = workers(f"w1-restart-{chunk}", state_dir=w.settings.state_dir)
    run_stream(producer, load, between)
    pub = assert_effectively_once(proc_settings)
    assert pub.repeats >= 0  # repeats are allowed, as long as each has identical content


def test_a_second_worker_joins_then_the_first_dies(proc_settings, workers, producer):
    w1 = workers("w1")
    load = contended_workload(seed=22)
    seed(producer, load)
    state = {}

    def between(chunk: int) -> None:
        if chunk == 5:
            state["w2"] = workers("w2")
        if chunk == 12:
            w1.kill()
    run_stream(producer, load, between)
    assert_effectively_once(proc_settings)

    # The inspection API answers for any SKU on the surviving worker (it owns them all now),
    # and the SKUs of both former owners are there.
    w2 = state["w2"]
    parts = {partition_for(f"SKU-{i:05d}", proc_settings.command_partitions) for i in range(20)}
    assert len(parts) == proc_settings.command_partitions
    for i in range(20):
        status, body = w2.get(f"/skus/SKU-{i:05d}")
        assert status == 200, body
        assert json.loads(body)["sku"] == f"SKU-{i:05d}"
