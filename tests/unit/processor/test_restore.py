"""Restoring stores from their changelogs: what is read (committed records only), where from
(a checkpoint is trusted only when it matches the changelog), and what a worker restores
after a restart (only what is newer than its checkpoint)."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError

from stocksignal.bench.workload import Workload
from stocksignal.processor.restore import Restorer
from stocksignal.processor.store import CHECKPOINT_KEY, LAYOUT, Checkpoint, MemoryStore
from tests.unit.processor.fakes import FakeBroker, FakeChangelogReader
from tests.unit.processor.world import (
    MAX_CHECKPOINT_AGE_MS,
    ORDERS_CHANGELOG,
    STOCK_CHANGELOG,
    T0,
    World,
    assert_matches_model,
    run_until_idle,
)

TOPIC_ID = "id-stock"
NOW_MS = T0


@pytest.fixture(autouse=True)
def no_wall_clock_sleeps(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)


class Changelog:
    """One changelog partition written by transactions, and a restorer reading it back."""

    def __init__(self) -> None:
        self.broker = FakeBroker(now_ms=lambda: NOW_MS)
        self.broker.create_topic(STOCK_CHANGELOG, 1, TOPIC_ID)
        self.reader = FakeChangelogReader(self.broker)
        self.restorer = Restorer(
            self.reader,
            {STOCK_CHANGELOG: TOPIC_ID},
            MAX_CHECKPOINT_AGE_MS,
            clock=lambda: NOW_MS / 1000,
        )
        self.open: list = []

    def txn(self, records: list[tuple[bytes, bytes | None]], outcome: str) -> list[int]:
        t = self.broker.begin("owner")
        offsets = [self.broker.append(STOCK_CHANGELOG, 0, k, v, txn=t) for k, v in records]
        if outcome != "open":
            self.broker.finish(t, commit=outcome == "commit")
        else:
            self.open.append(t)
        return offsets

    def restore(
        self,
        store: MemoryStore,
        max_records: int = 5000,
        max_steps: int = 50,
        abort_open_after: int = 10,
    ) -> list[int]:
        """Run the restore to completion; the checkpoint offset after each slice. Open
        transactions are aborted (as the broker does after transaction.timeout.ms) once
        ``abort_open_after`` steps have run: until then the restore must wait."""
        self.restorer.start(store, STOCK_CHANGELOG)
        marks = []
        for step in range(max_steps):
            if step == abort_open_after:
                for t in self.open:
                    self.broker.finish(t, commit=False)
                self.open.clear()
            done = self.restorer.step(max_records=max_records)
            cp = store.checkpoint()
            marks.append(None if cp is None else cp.offset)
            if done:
                assert done == [store]
                assert not self.restorer.restoring()
                assert not self.open, (
                    "the restore completed while a transaction before the end was open"
                )
                return marks
        raise AssertionError("the restore never completed")


def standard_changelog() -> tuple[Changelog, dict[bytes, bytes], int]:
    """committed, aborted, committed (with a tombstone), then a transaction still open."""
    cl = Changelog()
    cl.txn([(b"A", b"a1"), (b"B", b"b1")], "commit")  # 0, 1; marker 2
    cl.txn([(b"A", b"BAD"), (b"C", b"BAD")], "abort")  # 3, 4; marker 5
    cl.txn([(b"B", None), (b"D", b"d1")], "commit")  # 6, 7; marker 8
    cl.txn([(b"E", b"OPEN")], "open")  # 9: the last stable offset while open; aborted: marker 10
    return cl, {b"A": b"a1", b"D": b"d1"}, 11


def data(store: MemoryStore) -> dict[bytes, bytes]:
    return {k: v for k, v in store.data.items() if k != CHECKPOINT_KEY}


def test_restore_reads_committed_records_only_and_waits_out_an_open_transaction():
    cl, want, end = standard_changelog()
    store = MemoryStore("stock", 0)
    marks = cl.restore(store, max_records=1)
    assert data(store) == want
    assert store.checkpoint() == Checkpoint(STOCK_CHANGELOG, TOPIC_ID, end, NOW_MS)
    # A slice at a time, each written with the checkpoint it reaches; it stood at the open
    # transaction (offset 9) until the transaction was aborted (Changelog.restore checks).
    assert marks[0] == 1 and marks == sorted(marks) and marks[-1] == end
    assert cl.reader.assignments[0] == {(STOCK_CHANGELOG, 0): 0}


def test_restore_of_an_empty_changelog_completes_at_once():
    cl = Changelog()
    store = MemoryStore("stock", 0)
    assert cl.restore(store) == [0]
    assert data(store) == {} and store.checkpoint().offset == 0


BAD_CHECKPOINTS = {
    "missing": None,
    "of another topic id": Checkpoint(STOCK_CHANGELOG, "id-of-a-deleted-topic", 3, NOW_MS),
    "of another changelog": Checkpoint(ORDERS_CHANGELOG, TOPIC_ID, 3, NOW_MS),
    "of another layout": Checkpoint(STOCK_CHANGELOG, TOPIC_ID, 3, NOW_MS, layout=LAYOUT - 1),
    "beyond the changelog's end": Checkpoint(STOCK_CHANGELOG, TOPIC_ID, 42, NOW_MS),
    "older than the max age": Checkpoint(
        STOCK_CHANGELOG, TOPIC_ID, 3, NOW_MS - MAX_CHECKPOINT_AGE_MS - 1
    ),
}


@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_a_store_whose_checkpoint_does_not_match_is_wiped_and_restored_from_the_beginning(case):
    cl, want, lso = standard_changelog()
    store = MemoryStore("stock", 0)
    stale = [(b"A", b"stale"), (b"Z", b"only-in-the-store")]
    cp = BAD_CHECKPOINTS[case]
    store._write(stale if cp is None else [*stale, (CHECKPOINT_KEY, cp.to_bytes())])
    cl.restore(store)
    assert cl.reader.assignments[0] == {(STOCK_CHANGELOG, 0): 0}, "not restored from the beginning"
    assert data(store) == want, "not wiped: the store keeps what the changelog does not have"
    assert cl.reader.delivered[(STOCK_CHANGELOG, 0)] == 4  # every committed record
    assert store.checkpoint() == Checkpoint(STOCK_CHANGELOG, TOPIC_ID, lso, NOW_MS)


def test_a_store_with_a_valid_checkpoint_restores_only_what_is_newer():
    cl, want, lso = standard_changelog()
    store = MemoryStore("stock", 0)
    # The store holds the first transaction (offsets 0-1, its marker at 2), and a key only it
    # has: a wipe would lose it.
    store.restore(
        [(b"A", b"a1"), (b"B", b"b1"), (b"K", b"kept")],
        Checkpoint(STOCK_CHANGELOG, TOPIC_ID, 2, NOW_MS - 5),
    )
    cl.restore(store)
    assert cl.reader.assignments[0] == {(STOCK_CHANGELOG, 0): 2}
    assert cl.reader.delivered[(STOCK_CHANGELOG, 0)] == 2  # offsets 6 and 7 only
    assert data(store) == {**want, b"K": b"kept"}
    assert store.checkpoint().offset == lso


def test_a_checkpoint_at_the_end_reads_nothing():
    cl, want, lso = standard_changelog()
    for t in cl.open:
        cl.broker.finish(t, commit=False)
    cl.open.clear()
    store = MemoryStore("stock", 0)
    store.restore(list(want.items()), Checkpoint(STOCK_CHANGELOG, TOPIC_ID, lso, NOW_MS))
    cl.restore(store)
    assert cl.reader.delivered == {}
    assert data(store) == want


def test_a_checkpoint_beyond_an_open_zombie_transaction_is_kept():
    """A zombie's transaction is open on the changelog (its first record is the last stable
    offset, the end a read_committed reader sees); the new owner committed records after it
    and its store's checkpoint is past them: within the log, past the LSO. That store holds
    committed state the changelog cannot give back until the zombie's transaction ends
    (transaction.timeout.ms): wiping it loses committed writes."""
    cl = Changelog()
    cl.txn([(b"A", b"a1")], "commit")  # 0; marker 1
    cl.txn([(b"A", b"zombie")], "open")  # 2: the zombie, paused before it could send its offsets
    cl.txn([(b"A", b"a2"), (b"B", b"b2")], "commit")  # 3, 4 by the new owner; marker 5
    assert cl.broker.lso(STOCK_CHANGELOG, 0) == 2 and cl.broker.high(STOCK_CHANGELOG, 0) == 6
    store = MemoryStore("stock", 0)
    store.restore([(b"A", b"a2"), (b"B", b"b2")], Checkpoint(STOCK_CHANGELOG, TOPIC_ID, 5, NOW_MS))
    cl.restorer.start(store, STOCK_CHANGELOG)
    assert data(store) == {b"A": b"a2", b"B": b"b2"}, (
        "a store holding committed records past an open transaction was wiped: it will be "
        "restored to the last stable offset only, and lose them"
    )


# --- a worker's restart ----------------------------------------------------------------------


def test_a_restarted_worker_with_rocksdb_stores_restores_only_what_is_newer(tmp_path):
    """A (RocksDB stores) processes, stops cleanly; B processes more; A starts again on the
    same state directory: its stores' checkpoints are valid, so it reads only B's records."""
    w = World()
    wl = Workload(skus=6, locations=2, seed=5)
    w.send(wl.seed_stock(3, w.next_ts()))
    w.send([wl.channel(w.next_ts())])
    w.send(wl.next(w.next_ts()) for _ in range(20))
    a = w.worker("worker-1", store="rocksdb", state_dir=tmp_path).start()
    run_until_idle(a)
    checkpoints = {tp: s.checkpoint() for tp, s in a.runtime._open_stores.items()}
    a.close()
    assert all(cp is not None for cp in checkpoints.values())

    b = w.worker("worker-2").start()
    w.send(wl.next(w.next_ts()) for _ in range(20))
    run_until_idle(b)
    b.close()
    written_by_b = {
        tp: [r for r in w.broker.visible(*tp) if r.offset >= cp.offset]
        for tp, cp in checkpoints.items()
    }

    a2 = w.worker("worker-1", store="rocksdb", state_dir=tmp_path).start()
    w.send(wl.next(w.next_ts()) for _ in range(20))
    run_until_idle(a2)
    starts: dict = {}
    for assignment in a2.reader.assignments:
        for tp, offset in assignment.items():
            starts.setdefault(tp, offset)
    newer = 0
    for (changelog, p), cp in checkpoints.items():
        tp = (changelog, p)
        end = cp.offset
        if tp in starts:
            assert starts[tp] == cp.offset, (
                f"{tp}: restored from {starts[tp]}, its checkpoint is {cp.offset}"
            )
        else:
            assert w.broker.lso(*tp) >= end  # nothing newer: not even assigned
        assert a2.reader.delivered.get(tp, 0) == len(written_by_b[tp]), (
            f"{tp}: read more than what is newer"
        )
        newer += len(written_by_b[tp])
    assert newer, "B wrote nothing: the case tests nothing"
    assert a2.metrics.registry.get_sample_value("stocksignal_store_wipes_total") in (None, 0.0)
    assert_matches_model(w)
    a2.close()


def test_a_restart_while_a_zombie_transaction_is_open_keeps_committed_state():
    """The zombie window end to end. A is paused after producing its changelog records (its
    transaction stays open); B takes over, applies the same commands and commits its state
    after A's open records. Then one of B's commits fails and B restarts its tasks while A's
    transaction is still open: B's stores must keep what B committed, and what B publishes
    next must be what the model gives."""
    w = World()
    a = w.worker("worker-1").start()
    wl = Workload(skus=4, locations=2, seed=9)
    w.send(wl.seed_stock(3, w.next_ts()))
    w.send([wl.channel(w.next_ts())])
    run_until_idle(a)
    w.send(wl.next(w.next_ts()) for _ in range(12))
    a.consumer.rejoin_assignment = []
    b = w.worker("worker-2")
    state = {}

    def paused_past_session_timeout():
        if not any(t == STOCK_CHANGELOG for t, _ in a.producer.handle.txn.partitions):
            a.producer.before("send_offsets", paused_past_session_timeout)  # not yet: the next one
            return
        w.broker.group.expel("worker-1")
        state["zombie"] = a.producer.handle.txn
        b.start()
        run_until_idle(b)
        state["b committed past the zombie"] = [
            (t, p)
            for (t, p), s in b.runtime._open_stores.items()
            if s.checkpoint() and s.checkpoint().offset > w.broker.lso(t, p)
        ]
        w.send(wl.next(w.next_ts()) for _ in range(12))
        b.producer.inject(
            "commit",
            KafkaError(KafkaError._MSG_TIMED_OUT, "delivery timed out", txn_requires_abort=True),
        )
        run_until_idle(b)
        state["done"] = True

    a.producer.before("send_offsets", paused_past_session_timeout)
    for _ in range(60):
        a.step(advance_ms=40)
        if "done" in state:
            break
    assert state.get("done"), "A never reached the point where it is paused"
    # B's restore waits out A's open transaction (the broker aborts it after the transaction
    # timeout), so B never commits state beyond records it could not read back.
    assert state["zombie"].state == "aborted"
    assert not state["b committed past the zombie"], "B committed past A's open transaction"
    run_until_idle(a, b)
    assert_matches_model(w)


def test_a_new_owner_restores_committed_records_past_an_open_zombie_transaction():
    """The same window, for a store restored from nothing: A is paused with its changelog
    records open; B takes over, commits state after them, and leaves; C (empty stores) takes
    over while A's transaction is still open. The end a read_committed reader reports is A's
    first open record, but B's committed records lie beyond it: C must not start deciding on a
    store restored only up to there."""
    w = World()
    a = w.worker("worker-1").start()
    wl = Workload(skus=4, locations=2, seed=9)
    w.send(wl.seed_stock(3, w.next_ts()))
    w.send([wl.channel(w.next_ts())])
    run_until_idle(a)
    w.send(wl.next(w.next_ts()) for _ in range(12))
    a.consumer.rejoin_assignment = []
    b, c = w.worker("worker-2"), w.worker("worker-3")
    state = {}

    def paused_past_session_timeout():
        if not any(t == STOCK_CHANGELOG for t, _ in a.producer.handle.txn.partitions):
            a.producer.before("send_offsets", paused_past_session_timeout)  # not yet: the next one
            return
        w.broker.group.expel("worker-1")
        state["zombie"] = a.producer.handle.txn
        b.start()
        run_until_idle(b)
        b.close()
        state["past the zombie"] = [
            r
            for p in range(w.broker.partitions(STOCK_CHANGELOG))
            for r in w.broker.log(STOCK_CHANGELOG, p)
            if r.txn is not None
            and r.txn.transactional_id == b.producer.transactional_id
            and r.state == "committed"
            and r.offset > w.broker.lso(STOCK_CHANGELOG, p)
        ]
        c.start()
        w.send(wl.next(w.next_ts()) for _ in range(12))
        run_until_idle(c)
        state["done"] = True

    a.producer.before("send_offsets", paused_past_session_timeout)
    for _ in range(60):
        a.step(advance_ms=40)
        if "done" in state:
            break
    assert state.get("done"), "A never reached the point where it is paused"
    assert state["zombie"].state == "aborted"
    assert not state["past the zombie"], (
        "B committed past A's open transaction: C would restore short of it"
    )
    run_until_idle(a, c)
    assert_matches_model(w)
