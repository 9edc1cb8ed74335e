"""End-to-end: real broker, real worker process, every event type, checked against the model."""

from __future__ import annotations

import time

import pytest

from stocksignal.contract import partition_for
from stocksignal.contract import topics as catalogue
from tests.e2e import support
from tests.e2e.steps import event, step

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

# The catalogue's records (v1.1) have their own flow: tests/e2e/test_bundles_flow.py.
INPUT_RECORDS = {
    r
    for t in catalogue.list_topics(catalogue.Role.INPUT)
    if t.name != catalogue.CATALOG
    for r in t.records
}


def test_every_event_type_flows_through_and_matches_the_model(proc_settings, workers, producer):
    w = workers()
    s = proc_settings
    go = lambda *events: step(w, producer, s, *events)  # noqa: E731
    now = int(time.time() * 1000)
    go(
        event("ChannelConfigured", channel_id="web", location_ids=["WH-A", "WH-B"], safety_stock=0),
        event("ChannelConfigured", channel_id="mkt", location_ids=["WH-B"], safety_stock=1),
    )
    go(
        event(
            "InboundExpected",
            reference="PO-1",
            location_id="WH-A",
            sku="SKU-1",
            qty=10,
            expected_at=None,
        )
    )
    go(
        event("StockReceived", reference="PO-1", location_id="WH-A", sku="SKU-1", qty=6),
        event("StockReceived", reference=None, location_id="WH-B", sku="SKU-1", qty=3),
    )
    go(
        event(
            "OrderPlaced",
            order_id="O-1",
            channel_id="web",
            hold_expires_at=None,
            lines=[{"sku": "SKU-1", "qty": 7}, {"sku": "SKU-2", "qty": 1}],
        )
    )
    go(
        event(
            "OrderPlaced",
            order_id="O-2",
            channel_id="mkt",
            hold_expires_at=now + 60_000,
            lines=[{"sku": "SKU-1", "qty": 2}],
        )
    )
    hold_at = int(time.time() * 1000) + 1500
    go(
        event(
            "OrderPlaced",
            order_id="O-3",
            channel_id="mkt",
            hold_expires_at=hold_at,
            lines=[{"sku": "SKU-1", "qty": 1}],
        )
    )
    go(event("OrderConfirmed", order_id="O-1"))
    go(
        event(
            "PickConfirmed",
            order_id="O-1",
            location_id="WH-A",
            lines=[{"sku": "SKU-1", "qty_picked": 5, "qty_short": 1}],
        )
    )
    go(
        event(
            "ShipmentConfirmed",
            shipment_id="S-1",
            order_id="O-1",
            location_id="WH-A",
            lines=[{"sku": "SKU-1", "qty": 5}],
        )
    )
    go(event("OrderCancelled", order_id="O-1", lines=None, reason="customer"))
    go(
        event(
            "ReturnReceived",
            return_id="R-1",
            order_id="O-1",
            location_id="WH-A",
            lines=[{"sku": "SKU-1", "qty": 2}],
        )
    )
    go(
        event(
            "ReturnInspected",
            return_id="R-1",
            location_id="WH-A",
            lines=[{"sku": "SKU-1", "qty_restock": 1, "qty_damaged": 1}],
        )
    )
    go(
        event("StockAdjusted", location_id="WH-B", sku="SKU-1", qty_delta=-1, reason="broken"),
        event("StockCounted", location_id="WH-A", sku="SKU-1", counted_qty=3),
        event(
            "StockStatusChanged",
            location_id="WH-A",
            sku="SKU-1",
            qty=1,
            from_status="SELLABLE",
            to_status="QUALITY_HOLD",
        ),
    )
    go(
        event(
            "TransferDispatched",
            transfer_id="T-1",
            from_location_id="WH-A",
            to_location_id="WH-B",
            sku="SKU-1",
            qty=1,
        )
    )
    go(
        event(
            "TransferReceived",
            transfer_id="T-1",
            to_location_id="WH-B",
            sku="SKU-1",
            qty_received=1,
        )
    )
    # Let the hold of O-3 come due: the timer appends an ExpireHolds command.
    deadline = time.monotonic() + 10
    while not any(d["status"] == "EXPIRED" for d in support.decoded(s, catalogue.RESERVATIONS)):
        assert time.monotonic() < deadline, "hold of O-3 never expired"
        time.sleep(0.2)
    go(event("ChannelConfigured", channel_id="mkt", location_ids=["WH-B"], safety_stock=0))
    go(event("ChannelRemoved", channel_id="mkt"))
    support.wait_quiescent(s, s.app_id)

    pub = support.Published.read(s)
    support.assert_matches_model(pub, support.expected_from_log(s))

    by_order = {}
    for d in pub.decisions.values():
        by_order.setdefault((d["order_id"], d["sku"]), []).append(d["status"])
    assert by_order[("O-1", "SKU-2")] == ["REJECTED"]
    assert "RESERVED" in by_order[("O-1", "SKU-1")] and "FULFILLED" in by_order[("O-1", "SKU-1")]
    assert by_order[("O-2", "SKU-1")] == ["REJECTED"]  # mkt: WH-B only, safety stock 1
    assert by_order[("O-3", "SKU-1")] == ["RESERVED", "EXPIRED"]
    expired = next(d for d in pub.decisions.values() if d["status"] == "EXPIRED")
    assert 0 <= expired["decided_at"] - hold_at <= 2000, "a hold expires within 2 s of its time"
    causes = {m["cause_event_type"] for m in pub.movements.values()}
    causes |= {a["cause_event_type"] for a in pub.snapshots}
    assert INPUT_RECORDS - causes <= {"OrderConfirmed"}, (
        f"no effect seen from {INPUT_RECORDS - causes}"
    )
    final = pub.latest["SKU-1"]
    assert [c["channel_id"] for c in final["channels"]] == ["default", "web"]  # mkt removed


