"""End-to-end, real broker and worker processes: the catalogue and bundle availability
(docs/semantics.md#bundles-and-shared-stock, docs/processor.md#bundles-and-all-or-nothing-orders).

A gift set of a mug and a lamp follows its scarcer component on every channel, also after the
worker that owned its partition was SIGKILLed and another one SIGSTOPped; a refused definition
and a stock event naming the bundle go to the DLQ and change nothing; everything published
matches the domain model replayed over the command log."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from stocksignal.contract import topics as catalogue
from tests.e2e import support
from tests.e2e.steps import event

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

GIFT = [{"sku": "MUG", "qty": 1}, {"sku": "LAMP", "qty": 2}]


def _send(producer, *events) -> None:
    producer.send_all(events)
    producer.flush()


def _gift(pub) -> dict[str, int]:
    return {c["channel_id"]: c["available"] for c in pub.latest["GIFT"]["channels"]}


def _dlq(s) -> list[tuple[bytes | None, dict]]:
    return [(k, dict(h or ())) for _p, _o, k, _v, h in support.read_topic(s, catalogue.DLQ)]


def test_a_bundle_follows_its_scarcest_component_and_refusals_change_nothing(
    proc_settings, workers, producer
):
    s = proc_settings
    w = workers("w1")
    _send(producer, event("ChannelConfigured", channel_id="web", location_ids=["WH-A"]))
    support.wait_quiescent(s, s.app_id)
    _send(
        producer,
        event("StockReceived", reference=None, location_id="WH-A", sku="MUG", qty=3),
        event("StockReceived", reference=None, location_id="WH-A", sku="LAMP", qty=5),
    )
    support.wait_quiescent(s, s.app_id)
    _send(producer, event("BundleDefined", bundle_sku="GIFT", components=GIFT))
    support.wait_quiescent(s, s.app_id)
    assert _gift(support.Published.read(s)) == {"default": 2, "web": 2}  # LAMP 5 // 2

    _send(
        producer,
        event(
            "OrderPlaced",
            order_id="O-1",
            channel_id="web",
            hold_expires_at=None,
            lines=[{"sku": "LAMP", "qty": 3}],
        ),
    )
    support.wait_quiescent(s, s.app_id)
    pub = support.Published.read(s)
    assert _gift(pub) == {"default": 1, "web": 1}
    assert (
        pub.latest["GIFT"]["cause_event_type"] == "OrderPlaced"
        and pub.latest["GIFT"]["locations"] == []
    )
    status, body = w.get("/skus/GIFT")  # what stocksignal sku GIFT shows: the scarcest component
    web = {c["channel_id"]: c for c in json.loads(body)["channels"]}["web"]
    assert status == 200 and (web["available"], web["limited_by"]) == (1, "LAMP"), body

    _send(
        producer,
        event("StockReceived", reference=None, location_id="WH-A", sku="GIFT", qty=4),
        event("BundleDefined", bundle_sku="MUG", components=[{"sku": "LAMP", "qty": 1}]),
    )
    support.wait_quiescent(s, s.app_id)
    reasons = sorted(h["dlq.error"].decode() for _k, h in _dlq(s))
    assert len(reasons) == 2, reasons
    assert "holds stock positions" in reasons[0] or "holds stock positions" in reasons[1]
    assert any("'GIFT' is a bundle" in r for r in reasons)
    pub = support.Published.read(s)
    assert _gift(pub) == {"default": 1, "web": 1}
    support.assert_matches_model(pub, support.expected_from_log(s))


def test_bundle_availability_survives_a_killed_worker_and_a_stopped_one(
    proc_settings, workers, producer
):
    s = proc_settings
    w1, w2 = workers("w1"), workers("w2")
    _send(
        producer,
        event("ChannelConfigured", channel_id="web", location_ids=["WH-A"]),
        *[
            event("StockReceived", reference=None, location_id="WH-A", sku=sku, qty=10)
            for sku in ("MUG", "LAMP")
        ],
    )
    support.wait_quiescent(s, s.app_id)
    _send(producer, event("BundleDefined", bundle_sku="GIFT", components=GIFT))
    support.wait_quiescent(s, s.app_id)
    assert _gift(support.Published.read(s)) == {"default": 5, "web": 5}

    # Component changes keep coming while one worker dies and another freezes.
    orders = [
        event(
            "OrderPlaced",
            order_id=f"O-{i}",
            channel_id="web",
            hold_expires_at=None,
            lines=[{"sku": "LAMP" if i % 2 else "MUG", "qty": 1}],
        )
        for i in range(12)
    ]
    _send(producer, *orders[:4])
    w1.kill()
    w3 = workers("w3")
    os.kill(w2.proc.pid, signal.SIGSTOP)
    try:
        _send(producer, *orders[4:])
        time.sleep(2 * s.session_timeout_ms / 1000)  # w2 is expelled; w3 takes its partitions
    finally:
        os.kill(w2.proc.pid, signal.SIGCONT)
    w3.wait_ready()
    support.wait_quiescent(s, s.app_id)
    pub = support.Published.read(s)
    # 6 lamps and 6 mugs sold: LAMP 4 // 2 = 2 < MUG 4.
    assert _gift(pub) == {"default": 2, "web": 2}
    versions = [a["version"] for a in pub.snapshots if a["sku"] == "GIFT"]
    assert len(versions) == len(set(versions)), f"a bundle version published twice: {versions}"
    support.assert_matches_model(pub, support.expected_from_log(s))


def vars_of(command) -> dict:
    from stocksignal.domain import command_to_dict

    return command_to_dict(command)


def _order_decisions(s) -> dict[str, dict]:
    return {d["order_id"]: d for d in support.decoded(s, catalogue.ORDER_DECISIONS)}


def _last_kit_race(s, producer, kill=None) -> None:
    """12 kit orders across two channels for 5 kits' worth of lamps, and direct lamp orders at
    the same time: exactly the possible number of kits is accepted, nothing is oversold, and a
    rejected kit order holds nothing."""
    _send(
        producer,
        event("ChannelConfigured", channel_id="web", location_ids=["WH-A"]),
        event("ChannelConfigured", channel_id="mkt", location_ids=["WH-A"]),
        event("StockReceived", reference=None, location_id="WH-A", sku="MUG", qty=20),
        event("StockReceived", reference=None, location_id="WH-A", sku="LAMP", qty=12),
    )
    support.wait_quiescent(s, s.app_id)
    _send(producer, event("BundleDefined", bundle_sku="GIFT", components=GIFT))  # 1 mug + 2 lamps
    support.wait_quiescent(s, s.app_id)
    kits = [
        event(
            "OrderPlaced",
            order_id=f"K-{i}",
            channel_id="web" if i % 2 else "mkt",
            hold_expires_at=None,
            lines=[{"sku": "GIFT", "qty": 1}],
        )
        for i in range(12)
    ]
    direct = [
        event(
            "OrderPlaced",
            order_id=f"D-{i}",
            channel_id="web",
            hold_expires_at=None,
            lines=[{"sku": "LAMP", "qty": 1}],
        )
        for i in range(4)
    ]
    mixed = [e for pair in zip(kits, [*direct, *[None] * 8]) for e in pair if e is not None]
    _send(producer, *mixed[:6])
    if kill is not None:
        kill()
    _send(producer, *mixed[6:])
    support.wait_quiescent(s, s.app_id)
    decided = _order_decisions(s)
    pub = support.Published.read(s)
    missing = {e.record["order_id"] for e in kits} - set(decided)
    if missing:  # what the command log holds of them says where they stopped
        steps = [
            (p, c["type"], c.get("order_id"), c.get("sku"))
            for p, cs in support.command_log(s).items()
            for c in map(vars_of, cs)
            if c.get("order_id") in missing
        ]
        raise AssertionError(
            f"kit orders without an OrderDecided: {sorted(missing)}; their commands: {steps}"
        )
    lamps_direct = sum(
        1
        for d in pub.decisions.values()
        if d["order_id"].startswith("D-") and d["status"] == "RESERVED"
    )
    accepted = [o for o, d in decided.items() if d["status"] == "ACCEPTED"]
    assert len(accepted) == (12 - lamps_direct) // 2, (lamps_direct, decided)
    assert {d["status"] for d in decided.values()} <= {"ACCEPTED", "REJECTED"}
    lamp = {loc["location_id"]: loc for loc in pub.latest["LAMP"]["locations"]}["WH-A"]
    assert lamp["reserved"] == 2 * len(accepted) + lamps_direct <= lamp["on_hand"] == 12
    held = {
        (d["order_id"], d["sku"]): d["qty_reserved"]
        for d in sorted(pub.decisions.values(), key=lambda d: d["decided_at"])
    }
    for o, d in decided.items():
        if d["status"] == "REJECTED":
            assert held.get((o, "MUG"), 0) == 0 and held.get((o, "LAMP"), 0) == 0, (o, d)
    support.assert_never_oversold(pub)


def test_the_last_kit_race(proc_settings, workers, producer):
    workers("w1")
    _last_kit_race(proc_settings, producer)


def test_the_last_kit_race_with_a_worker_killed_and_another_stopped(
    proc_settings, workers, producer
):
    s = proc_settings
    w1, w2 = workers("w1"), workers("w2")
    started = []

    def faults() -> None:
        w1.kill()
        started.append(workers("w3"))
        os.kill(w2.proc.pid, signal.SIGSTOP)
        time.sleep(2 * s.session_timeout_ms / 1000)  # w2 is expelled while stopped
        os.kill(w2.proc.pid, signal.SIGCONT)

    _last_kit_race(s, producer, kill=faults)


def test_cancelling_a_kit_line_releases_its_components(proc_settings, workers, producer):
    s = proc_settings
    workers("w1")
    _send(
        producer,
        event("ChannelConfigured", channel_id="web", location_ids=["WH-A"]),
        event("StockReceived", reference=None, location_id="WH-A", sku="MUG", qty=4),
        event("StockReceived", reference=None, location_id="WH-A", sku="LAMP", qty=8),
    )
    support.wait_quiescent(s, s.app_id)
    _send(producer, event("BundleDefined", bundle_sku="GIFT", components=GIFT))
    support.wait_quiescent(s, s.app_id)
    _send(
        producer,
        event(
            "OrderPlaced",
            order_id="K-1",
            channel_id="web",
            hold_expires_at=None,
            lines=[{"sku": "GIFT", "qty": 3}],
        ),
    )
    support.wait_quiescent(s, s.app_id)
    assert _order_decisions(s)["K-1"]["status"] == "ACCEPTED"
    assert _gift(support.Published.read(s)) == {"default": 1, "web": 1}
    _send(
        producer,
        event(
            "OrderCancelled", order_id="K-1", lines=[{"sku": "GIFT", "qty": 2}], reason="customer"
        ),
    )
    support.wait_quiescent(s, s.app_id)
    pub = support.Published.read(s)
    released = sorted(
        (d["sku"], d["qty_reserved"]) for d in pub.decisions.values() if d["status"] == "RELEASED"
    )
    assert released == [("LAMP", 2), ("MUG", 1)]  # 2 sets of 1 mug + 2 lamps released, 1 set kept
    assert _gift(pub) == {"default": 3, "web": 3}
    _send(producer, event("OrderCancelled", order_id="K-1", lines=None, reason="customer"))
    support.wait_quiescent(s, s.app_id)
    pub = support.Published.read(s)
    assert _gift(pub) == {"default": 4, "web": 4}
    support.assert_matches_model(pub, support.expected_from_log(s))
