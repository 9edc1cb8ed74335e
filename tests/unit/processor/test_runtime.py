"""The runtime's commit, abort, rebalance, routing and reconcile logic, on fakes of its ports.

Each test builds a real Runtime (Router, Applier, Publisher, Restorer, stores) over the fakes
of fakes.py, drives it one loop at a time with a fake clock, breaks something at a chosen
point, and checks (1) at that point: what is committed, what is visible to read_committed
readers, where the tasks restart; (2) at the end: what a consumer reads is exactly what the
domain model decides from the inputs in record-timestamp order (world.assert_matches_model).
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError

from stocksignal.bench.workload import Event, Workload
from stocksignal.contract import topics as catalogue
from stocksignal.processor import applier as applier_module
from stocksignal.processor import batches
from stocksignal.processor.envelope import Envelope, is_sku_key
from stocksignal.processor.topology import COMMANDS
from tests.unit.processor.fakes import FakeGroupMetadata
from tests.unit.processor.world import Worker, World, assert_matches_model, run_until_idle

OUTPUTS = {t.name for t in catalogue.list_topics(catalogue.Role.OUTPUT)}
OFFSET_BEGINNING = -2


@pytest.fixture(autouse=True)
def no_wall_clock_sleeps(monkeypatch):
    """The runtime's retry back-off must not cost wall time here; what it asked for is kept."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def abortable(reason: str = "message delivery timed out") -> KafkaError:
    return KafkaError(KafkaError._MSG_TIMED_OUT, reason, txn_requires_abort=True)


def fenced() -> KafkaError:
    return KafkaError(KafkaError._FENCED, "producer fenced by a newer instance", fatal=True)


def touches(*topics: str):
    wanted = set(topics)
    return lambda txn: txn is not None and bool(wanted & {t for t, _ in txn.partitions})


WHEN = {
    "routing": touches(COMMANDS),
    "applying": touches(*OUTPUTS),
    "routing and applying": lambda txn: touches(COMMANDS)(txn) and touches(*OUTPUTS)(txn),
}


def seeded(world: World, skus: int = 6, seed: int = 1, qty: int = 3) -> Workload:
    """Stock for every SKU at two locations and a channel over both."""
    wl = Workload(skus=skus, locations=2, seed=seed)
    world.send(wl.seed_stock(qty, world.next_ts()))
    world.send([wl.channel(world.next_ts())])
    return wl


def traffic(world: World, wl: Workload, n: int) -> None:
    world.send(wl.next(world.next_ts()) for _ in range(n))


def unknown_order(world: World, n: int) -> Event:
    """An OrderConfirmed for an order never placed: refused (DLQ)."""
    return Event(
        "OrderConfirmed",
        {
            "event_id": f"bad-{n}",
            "occurred_at": world.next_ts(),
            "source": "test",
            "order_id": f"O-never-{n}",
        },
    )


def visible_state(world: World) -> dict[str, list[tuple[int, int]]]:
    b = world.broker
    return {t: [(r.partition, r.offset) for r in b.visible(t)] for t in b.logs}


def step_until_fault(worker: Worker, max_steps: int = 200, advance_ms: int = 40):
    """Step until the injected fault has fired; returns (state before that step, the open
    transaction it failed in)."""
    for _ in range(max_steps):
        before = {
            "committed_data": worker.committed_data(),
            "visible": visible_state(worker.world),
            "group": dict(worker.world.broker.group.committed),
            "calls": len(worker.consumer.calls),
        }
        aborted = set(_aborted(worker))
        worker.step(advance_ms=advance_ms)
        if worker.producer.pending_faults() == 0:
            failed = [t for t in _aborted(worker) if t not in aborted]
            assert len(failed) == 1, f"the fault fired; transactions aborted by it: {failed}"
            return before, failed[0]
    raise AssertionError("the injected fault never fired")


def _aborted(worker: Worker) -> list:
    return [
        t
        for t in worker.world.broker.transactions
        if t.transactional_id == worker.producer.transactional_id and t.state == "aborted"
    ]