def test_order_lines_on_different_partitions_are_all_decided(proc_settings, workers, producer):
    w = workers()
    s = proc_settings
    skus = [f"SKU-{i}" for i in range(12)]
    assert len({partition_for(k, s.command_partitions) for k in skus}) > 1
    step(
        w,
        producer,
        s,
        *[event("StockReceived", reference=None, location_id="WH-A", sku=k, qty=5) for k in skus],
    )
    step(
        w,
        producer,
        s,
        event(
            "OrderPlaced",
            order_id="O-9",
            channel_id="web",
            hold_expires_at=None,
            lines=[{"sku": k, "qty": 2} for k in skus],
        ),
    )
    step(w, producer, s, event("OrderCancelled", order_id="O-9", lines=None, reason=None))
    support.wait_quiescent(s, s.app_id)
    pub = support.Published.read(s)
    statuses = {(d["sku"], d["status"]) for d in pub.decisions.values()}
    assert statuses == {(k, st) for k in skus for st in ("RESERVED", "RELEASED")}
    assert all(a["channels"][0]["available"] == 5 for a in pub.latest.values())
    support.assert_matches_model(pub, support.expected_from_log(s))


def test_a_repeated_event_has_no_effect(proc_settings, workers, producer):
    w = workers()
    s = proc_settings
    receipt = event("StockReceived", reference=None, location_id="WH-A", sku="SKU-D", qty=4)
    order = event(
        "OrderPlaced",
        order_id="O-D",
        channel_id="web",
        hold_expires_at=None,
        lines=[{"sku": "SKU-D", "qty": 3}],
    )
    adjust = event("StockAdjusted", location_id="WH-A", sku="SKU-D", qty_delta=-1, reason="dropped")
    step(w, producer, s, receipt, receipt)  # the same event twice in a row
    step(w, producer, s, order, adjust, order, adjust, receipt)  # and again, interleaved
    support.wait_quiescent(s, s.app_id)
    assert w.metric("stocksignal_duplicates_dropped_total") == 4
    pub = support.Published.read(s)
    final = pub.latest["SKU-D"]["locations"][0]
    assert (final["on_hand"], final["reserved"]) == (3, 3)
    assert [d["status"] for d in pub.decisions.values()] == ["RESERVED"]
    support.assert_matches_model(pub, support.expected_from_log(s))


