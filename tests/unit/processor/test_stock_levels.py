"""Stock-level records (contract 10.2) from the processor, on the fakes of its ports: in the
transaction of the availability snapshot they go with, with its version, and never repeated or
invented by a failed commit, a restart or a restore (the published levels live in the SKU's
state, restored from its changelog)."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict

import pytest
from confluent_kafka import KafkaError

from stocksignal.bench.workload import Event, Workload
from stocksignal.contract import topics as catalogue
from stocksignal.processor.envelope import Envelope, sku_key
from tests.unit.processor.world import World, assert_matches_model, run_until_idle


@pytest.fixture(autouse=True)
def no_wall_clock_sleeps(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda _s: None)


_ids = itertools.count(1)


def _event(w: World, name: str, **fields) -> Event:
    return Event(
        name,
        {"event_id": f"lv-{next(_ids)}", "occurred_at": w.next_ts(), "source": "test", **fields},
    )


def _levels(w: World) -> list:
    """(record, FakeRecord) of every visible stock-level record, in log order per partition."""
    return [(w.codec.decode(r.value).record, r) for r in w.broker.visible(catalogue.STOCK_LEVELS)]


def _snapshots(w: World) -> dict[tuple[str, int], tuple[dict, object]]:
    out = {}
    for r in w.broker.visible(catalogue.AVAILABILITY):
        a = w.codec.decode(r.value).record
        out[(a["sku"], a["version"])] = (a, r)
    return out


def assert_feed_is_consistent(
    w: World, thresholds: dict[str, int]
) -> dict[tuple[str, str], list[str]]:
    """Every level record goes with a published snapshot (same SKU and version, same
    transaction, same number); per (sku, channel) the records chain: the first has no previous
    level, each next one's previous level is the last one's level, none repeats it; and the
    last level is the newest snapshot's. Returns the levels per (sku, channel)."""
    snapshots = _snapshots(w)
    chains: dict[tuple[str, str], list[str]] = defaultdict(list)
    for rec, raw in _levels(w):
        found = snapshots.get((rec["sku"], rec["version"]))
        assert found is not None, f"level record of a snapshot never published: {rec}"
        snapshot, snapshot_raw = found
        assert raw.txn is snapshot_raw.txn and raw.txn is not None, (
            "not in the snapshot's transaction"
        )
        assert {c["channel_id"]: c["available"] for c in snapshot["channels"]}[
            rec["channel_id"]
        ] == rec["available"]
        assert (
            rec["cause_event_id"] == snapshot["cause_event_id"]
            and rec["occurred_at"] == snapshot["occurred_at"]
        )
        chain = chains[(rec["sku"], rec["channel_id"])]
        assert rec["previous_level"] == (chain[-1] if chain else None), (
            f"broken chain {chain} -> {rec}"
        )
        assert rec["level"] != rec["previous_level"], f"a level record without a change: {rec}"
        chain.append(rec["level"])
    newest: dict[str, dict] = {}
    for (sku, version), (a, _) in snapshots.items():
        if sku not in newest or version > newest[sku]["version"]:
            newest[sku] = a
    for sku, a in newest.items():
        for c in a["channels"]:
            n, t = c["available"], thresholds.get(c["channel_id"], 0)
            want = "OUT_OF_STOCK" if n == 0 else "LOW_STOCK" if n <= t else "IN_STOCK"
            assert chains[(sku, c["channel_id"])][-1:] == [want], (
                sku,
                c,
                chains[(sku, c["channel_id"])],
            )
    return chains


def test_back_in_stock_and_running_low_records_go_with_their_snapshot():
    w = World()
    wk = w.worker().start()
    w.send(
        [
            _event(
                w, "ChannelConfigured", channel_id="web", location_ids=["A"], low_stock_threshold=2
            )
        ]
    )
    run_until_idle(wk)
    w.send([_event(w, "StockReceived", location_id="A", sku="MUG", qty=5)])
    run_until_idle(wk)
    w.send(
        [
            _event(
                w, "OrderPlaced", order_id="o1", channel_id="web", lines=[{"sku": "MUG", "qty": 3}]
            )
        ]
    )
    run_until_idle(wk)
    w.send(
        [
            _event(
                w, "OrderPlaced", order_id="o2", channel_id="web", lines=[{"sku": "MUG", "qty": 2}]
            )
        ]
    )
    run_until_idle(wk)
    w.send([_event(w, "OrderCancelled", order_id="o2")])
    run_until_idle(wk)

    chains = assert_feed_is_consistent(w, {"web": 2})
    assert chains[("MUG", "web")] == ["IN_STOCK", "LOW_STOCK", "OUT_OF_STOCK", "LOW_STOCK"]
    assert chains[("MUG", "default")] == ["IN_STOCK", "OUT_OF_STOCK", "IN_STOCK"]
    assert_matches_model(w)
    # The published levels are in the SKU's committed state (what a restore brings back).
    [store] = [s for s in wk.runtime._open_stores.values() if s.get(sku_key("MUG")) is not None]
    assert Envelope.from_bytes(store.get(sku_key("MUG"))).state.levels == {
        "default": "IN_STOCK",
        "web": "LOW_STOCK",
    }