def assert_restarted_from_committed(worker: Worker, calls_before: int) -> None:
    """Every task was created again at the group's committed offset, its consumer seeked there."""
    committed = worker.world.broker.group.committed
    seeks = {c[1]: c[2] for c in worker.consumer.calls[calls_before:] if c[0] == "seek"}
    assert worker.runtime.tasks, "no tasks after the restart"
    for tp, t in worker.runtime.tasks.items():
        want = committed.get(tp, OFFSET_BEGINNING)
        assert t.start == want, f"{tp} restarted at {t.start}, committed is {want}"
        assert seeks.get(tp) == want, (
            f"{tp} not seeked to its committed offset {want}: {seeks.get(tp)}"
        )
        assert not t.buffer and t.next_offset is None and not t.dirty
        assert getattr(t, "cursor", None) is None


def assert_nothing_of(world: World, txn, others_open: bool = False) -> None:
    """``txn`` was aborted and nothing it wrote is visible (``others_open``: a transaction
    begun since may be open)."""
    b = world.broker
    assert txn.state == "aborted", txn
    mine = [r for t in b.logs for p in range(b.partitions(t)) for r in b.log(t, p) if r.txn is txn]
    assert mine, "the failed transaction wrote nothing: the case tests nothing"
    assert not any(r.visible for r in mine)
    if not others_open:
        assert not b.open_transactions(), b.open_transactions()


def assert_stores_unchanged(worker: Worker, before: dict) -> None:
    after = worker.committed_data()
    assert after.keys() == before.keys()
    for tp, data in before.items():
        assert after[tp] == data, f"store {tp}: committed data changed by a transaction that failed"
    for tp, store in worker.runtime._open_stores.items():
        assert not store.overlay, (
            f"store {tp}: the failed transaction's writes are still in its overlay"
        )


# --- 1, 2: a failed commit -------------------------------------------------------------------


@pytest.mark.parametrize("which", list(WHEN))
def test_abortable_commit_error_leaves_nothing_and_restarts_from_committed(which):
    w = World()
    # A few records routed per loop: routing goes on while the first commands are applied.
    wk = w.worker(route_records_per_loop=4).start()
    wl = seeded(w)
    run_until_idle(wk)
    traffic(w, wl, 40)
    w.send([unknown_order(w, 1)])
    wk.producer.inject("commit", abortable(), when=WHEN[which])

    before, failed = step_until_fault(wk)

    assert_stores_unchanged(wk, before["committed_data"])
    assert visible_state(w) == before["visible"], (
        "something of the failed transaction became visible"
    )
    assert_nothing_of(w, failed)
    assert w.broker.group.committed == before["group"]
    assert_restarted_from_committed(wk, before["calls"])
    assert not wk.runtime._txn.open and not wk.publisher._held
    assert len(wk.producer.instances) == 1, "an abortable error needs no new producer"
    assert (
        wk.metrics.registry.get_sample_value(
            "stocksignal_transactions_total", {"outcome": "aborted"}
        )
        == 1
    )

    run_until_idle(wk)
    assert_matches_model(w)


@pytest.mark.parametrize(
    "method,which",
    [
        ("commit", "applying"),
        ("commit", "routing"),
        ("send_offsets", "applying"),
        ("produce", "routing"),
    ],
)
def test_fatal_error_renews_the_producer_and_restarts_from_committed(method, which):
    w = World()
    wk = w.worker().start()
    wl = seeded(w)
    run_until_idle(wk)
    traffic(w, wl, 40)
    old = wk.producer.handle
    wk.producer.inject(method, fenced(), when=WHEN[which])

    before, failed = step_until_fault(wk)

    assert wk.producer.handle is not old, "a fatal error must replace the producer"
    assert wk.producer.instances == [old, wk.producer.handle]
    assert wk.producer.handle.init_calls == 1 and wk.producer.handle.epoch == old.epoch + 1
    assert old.fatal is not None
    assert_stores_unchanged(wk, before["committed_data"])
    assert visible_state(w) == before["visible"]
    assert_nothing_of(w, failed)  # the new instance's init_transactions aborted it
    assert w.broker.group.committed == before["group"]
    assert_restarted_from_committed(wk, before["calls"])

    run_until_idle(wk)
    assert_matches_model(w)
    later = [
        t
        for t in w.broker.transactions
        if t.id > failed.id and t.transactional_id == old.transactional_id
    ]
    assert later and all(t.epoch == old.epoch + 1 for t in later)