def test_poison_records_go_to_the_dlq_and_the_partition_keeps_flowing(
    proc_settings, workers, producer
):
    w = workers()
    s = proc_settings
    key = b"O-P"  # every record below shares the key, so the same orders partition
    good = event(
        "OrderPlaced",
        order_id="O-P",
        channel_id="web",
        hold_expires_at=None,
        lines=[{"sku": "SKU-P", "qty": 1}],
    )
    bad_qty = event(
        "OrderPlaced",
        order_id="O-P",
        channel_id="web",
        hold_expires_at=None,
        lines=[{"sku": "SKU-P", "qty": 0}],
    )
    codec = producer.codec
    wrong_topic = codec.encode(
        "StockAdjusted",
        event("StockAdjusted", location_id="A", sku="SKU-P", qty_delta=1, reason="x").record,
    )
    unknown_fp = (
        b"\xc3\x01"
        + b"\x13" * 8
        + codec.encode("OrderConfirmed", event("OrderConfirmed", order_id="O-P").record)[10:]
    )
    orders = s.topic_prefix + catalogue.ORDERS
    p = producer.producer
    p.produce(orders, b"\x00\xff garbage", key, headers=[("trace", b"t-1")])
    p.produce(orders, unknown_fp, key)
    p.produce(orders, codec.encode("OrderPlaced", bad_qty.record), key)
    p.produce(orders, wrong_topic, key)
    producer.flush()
    step(w, producer, s, good)  # behind the poison, on the same partition
    support.wait_quiescent(s, s.app_id)

    dlq = support.read_topic(s, catalogue.DLQ)
    reasons = [dict(h)["dlq.reason"].decode() for *_, h in dlq]
    assert reasons == ["DECODE_ERROR", "UNKNOWN_SCHEMA", "VALIDATION_ERROR", "VALIDATION_ERROR"]
    first = dict(dlq[0][4])
    assert dlq[0][2] == key and dlq[0][3] == b"\x00\xff garbage" and first["trace"] == b"t-1"
    assert first["dlq.topic"].decode() == orders and int(first["dlq.offset"]) == 0
    assert "qty" in dict(dlq[2][4])["dlq.error"].decode()
    assert "does not belong" in dict(dlq[3][4])["dlq.error"].decode()
    pub = support.Published.read(s)
    assert [d["status"] for d in pub.decisions.values()] == ["REJECTED"]  # the good one, decided
    assert w.metric("stocksignal_dlq_records_total") == 4


def test_a_channel_change_republishes_only_skus_whose_value_changed(
    proc_settings, workers, producer
):
    w = workers()
    s = proc_settings
    step(
        w,
        producer,
        s,
        event("StockReceived", reference=None, location_id="WH-A", sku="SKU-X", qty=5),
        event("StockReceived", reference=None, location_id="WH-B", sku="SKU-Y", qty=5),
        event("StockAdjusted", location_id="WH-A", sku="SKU-Z", qty_delta=1, reason="found"),
        event("StockAdjusted", location_id="WH-A", sku="SKU-Z", qty_delta=-1, reason="lost again"),
    )
    support.wait_quiescent(s, s.app_id)
    before = {sku: a["version"] for sku, a in support.Published.read(s).latest.items()}
    step(
        w,
        producer,
        s,
        event("ChannelConfigured", channel_id="shop", location_ids=["WH-A"], safety_stock=0),
    )
    step(
        w,
        producer,
        s,
        event("ChannelConfigured", channel_id="shop", location_ids=["WH-A"], safety_stock=2),
    )
    support.wait_quiescent(s, s.app_id)
    pub = support.Published.read(s)
    after = {sku: a["version"] for sku, a in pub.latest.items()}
    # Adding "shop" changes every SKU's channel list; the safety stock only changes SKU-X.
    assert after == {
        "SKU-X": before["SKU-X"] + 2,
        "SKU-Y": before["SKU-Y"] + 1,
        "SKU-Z": before["SKU-Z"] + 1,
    }
    shop = {
        sku: {c["channel_id"]: c["available"] for c in a["channels"]}["shop"]
        for sku, a in pub.latest.items()
    }
    assert shop == {"SKU-X": 3, "SKU-Y": 0, "SKU-Z": 0}
    support.assert_matches_model(pub, support.expected_from_log(s))


