"""The catalogue and bundle availability in the processor, on the fakes of its ports
(docs/processor.md#bundles-and-all-or-nothing-orders): a catalogue change is decided by the
bundle's own partition and applied by every other one in its own log; a bundle's availability
follows its scarcest component, in its own versions; a refused catalogue record is dead-lettered
as the original record; a stock event naming a bundle changes nothing."""

from __future__ import annotations

import itertools
import time

import pytest

from stocksignal.bench.workload import Event
from stocksignal.contract import partition_for
from stocksignal.contract import topics as catalogue
from stocksignal.processor.bundles import CatalogEnvelope, catalog_key
from tests.unit.processor.world import (
    DEDUPE_WINDOW_MS,
    World,
    assert_matches_model,
    published,
    run_until_idle,
)


@pytest.fixture(autouse=True)
def no_wall_clock_sleeps(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda _s: None)


_ids = itertools.count(1)


def _event(w: World, name: str, **fields) -> Event:
    return Event(
        name,
        {"event_id": f"b-{next(_ids)}", "occurred_at": w.next_ts(), "source": "test", **fields},
    )


GIFT = [{"sku": "MUG", "qty": 1}, {"sku": "LAMP", "qty": 2}]


def _bundle_snapshots(w: World, sku: str) -> list[dict]:
    return [a for _, a in published(w).snapshots if a["sku"] == sku]


def _shop(partitions: int = 4) -> tuple[World, object]:
    w = World(command_partitions=partitions)
    wk = w.worker().start()
    w.send([_event(w, "ChannelConfigured", channel_id="web", location_ids=["A"])])
    run_until_idle(wk)
    w.send(
        [
            _event(w, "StockReceived", location_id="A", sku="MUG", qty=3),
            _event(w, "StockReceived", location_id="A", sku="LAMP", qty=5),
        ]
    )
    run_until_idle(wk)
    w.send([_event(w, "BundleDefined", bundle_sku="GIFT", components=GIFT)])
    run_until_idle(wk)
    return w, wk


def test_a_bundle_is_published_with_its_scarcest_component_and_follows_it():
    w, wk = _shop()
    snaps = _bundle_snapshots(w, "GIFT")
    assert [
        (a["version"], {c["channel_id"]: c["available"] for c in a["channels"]}) for a in snaps
    ] == [
        (1, {"default": 0, "web": 0}),  # defined: components not heard of yet
        (2, {"default": 2, "web": 2}),  # LAMP 5 // 2 = 2 < MUG 3
    ]
    assert all(a["locations"] == [] for a in snaps)
    w.send(
        [
            _event(
                w, "OrderPlaced", order_id="o1", channel_id="web", lines=[{"sku": "LAMP", "qty": 2}]
            )
        ]
    )
    run_until_idle(wk)
    last = _bundle_snapshots(w, "GIFT")[-1]
    assert (last["version"], last["channels"][1]["available"], last["cause_event_type"]) == (
        3,
        1,
        "OrderPlaced",
    )
    w.send([_event(w, "StockReceived", location_id="A", sku="MUG", qty=1)])  # MUG is not the limit
    run_until_idle(wk)
    assert _bundle_snapshots(w, "GIFT")[-1]["version"] == 3
    assert_matches_model(w)


def test_every_partition_applies_an_accepted_catalogue_change():
    w, wk = _shop()
    stores = {
        s.partition: s for s in wk.runtime._open_stores.values() if s.get(catalog_key(s.partition))
    }
    assert sorted(stores) == [0, 1, 2, 3]
    for p, store in stores.items():
        assert CatalogEnvelope.from_bytes(store.get(catalog_key(p))).catalogue.is_bundle("GIFT")
    w.send([_event(w, "BundleRemoved", bundle_sku="GIFT")])
    run_until_idle(wk)
    for p, store in stores.items():
        assert not CatalogEnvelope.from_bytes(store.get(catalog_key(p))).catalogue.is_bundle("GIFT")
    last = _bundle_snapshots(w, "GIFT")[-1]
    assert {c["available"] for c in last["channels"]} == {0}