# --- 3: a zombie -----------------------------------------------------------------------------


def test_zombie_whose_generation_moved_on_commits_nothing():
    """A is paused just before sending its offsets; meanwhile the group expels it and B takes
    every partition and processes from the committed offsets. A's send_offsets is refused:
    nothing of its transaction becomes visible, it restarts, learns it lost its partitions."""
    w = World()
    a = w.worker("worker-1").start()
    wl = seeded(w)
    run_until_idle(a)
    traffic(w, wl, 30)
    b = w.worker("worker-2")
    a.consumer.rejoin_assignment = []
    state = {}

    def paused_past_session_timeout():
        w.broker.group.expel("worker-1")
        b.start()
        run_until_idle(b)  # B can go no further than A's open transaction allows
        state["zombie"] = a.producer.handle.txn
        state["b committed"] = [
            t
            for t in w.broker.transactions
            if t.transactional_id == b.producer.transactional_id
            and t.state == "committed"
            and t.offsets
        ]

    a.producer.before("send_offsets", paused_past_session_timeout)
    for _ in range(50):
        calls = len(a.consumer.calls)
        a.step(advance_ms=40)
        if "zombie" in state:
            break
    zombie = state["zombie"]
    assert state["b committed"], "B committed nothing while A was paused: nothing tested"
    assert zombie is not None and zombie.state == "aborted"
    assert_nothing_of(w, zombie)
    assert (
        a.metrics.registry.get_sample_value("stocksignal_transactions_total", {"outcome": "fenced"})
        == 1
    )
    assert_restarted_from_committed(a, calls)  # first, from what is committed now (B's progress)
    a.step()
    assert a.runtime.tasks == {}, "A learns at its next poll that it is out of the group"

    run_until_idle(a, b)
    assert not a.runtime.tasks
    assert_matches_model(w)


def test_a_commit_reported_that_the_broker_aborted_leaves_no_trace_in_the_stores():
    """librdkafka reports a commit done; the broker, stopped right then, restarts with the
    transaction aborted. The stores took its writes (dedupe markers among them) with a
    checkpoint. When the worker starts again from Kafka (here: it lost its membership in
    that restart), each store's checkpoint is checked against the changelog, found to follow
    an aborted record, and the store is restored from the beginning: the commands are
    decided again and published, not dropped as repeats. (The worker learns of it when the
    coordinator, aborting the transaction, bumps its producer's epoch.)"""
    w = World()
    a = w.worker("worker-1").start()
    wl = seeded(w)
    run_until_idle(a)
    traffic(w, wl, 40)
    a.producer.phantom_commits = 1
    a.producer.phantom_skip = 1  # the first commit routes; the second applies (markers)
    for _ in range(50):
        a.step(advance_ms=40)
        if a.producer.phantom_commits == 0:
            break
    assert a.producer.phantom_commits == 0, "no commit happened: nothing tested"
    phantom = [
        t for t in w.broker.transactions if t.transactional_id == a.producer.transactional_id
    ][-1]
    traffic(w, wl, 10)
    run_until_idle(a)  # its next commit is fenced: it starts again from Kafka
    assert phantom.state == "aborted"
    assert_matches_model(w)