def test_inspection_api_explains_a_sku(proc_settings, workers, producer):
    import json

    w = workers()
    s = proc_settings
    step(
        w,
        producer,
        s,
        event("StockReceived", reference=None, location_id="WH-A", sku="SKU-I", qty=4),
    )
    step(
        w,
        producer,
        s,
        event(
            "OrderPlaced",
            order_id="O-I",
            channel_id="web",
            hold_expires_at=None,
            lines=[{"sku": "SKU-I", "qty": 3}],
        ),
    )
    status, body = w.get("/skus/SKU-I")
    assert status == 200
    doc = json.loads(body)
    assert (
        doc["positions"]["WH-A"]["reserved"] == 3 and doc["channels"]["default"]["available"] == 1
    )
    assert doc["open_reservations"][0]["order_id"] == "O-I"
    status, body = w.get("/skus/SKU-I/movements?limit=2")
    moves = json.loads(body)["movements"]
    assert status == 200 and [m["reason"] for m in moves] == ["RESERVATION", "RECEIPT"]
    assert w.get("/skus/NOPE")[0] == 404
    assert w.get("/skus/SKU-I/movements?limit=0")[0] == 400
    assert w.get("/healthz")[0] == 200 and w.get("/readyz")[0] == 200
    metrics = w.get("/metrics")[1].decode()
    assert 'stocksignal_decisions_total{status="RESERVED"} 1.0' in metrics


def test_a_corrupt_command_record_stops_the_worker_instead_of_skipping_it(
    proc_settings, workers, producer
):
    """The command topic is ours; a record there that cannot be applied is a bug or corruption.
    Skipping it would silently lose stock changes, so the worker stops (exit 70) and a restart
    replays from the last commit."""
    w = workers()
    step(
        w,
        producer,
        proc_settings,
        event("StockReceived", reference=None, location_id="WH-A", sku="SKU-C", qty=1),
    )
    producer.producer.produce(
        proc_settings.topic_prefix + "stocksignal.commands.v1", b"{not json", None, 0
    )
    producer.flush()
    assert w.proc.wait(30) == 70
    assert "processing failed" in w.tail(200)