def test_a_refused_bundle_goes_to_the_dlq_as_the_original_record():
    w, wk = _shop()
    (sent,) = w.send(
        [_event(w, "BundleDefined", bundle_sku="MUG", components=[{"sku": "LAMP", "qty": 1}])]
    )
    run_until_idle(wk)
    dead = [r for r in w.broker.visible(catalogue.DLQ)]
    assert len(dead) == 1
    headers = dict(dead[0].headers)
    assert headers["dlq.reason"] == b"VALIDATION_ERROR"
    assert b"holds stock positions" in headers["dlq.error"]
    assert (headers["dlq.topic"], headers["dlq.partition"], headers["dlq.offset"]) == (
        catalogue.CATALOG.encode(),
        str(sent.partition).encode(),
        str(sent.offset).encode(),
    )
    assert (
        dead[0].key == b"MUG"
        and w.codec.decode(dead[0].value).record
        == w.codec.decode(w.codec.encode("BundleDefined", sent.record)).record
    )
    assert "MUG" not in [a["sku"] for a in _bundle_snapshots(w, "MUG") if a["locations"] == []]


def test_a_stock_event_for_a_bundle_changes_nothing_and_is_dead_lettered():
    w, wk = _shop()
    w.send([_event(w, "StockReceived", location_id="A", sku="GIFT", qty=4)])
    run_until_idle(wk)
    (dead,) = w.broker.visible(catalogue.DLQ)
    assert b"'GIFT' is a bundle" in dict(dead.headers)["dlq.error"]
    assert all(a["locations"] == [] for a in _bundle_snapshots(w, "GIFT"))
    assert_matches_model(w)


def test_bundle_state_survives_a_new_worker():
    w, wk = _shop(partitions=2)
    wk.close()
    wk2 = w.worker("worker-2").start()
    run_until_idle(wk2)
    w.send([_event(w, "StockAdjusted", location_id="A", sku="LAMP", qty_delta=-3, reason="broken")])
    run_until_idle(wk2)
    last = _bundle_snapshots(w, "GIFT")[-1]
    assert (last["version"], last["channels"][0]["available"]) == (3, 1)  # restored view: v2 -> v3
    assert partition_for("GIFT", 2) in (0, 1)
    assert_matches_model(w)


# --- the order saga ----------------------------------------------------------------------------


def _order_decisions(w: World) -> dict[str, dict]:
    return {
        d["order_id"]: d
        for d in (
            w.codec.decode(r.value).record for r in w.broker.visible(catalogue.ORDER_DECISIONS)
        )
    }


def _open_lines(wk, sku: str) -> dict:
    from stocksignal.processor.envelope import Envelope, sku_key

    store = wk.runtime.serving[partition_for(sku, wk.world.command_partitions)]
    raw = store.get(sku_key(sku))
    return (
        {}
        if raw is None
        else {oid: line.reserved for oid, line in Envelope.from_bytes(raw).state.lines.items()}
    )


def assert_matches_command_log(w: World) -> None:
    """A saga's steps interleave with other orders, so the timestamp-order model does not say
    which order wins; the command-log model does (as the e2e checks): every decision and
    movement, by id and content, nothing more, nothing missing."""
    from stocksignal.domain import PartitionModel, command_from_dict

    got = published(w)
    want_d, want_m = {}, {}
    for commands in got.commands.values():
        model = PartitionModel(DEDUPE_WINDOW_MS)
        for d in commands:
            for o in model.handle(command_from_dict(d)):
                want_d.update((x.decision_id, x.to_record()) for x in o.decisions)
                want_m.update((x.movement_id, x.to_record()) for x in o.movements)
    assert {r["decision_id"]: r for r in got.decisions} == want_d
    assert {r["movement_id"]: r for r in got.movements} == want_m