def test_a_member_whose_session_lapsed_commits_nothing_though_the_broker_would_take_it():
    """librdkafka's session timer runs out (a broker restart) while A has a transaction open:
    until A serves the lost callback, its group metadata says generation -1 and no member,
    and Kafka takes a transactional offset commit like that without checking it against the
    group. B has meanwhile taken every partition from the committed offsets. A's commit must
    be refused by A itself, or A's records would be committed beside B's (inputs routed
    twice: the broker-restart failure of docs/processor.md, "Fencing")."""
    w = World()
    w.broker.transaction_timeout_ms = 3_600_000  # A's transaction must not time out meanwhile
    a = w.worker("worker-1").start()
    wl = seeded(w)
    run_until_idle(a)
    traffic(w, wl, 30)
    b = w.worker("worker-2")
    state = {}
    positions = a.consumer.positions

    def lapse_then_positions(partitions):
        # Called by _commit (its offsets) with A's transaction open: the session lapses now,
        # B takes over, and A goes on to capture its group metadata.
        if "zombie" not in state and a.producer.handle.txn is not None:
            a.consumer.lapse(assigned=[])  # B has everything when A rejoins
            b.start()  # reads the committed offsets: A's are not pending yet
            for _ in range(20):  # its stores wait for A's open transaction
                b.step(advance_ms=40)
            state["zombie"] = a.producer.handle.txn
        return positions(partitions)

    a.consumer.positions = lapse_then_positions
    for _ in range(50):
        a.step(advance_ms=40)
        if "zombie" in state:
            break
    a.consumer.positions = positions
    zombie = state["zombie"]
    md = FakeGroupMetadata(w.broker.group.group_id, "", -1)
    assert w.broker.group.accepts_txn_offsets(md), (
        "the broker's unchecked path is not modelled: nothing tested"
    )
    assert zombie is not None and zombie.state == "aborted", zombie
    assert_nothing_of(w, zombie, others_open=True)
    assert (
        a.metrics.registry.get_sample_value("stocksignal_transactions_total", {"outcome": "fenced"})
        == 1
    )
    run_until_idle(a, b)
    assert not a.runtime.tasks
    assert_matches_model(w)


# --- 5: revoked and lost partitions ----------------------------------------------------------


def _mid_transaction(monkeypatch) -> tuple[World, Worker]:
    """A worker with an open transaction holding buffered input records, a channel change
    applied part-way and held availability snapshots."""
    monkeypatch.setattr(applier_module, "RECONCILE_SLICE", 2)
    w = World()
    wk = w.worker(route_records_per_loop=1).start()
    wl = seeded(w, skus=10)
    run_until_idle(wk)
    w.send([Event("ChannelConfigured", {**wl.channel(w.next_ts()).record, "safety_stock": 1})])
    wk.step()  # routed, in an open transaction
    w.clock.advance(100)
    wk.step()  # committed: the channel commands are visible
    traffic(w, wl, 12)
    wk.step()  # fetched: 12 input records buffered, one routed; the channel change begins
    rt = wk.runtime
    assert rt._txn.open
    assert any(t.buffer for t in rt.inputs), "no buffered input records"
    assert any(t.cursor is not None for t in rt.commands), "no command record half-applied"
    # Snapshots go out as each record is applied: the open transaction carries some already.
    assert any(
        t.endswith("inventory.availability.v1") for t, _ in wk.producer.handle.txn.partitions
    ), "no availability produced in the open transaction"
    return w, wk


def _spy(worker: Worker, name: str, seen: dict) -> None:
    """Record the runtime's state right after its rebalance callback ``name`` returns."""
    inner = getattr(worker.consumer, name)

    def spy(partitions):
        seen["committed_before"] = dict(worker.world.broker.group.committed)
        inner(partitions)
        rt = worker.runtime
        seen.update(
            tasks=dict(rt.tasks),
            held=dict(worker.publisher._held),
            txn_open=rt._txn.open,
            overlays={tp: len(s.overlay) for tp, s in rt._open_stores.items()},
            committed=dict(worker.world.broker.group.committed),
        )

    setattr(worker.consumer, name, spy)