def test_markers_and_order_memory_expire_in_log_time(proc_settings, workers, producer):
    """With a 2 s dedupe window, an event repeated 3 s later counts again, and the janitor
    deletes the expired markers and the forgotten order (retention 2 s)."""
    w = workers(dedupe_window_ms=2000, order_retention_ms=2000, janitor_every_ms=0)
    s = proc_settings
    receipt = event("StockReceived", reference=None, location_id="WH-A", sku="SKU-J", qty=1)
    step(
        w,
        producer,
        s,
        receipt,
        event(
            "OrderPlaced",
            order_id="O-J",
            channel_id="web",
            hold_expires_at=None,
            lines=[{"sku": "SKU-J", "qty": 1}],
        ),
    )
    time.sleep(3)
    # Later events move log time on (the input records' timestamps are their log time).
    step(
        w,
        producer,
        s,
        receipt,
        event(
            "OrderPlaced",
            order_id="O-K",
            channel_id="web",
            hold_expires_at=None,
            lines=[{"sku": "SKU-J", "qty": 1}],
        ),
    )
    support.wait_quiescent(s, s.app_id)
    assert w.metric("stocksignal_duplicates_dropped_total") == 0  # outside the window: applied
    assert support.Published.read(s).latest["SKU-J"]["locations"][0]["on_hand"] == 2
    assert (
        w.metric("stocksignal_janitor_deleted_total") >= 2
    )  # the first receipt's and order's markers, O-J
    # O-J is forgotten: confirming it now is refused like an unknown order.
    producer.send_all([event("OrderConfirmed", order_id="O-J")])
    support.wait_quiescent(s, s.app_id)
    dlq = support.read_topic(s, catalogue.DLQ)
    assert [dict(h)["dlq.reason"].decode() for *_, h in dlq] == ["VALIDATION_ERROR"]


def test_the_in_memory_store_option_decides_the_same(proc_settings, workers, producer):
    """STOCKSIGNAL_STORE=memory (tests, experiments) goes through the same table code paths."""
    w = workers(store="memory")
    s = proc_settings
    step(
        w,
        producer,
        s,
        event("ChannelConfigured", channel_id="web", location_ids=["WH-A", "WH-B"], safety_stock=1),
        event("StockReceived", reference=None, location_id="WH-A", sku="SKU-M", qty=3),
        event("StockReceived", reference=None, location_id="WH-B", sku="SKU-M", qty=2),
    )
    step(
        w,
        producer,
        s,
        event(
            "OrderPlaced",
            order_id="O-M",
            channel_id="web",
            hold_expires_at=None,
            lines=[{"sku": "SKU-M", "qty": 4}],
        ),
    )
    step(
        w,
        producer,
        s,
        event("ChannelConfigured", channel_id="web", location_ids=["WH-B"], safety_stock=0),
    )
    support.wait_quiescent(s, s.app_id)
    pub = support.Published.read(s)
    support.assert_matches_model(pub, support.expected_from_log(s))
    assert [d["status"] for d in pub.decisions.values()] == ["RESERVED"]
    # web now sells WH-B only, with no safety stock: 2 on hand - 1 reserved there.
    assert {c["channel_id"]: c["available"] for c in pub.latest["SKU-M"]["channels"]} == {
        "default": 1,
        "web": 1,
    }


def test_any_worker_answers_for_any_sku(proc_settings, workers, producer):
    """Two workers share the command partitions; each forwards a request for a SKU it does
    not own to the worker that does (found in the consumer group's description)."""
    import json

    w1, w2 = workers("w1"), workers("w2")
    s = proc_settings
    skus = [f"SKU-{i:05d}" for i in range(20)]
    assert len({partition_for(sku, s.command_partitions) for sku in skus}) == s.command_partitions
    producer.send_all(
        [
            event("StockReceived", reference=None, location_id="WH-A", sku=sku, qty=i + 1)
            for i, sku in enumerate(skus)
        ]
    )
    deadline = time.monotonic() + 60
    while True:
        owned = [w.metric("stocksignal_assigned_partitions") for w in (w1, w2)]
        applied = sum(w.metric("stocksignal_commands_applied_total") for w in (w1, w2))
        if (
            all(n > 0 for n in owned)
            and applied >= len(skus)
            and all(w.get("/readyz")[0] == 200 for w in (w1, w2))
        ):
            break
        assert time.monotonic() < deadline, (
            f"workers never shared the partitions and applied everything: {owned}"
        )
        time.sleep(0.2)
    for w in (w1, w2):
        for i, sku in enumerate(skus):
            status, body = w.get(f"/skus/{sku}")
            assert status == 200, (w.url, sku, body)
            doc = json.loads(body)
            assert doc["sku"] == sku and doc["positions"]["WH-A"]["on_hand"] == i + 1