def test_coalesced_snapshots_give_only_the_change_of_the_published_one():
    """Receipt and sale of the same units in one command record: one snapshot is published,
    and the level records describe that snapshot against the previous published one."""
    w = World()
    wk = w.worker().start()
    w.send([_event(w, "StockReceived", location_id="A", sku="MUG", qty=1)])
    run_until_idle(wk)
    w.send(
        [
            _event(
                w, "OrderPlaced", order_id="o1", channel_id="web", lines=[{"sku": "MUG", "qty": 1}]
            )
        ]
    )
    run_until_idle(wk)
    # Back in stock and sold out again within one upstream transaction, applied in one step.
    txn = w.broker.begin()
    w.send(
        [
            _event(w, "StockReceived", location_id="A", sku="MUG", qty=1),
            _event(
                w, "OrderPlaced", order_id="o2", channel_id="web", lines=[{"sku": "MUG", "qty": 1}]
            ),
        ],
        txn,
    )
    w.broker.finish(txn, commit=True)
    run_until_idle(wk)

    chains = assert_feed_is_consistent(w, {})
    assert_matches_model(w)
    # Whether the intermediate IN_STOCK was published depends on coalescing; either way the
    # feed agrees with the availability topic.
    assert chains[("MUG", "default")][:2] == ["IN_STOCK", "OUT_OF_STOCK"]
    assert chains[("MUG", "default")][-1] == "OUT_OF_STOCK"


@pytest.mark.parametrize("fault", ["abort", "restart"])
def test_no_level_record_is_repeated_or_invented_after_a_failed_commit_or_a_restore(fault):
    w = World()
    wk = w.worker().start()
    wl = Workload(skus=6, locations=2, seed=3)
    w.send(
        [
            _event(
                w,
                "ChannelConfigured",
                channel_id="web",
                location_ids=[wl.location(0), wl.location(1)],
                low_stock_threshold=2,
            )
        ]
    )
    w.send(wl.seed_stock(2, w.next_ts()))
    run_until_idle(wk)
    w.send(wl.next(w.next_ts()) for _ in range(60))
    if fault == "abort":
        wk.producer.inject(
            "commit",
            KafkaError(KafkaError._MSG_TIMED_OUT, "timed out", txn_requires_abort=True),
            when=lambda txn: (
                txn is not None and any(t == catalogue.STOCK_LEVELS for t, _ in txn.partitions)
            ),
        )
        run_until_idle(wk)
        assert (
            wk.metrics.registry.get_sample_value(
                "stocksignal_transactions_total", {"outcome": "aborted"}
            )
            == 1
        )
    else:
        run_until_idle(wk)
        wk.close()
        wk = w.worker("worker-2").start()  # restores every SKU, levels included, from the changelog
        run_until_idle(wk)
    w.send(wl.next(w.next_ts()) for _ in range(60))
    run_until_idle(wk)

    chains = assert_feed_is_consistent(w, {"web": 2})
    assert sum(len(c) for c in chains.values()) > len(chains), "the workload never changed a level"
    assert_matches_model(w)


def test_a_channel_change_reconciled_over_several_transactions_signals_each_sku_once(monkeypatch):
    """A cap of 0 puts every SKU of the channel out of stock: reconciled a slice per step,
    committed part-way, one commit failing; each SKU's change is in the feed exactly once."""
    from stocksignal.processor import applier as applier_module

    monkeypatch.setattr(applier_module, "RECONCILE_SLICE", 2)
    w = World()
    wk = w.worker().start()
    wl = Workload(skus=12, locations=2, seed=5)
    w.send(
        [
            _event(
                w,
                "ChannelConfigured",
                channel_id="web",
                location_ids=[wl.location(0), wl.location(1)],
            )
        ]
    )
    w.send(wl.seed_stock(3, w.next_ts()))
    run_until_idle(wk)
    w.send(
        [
            _event(
                w,
                "ChannelConfigured",
                channel_id="web",
                location_ids=[wl.location(0), wl.location(1)],
                max_available=0,
            )
        ]
    )
    wk.producer.inject(
        "commit",
        KafkaError(KafkaError._MSG_TIMED_OUT, "timed out", txn_requires_abort=True),
        when=lambda txn: (
            txn is not None and any(t == catalogue.STOCK_LEVELS for t, _ in txn.partitions)
        ),
    )
    run_until_idle(wk)
    assert (
        wk.metrics.registry.get_sample_value(
            "stocksignal_transactions_total", {"outcome": "aborted"}
        )
        == 1
    )

    chains = assert_feed_is_consistent(w, {})
    skus = {sku for sku, _ in chains}
    assert len(skus) == 12
    assert all(chains[(sku, "web")] == ["IN_STOCK", "OUT_OF_STOCK"] for sku in skus)
    assert all(chains[(sku, "default")] == ["IN_STOCK"] for sku in skus)
    assert_matches_model(w)