@pytest.mark.parametrize("how", ["lost", "revoked", "revoked, and the commit fails"])
def test_pending_work_of_a_revoked_partition_is_dropped(monkeypatch, how):
    w, wk = _mid_transaction(monkeypatch)
    rt = wk.runtime
    txn = wk.producer.handle.txn
    first_buffered = {t.tp: t.buffer[0].offset() for t in rt.inputs if t.buffer}
    half_applied = {t.tp: t.cursor.offset for t in rt.commands if t.cursor is not None}
    everything = sorted(rt.tasks)
    seen: dict = {}
    if how == "lost":
        _spy(wk, "_on_lost", seen)
        wk.consumer.lose()
    else:
        _spy(wk, "_on_revoke", seen)
        wk.consumer.rebalance(everything)
        if how.endswith("fails"):
            wk.producer.inject("commit", abortable())

    wk.step()

    assert seen, "the callback did not run"
    assert wk.producer.pending_faults() == 0
    assert seen["tasks"] == {}, "tasks of revoked partitions must be dropped"
    assert not seen["txn_open"] and not seen["held"] and not any(seen["overlays"].values())
    if how == "revoked":
        # What was processed is committed before the partitions move; what was only buffered,
        # and the rest of the record applied part-way, is not.
        assert txn.state == "committed"
        for tp, offset in first_buffered.items():
            assert seen["committed"].get(tp, 0) == offset, (
                f"{tp}: committed past records that were only buffered"
            )
        for tp, offset in half_applied.items():
            assert seen["committed"].get(tp, 0) == offset, (
                f"{tp}: a record applied part-way was committed as done"
            )
    else:
        assert txn.state == "aborted"
        assert_nothing_of(w, txn, others_open=True)
        assert seen["committed"] == seen["committed_before"]
    committed = w.broker.group.committed
    for tp, t in rt.tasks.items():  # the new assignment's tasks
        assert t.start == committed.get(tp, OFFSET_BEGINNING), f"{tp} started at {t.start}"
    assert sorted(rt.tasks) == everything

    run_until_idle(wk)
    assert_matches_model(w)


@pytest.mark.parametrize("how", ["abort", "rebalance"])
def test_a_partition_paused_by_flow_control_is_consumed_again_after(how):
    """Flow control pauses a partition whose buffer is full. librdkafka keeps a partition's
    pause flag across seek() and across re-assignment to the same client: the task that
    replaces the paused one must resume it, or the partition is never read again."""
    w = World()
    wk = w.worker(buffered_records_per_partition=4, route_records_per_loop=1).start()
    wl = seeded(w, skus=3)
    run_until_idle(wk)
    sku = wl.sku(0)
    w.send(
        Event(
            "StockAdjusted",
            {
                "event_id": f"adj-{i}",
                "occurred_at": w.next_ts(),
                "source": "test",
                "location_id": "WH-0",
                "sku": sku,
                "qty_delta": 1,
                "reason": "count",
            },
        )
        for i in range(12)
    )
    wk.step()
    tp = w.where("StockAdjusted", {"sku": sku})[:2]
    assert tp in wk.consumer.paused and wk.runtime.tasks[tp].paused, (
        "the buffer did not fill: nothing tested"
    )
    if how == "abort":
        wk.producer.inject("commit", abortable())
    else:
        wk.consumer.rebalance(sorted(wk.runtime.tasks))
    wk.step(n=4, advance_ms=40)

    run_until_idle(wk)
    assert_matches_model(w)


# --- 6: routing order ------------------------------------------------------------------------


def _stock(w: World, sku: str, qty: int, n: int) -> Event:
    return Event(
        "StockReceived",
        {
            "event_id": f"rcv-{n}",
            "occurred_at": w.next_ts(),
            "source": "test",
            "reference": None,
            "location_id": "WH-0",
            "sku": sku,
            "qty": qty,
        },
    )


def _order(w: World, sku: str, n: int) -> Event:
    return Event(
        "OrderPlaced",
        {
            "event_id": f"ord-{n}",
            "occurred_at": w.next_ts(),
            "source": "test",
            "order_id": f"O-{n}",
            "channel_id": "web",
            "lines": [{"sku": sku, "qty": 1}],
            "hold_expires_at": None,
        },
    )


def _routed(w: World) -> list[str]:
    """Event ids of the commands in the command log (committed or not), in log order."""
    out = []
    for p in range(w.broker.partitions(COMMANDS)):
        for r in w.broker.log(COMMANDS, p):
            if not r.control:
                out.extend(c["event_id"] for c in batches.decode(r.value))
    return out


