"""The loop goes on while a commit runs (runtime.py, step 8): the next transaction's records
wait for the producer, and a failure of the commit in flight takes the work after it along.

Commits here complete at the next step (world.DeferredCommit), as a commit on its own thread
does, deterministically.
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError

from tests.unit.processor.test_runtime import seeded, traffic
from tests.unit.processor.world import (
    INPUTS,
    DeferredCommit,
    World,
    assert_matches_model,
    run_until_idle,
)


@pytest.fixture(autouse=True)
def no_wall_clock_sleeps(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)


def test_work_done_while_a_commit_runs_is_committed_next_and_matches_the_model():
    w = World()
    wk = w.worker(commit_mode=DeferredCommit, route_records_per_loop=3).start()
    wl = seeded(w, skus=8)
    deferred_seen = 0
    for _ in range(40):
        traffic(w, wl, 5)
        wk.step(advance_ms=60)
        if wk.runtime._committing is not None and wk.runtime._txn.deferred:
            deferred_seen += 1
    run_until_idle(wk)
    assert deferred_seen, "no record ever waited for a commit in flight: nothing tested"
    assert_matches_model(w)


def test_a_failed_commit_in_flight_takes_the_next_transaction_along():
    w = World()
    wk = w.worker(commit_mode=DeferredCommit, route_records_per_loop=3).start()
    wl = seeded(w, skus=8)
    run_until_idle(wk)
    committed_before = dict(w.broker.group.committed)
    written = [t for t in w.broker.logs if t not in INPUTS]  # what the processor writes
    visible_before = {t: len(w.broker.visible(t)) for t in written}
    wk.producer.inject(
        "commit",
        KafkaError(KafkaError._MSG_TIMED_OUT, "delivery timed out", txn_requires_abort=True),
    )
    traffic(w, wl, 10)
    failed = False
    for _ in range(30):
        had_next = wk.runtime._committing is not None and bool(wk.runtime._txn.deferred)
        wk.step(advance_ms=60)
        if wk.producer.pending_faults() == 0:
            failed = True
            assert had_next, (
                "the failed commit had no transaction waiting behind it: nothing tested"
            )
            break
        traffic(w, wl, 3)
    assert failed, "the injected commit failure never fired"
    # Neither the failed transaction nor the one behind it left anything visible or committed.
    assert {t: len(w.broker.visible(t)) for t in written} == visible_before
    assert dict(w.broker.group.committed) == committed_before
    assert not wk.runtime._txn.deferred and wk.runtime._committing is None
    run_until_idle(wk)
    assert_matches_model(w)


def test_a_revoke_while_a_commit_runs_waits_for_it_then_commits_the_rest():
    w = World()
    wk = w.worker(commit_mode=DeferredCommit, route_records_per_loop=3).start()
    wl = seeded(w, skus=8)
    for _ in range(20):
        traffic(w, wl, 5)
        wk.step(advance_ms=60)
        if wk.runtime._committing is not None and wk.runtime._txn.open:
            break
    assert wk.runtime._committing is not None and wk.runtime._txn.open, (
        "no commit in flight with work behind it"
    )
    wk.consumer.rebalance(assigned=[])  # everything moves away, served at the next poll
    wk.step()
    assert not wk.runtime.tasks and wk.runtime._committing is None and not wk.runtime._txn.open
    other = w.worker("worker-2", commit_mode=DeferredCommit).start()
    run_until_idle(other)
    traffic(w, wl, 20)
    run_until_idle(other)
    assert_matches_model(w)


class StrandedCommit(DeferredCommit):
    """A commit whose thread outlives the runtime's patience (librdkafka stuck through a
    broker restart): never done, ``wait`` gives up, and the call runs only when the test says
    so, long after the runtime has renewed its producer and started again."""

    started: list[StrandedCommit] = []

    def __init__(self, fn) -> None:
        super().__init__(fn)
        StrandedCommit.started.append(self)

    def done(self) -> bool:
        return False

    def wait(self, timeout_s: float) -> bool:
        return False

    def finish_late(self) -> None:
        self._run_once()


def test_a_commit_that_returns_after_the_producer_was_renewed_cannot_commit_the_new_transaction():
    w = World()
    StrandedCommit.started = []
    wk = w.worker(commit_mode=StrandedCommit, route_records_per_loop=3).start()
    wl = seeded(w, skus=8)
    for _ in range(20):
        traffic(w, wl, 3)
        wk.step(advance_ms=60)
        if wk.runtime._committing is not None:
            break
    assert wk.runtime._committing is not None, "no commit in flight: nothing tested"
    wk.consumer.lose()  # expelled (a broker restart) while the commit is stuck; it rejoins
    for _ in range(40):  # the runtime gives up on the commit and starts again
        traffic(w, wl, 3)
        wk.step(advance_ms=60)
        if len(wk.producer.instances) > 1 and wk.runtime._txn.begun:
            break
    assert len(wk.producer.instances) > 1, (
        "the stranded commit was never given up on: nothing tested"
    )
    assert wk.runtime._txn.begun, "the renewed producer has no transaction open: nothing tested"
    written = [t for t in w.broker.logs if t not in INPUTS]
    visible = {t: len(w.broker.visible(t)) for t in written}
    committed = dict(w.broker.group.committed)
    StrandedCommit.started[0].finish_late()  # the old thread's send_offsets and commit, at last
    assert StrandedCommit.started[0].error is not None, (
        "the late commit succeeded on a renewed producer"
    )
    assert {t: len(w.broker.visible(t)) for t in written} == visible, (
        "the new transaction was committed half-built"
    )
    assert dict(w.broker.group.committed) == committed