def test_the_last_kit_is_sold_once_and_the_loser_holds_nothing():
    w, wk = _shop()  # MUG 3, LAMP 5; GIFT = 1 MUG + 2 LAMP: 2 kits
    w.send(
        [
            _event(
                w,
                "OrderPlaced",
                order_id=f"K-{i}",
                channel_id="web",
                lines=[{"sku": "GIFT", "qty": 1}],
            )
            for i in range(3)
        ]
    )
    w.send(
        [
            _event(
                w,
                "OrderPlaced",
                order_id="D-1",
                channel_id="web",
                lines=[{"sku": "LAMP", "qty": 1}],
            )
        ]
    )
    run_until_idle(wk)
    decided = _order_decisions(w)
    kits = {o: d["status"] for o, d in decided.items() if o.startswith("K-")}
    assert sorted(kits.values()) == ["ACCEPTED", "ACCEPTED", "REJECTED"], decided
    (loser,) = [o for o, st in kits.items() if st == "REJECTED"]
    assert decided[loser]["fulfilment"] == "ALL_OR_NOTHING"
    assert all(x["qty_reserved"] == 0 for x in decided[loser]["lines"])
    assert loser not in _open_lines(wk, "MUG") and loser not in _open_lines(wk, "LAMP")
    assert_matches_command_log(w)


def test_an_all_or_nothing_order_is_released_whole_and_a_kit_cancel_releases_its_components():
    w, wk = _shop()
    w.send(
        [
            _event(
                w,
                "OrderPlaced",
                order_id="A-1",
                channel_id="web",
                fulfilment="ALL_OR_NOTHING",
                lines=[{"sku": "MUG", "qty": 1}, {"sku": "LAMP", "qty": 9}],
            )
        ]
    )
    run_until_idle(wk)
    d = _order_decisions(w)["A-1"]
    assert (d["status"], d["reason"]) == (
        "REJECTED",
        "ORDER_INCOMPLETE: INSUFFICIENT_STOCK for LAMP",
    )
    released = [
        r for r in published(w).decisions if r["order_id"] == "A-1" and r["status"] == "RELEASED"
    ]
    assert [(r["sku"], r["reason"]) for r in released] == [("MUG", "ORDER_INCOMPLETE")]
    w.send(
        [
            _event(
                w,
                "OrderPlaced",
                order_id="K-1",
                channel_id="web",
                lines=[{"sku": "GIFT", "qty": 2}],
            )
        ]
    )
    run_until_idle(wk)
    assert _order_decisions(w)["K-1"]["status"] == "ACCEPTED"
    w.send(
        [
            _event(
                w,
                "OrderCancelled",
                order_id="K-1",
                lines=[{"sku": "GIFT", "qty": 1}],
                reason="customer",
            )
        ]
    )
    run_until_idle(wk)
    assert _open_lines(wk, "MUG").get("K-1") == 1 and _open_lines(wk, "LAMP").get("K-1") == 2
    w.send([_event(w, "OrderCancelled", order_id="K-1", lines=None, reason="customer")])
    run_until_idle(wk)
    assert "K-1" not in _open_lines(wk, "MUG") and "K-1" not in _open_lines(wk, "LAMP")
    assert_matches_command_log(w)


def test_a_bundle_line_the_router_did_not_know_is_sent_on_to_a_saga():
    w, wk = _shop()
    sagas = wk.router.sagas
    sagas.stores, sagas._view, wk.applier.bundles.view = (
        (lambda: {}),
        None,
        None,
    )  # a router that knows nothing
    w.send(
        [
            _event(
                w,
                "OrderPlaced",
                order_id="K-1",
                channel_id="web",
                lines=[{"sku": "GIFT", "qty": 1}],
            )
        ]
    )
    run_until_idle(wk)
    logged = [
        c["type"] for cs in published(w).commands.values() for c in cs if c.get("order_id") == "K-1"
    ]
    assert "PlaceLine" in logged and "PlaceOrder" in logged  # routed per SKU, then sent on
    assert _order_decisions(w)["K-1"]["status"] == "ACCEPTED"
    assert _open_lines(wk, "MUG") == {"K-1": 1} and _open_lines(wk, "LAMP") == {"K-1": 2}
    assert_matches_command_log(w)