def test_routing_follows_record_timestamps_and_waits_for_a_lagging_partition():
    w = World()
    wk = w.worker(max_task_idle_ms=1000).start()
    run_until_idle(wk)
    sku = "SKU-A"
    stock_tp = w.where("StockReceived", {"sku": sku})[:2]
    wk.consumer.delay(stock_tp)  # its records are in Kafka but not fetched yet
    # Interleaved in time across two topics: stock 1 @t1, order 1 @t2, stock 1 @t3, order 2 @t4.
    # Taken in timestamp order, both orders are reserved; topic by topic, one is not.
    w.send([_stock(w, sku, 1, 1)])
    w.send([_order(w, sku, 1)])
    w.send([_stock(w, sku, 1, 2)])
    w.send([_order(w, sku, 2)])
    orders_task = wk.runtime.tasks[w.where("OrderPlaced", {"order_id": "O-1"})[:2]]

    wk.step(n=3)  # no time passes: the orders must wait for the lagging stock partition
    assert len(orders_task.buffer) == 2 and _routed(w) == [], (
        "routed before a lagging partition was fetched"
    )
    w.clock.advance(999)
    wk.step()
    assert len(orders_task.buffer) == 2 and _routed(w) == [], (
        "stopped waiting before max_task_idle_ms"
    )

    wk.consumer.release(stock_tp)
    wk.step()
    assert _routed(w) == ["rcv-1", "ord-1", "rcv-2", "ord-2"], (
        "not routed in record-timestamp order"
    )
    run_until_idle(wk)
    out = assert_matches_model(w)
    assert [d["status"] for d in out.decisions] == ["RESERVED", "RESERVED"]

    # Bounded: a partition that stays behind is waited for max_task_idle_ms, then routing goes on.
    wk.consumer.delay(stock_tp)
    w.send([_order(w, sku, 3)])
    w.send([_stock(w, sku, 5, 3)])
    w.send([_order(w, sku, 4)])
    wk.step()
    assert "ord-3" not in _routed(w)
    w.clock.advance(999)
    wk.step()
    assert "ord-3" not in _routed(w), "stopped waiting before max_task_idle_ms"
    w.clock.advance(1)
    wk.step()
    assert _routed(w)[-2:] == ["ord-3", "ord-4"], "did not go on after max_task_idle_ms"
    wk.consumer.release(stock_tp)
    run_until_idle(wk)
    assert _routed(w)[-1] == "rcv-3"


def test_a_partition_whose_end_is_not_parsed_yet_holds_routing_for_the_grace():
    """librdkafka updates a partition's end as it parses that partition's part of a fetch
    response, and this thread may take another partition's records from the same response
    first: the drained-looking partition's record that happened earlier would be routed
    later. A record fetched less than route_grace_ms ago waits while a partition looks
    drained."""
    w = World()
    wk = w.worker(max_task_idle_ms=1000, route_grace_ms=30).start()
    run_until_idle(wk)
    sku = "SKU-A"
    stock_tp = w.where("StockReceived", {"sku": sku})[:2]
    w.send([_stock(w, sku, 1, 1)])
    w.send([_order(w, sku, 1)])
    wk.consumer.unparsed.add(stock_tp)  # the order is handed out; the stock's part is not read
    wk.step(n=3)  # no time passes
    assert _routed(w) == [], "routed past a partition whose end was not known to be reached"
    wk.consumer.unparsed.clear()
    wk.step()
    w.clock.advance(30)
    wk.step()
    assert _routed(w) == ["rcv-1", "ord-1"], "not routed in record-timestamp order"

    # Bounded: with nothing else coming, a record goes once it was fetched the grace ago.
    w.send([_order(w, sku, 2)])
    wk.step()
    w.clock.advance(29)
    wk.step()
    assert "ord-2" not in _routed(w), "went before route_grace_ms"
    w.clock.advance(1)
    wk.step()
    assert _routed(w)[-1] == "ord-2", "held longer than route_grace_ms"
    run_until_idle(wk)
    assert_matches_model(w)


def test_a_partition_owned_again_is_not_taken_for_drained_by_an_old_fetch_response():
    """What librdkafka knows of a partition's end is its last fetch response's, kept across a
    re-assignment: a partition owned again may look drained while records came meanwhile.
    The worker asks the broker for the ends of the input partitions it is given."""
    w = World()
    wk = w.worker(max_task_idle_ms=1000).start()  # no grace: the asked end alone must hold it
    run_until_idle(wk)
    sku = "SKU-A"
    stock_tp = w.where("StockReceived", {"sku": sku})[:2]
    wk.consumer.rebalance(wk.consumer.all_partitions())  # owned again...
    wk.consumer.unparsed.add(stock_tp)  # ...and not fetched since: its known end stays old
    w.send([_stock(w, sku, 1, 1)])
    w.send([_order(w, sku, 1)])
    wk.step(n=3)
    assert "ord-1" not in _routed(w), "routed past a partition whose records came meanwhile"
    assert any(c[0] == "end_offsets" and stock_tp in c[1] for c in wk.consumer.calls)
    wk.consumer.unparsed.clear()
    run_until_idle(wk)
    assert _routed(w) == ["rcv-1", "ord-1"], "not routed in record-timestamp order"
    assert_matches_model(w)


# --- 7: a channel change over several transactions -------------------------------------------


def test_channel_change_commits_part_way_and_a_rerun_skips_what_is_reconciled(monkeypatch):
    monkeypatch.setattr(applier_module, "RECONCILE_SLICE", 2)
    reconciled: list[str] = []
    real = applier_module.reconcile

    def counting(state, old, new, command):
        reconciled.append(state.sku)
        return real(state, old, new, command)

    monkeypatch.setattr(applier_module, "reconcile", counting)
    w = World()
    wk = w.worker().start()
    wl = seeded(w, skus=12)
    traffic(w, wl, 10)
    run_until_idle(wk)
    reconciled.clear()

    w.send([Event("ChannelConfigured", {**wl.channel(w.next_ts()).record, "safety_stock": 1})])
    rt = wk.runtime
    part_way = None
    for _ in range(40):  # commit every loop, until a commit falls inside the channel change
        wk.step(advance_ms=100)
        halves = [
            t
            for t in rt.commands
            if t.cursor is not None and t.cursor.offset == w.broker.group.committed.get(t.tp)
        ]
        if halves and not rt._txn.open:
            part_way = halves[0]
            break
    assert part_way is not None, "no commit fell inside the channel change"
    store = part_way.store
    pos = part_way.state.reconcile.pos
    committed = {
        k.decode(): Envelope.applied_pos_of(v) for k, v in store._scan(b"", b"") if is_sku_key(k)
    }
    done = {sku for sku, applied in committed.items() if applied >= pos}
    assert done and done != set(committed), (
        f"not part-way: {len(done)} of {len(committed)} SKUs reconciled"
    )

    wk.producer.inject("commit", abortable())
    reconciled.clear()
    before, failed = step_until_fault(wk, advance_ms=100)
    assert_nothing_of(w, failed)
    again = [s for s in reconciled if s in committed]  # reconciled by the failed transaction
    reconciled.clear()
    run_until_idle(wk)
    rerun = [s for s in reconciled if s in committed]
    assert not set(rerun) & done, (
        f"SKUs reconciled again after their reconcile was committed: {set(rerun) & done}"
    )
    assert set(rerun) | done == set(committed)
    assert again, "the failed transaction reconciled nothing: the case tests nothing"
    assert_matches_model(w)


# --- 8: transaction markers ------------------------------------------------------------------


@pytest.mark.parametrize("markers", ["with the last batch", "later"])
def test_commit_offsets_step_over_the_trailing_transaction_marker(markers):
    w = World()
    wk = w.worker().start()
    if markers == "later":
        wk.consumer.marker_delay_polls = 10  # passed only after the records were committed
    run_until_idle(wk)
    w.upstream = w.broker.begin("upstream")  # a transactional producer upstream: a marker follows
    wl = seeded(w)
    traffic(w, wl, 20)
    w.broker.finish(w.upstream, commit=True)
    w.upstream = None

    run_until_idle(wk)
    assert_matches_model(w)
    b = w.broker
    ends = {tp: b.high(*tp) for tp in wk.consumer.assignment if b.high(*tp) > 0}
    assert any(t == COMMANDS for t, _ in ends) and any(t != COMMANDS for t, _ in ends)
    lag = {tp: end - b.group.committed.get(tp, 0) for tp, end in ends.items()}
    assert all(n == 0 for n in lag.values()), f"committed offsets short of the end (lag): {lag}"
    offsets_only = [
        t
        for t in b.transactions
        if t.transactional_id == wk.producer.transactional_id
        and t.state == "committed"
        and t.offsets
        and not t.partitions
    ]
    if markers == "later":
        assert offsets_only, (
            "the passed markers were committed without an offsets-only transaction?"
        )
    else:
        assert not offsets_only, "the last commit did not step over the marker it had passed"
