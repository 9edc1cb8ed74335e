"""End-to-end, real broker and worker process: the v1.1 channel rules and stock-level signals
(docs/semantics.md#channel-rules, #stock-level-signals)."""

from __future__ import annotations

import pytest

from stocksignal.contract import topics as catalogue
from tests.e2e import support
from tests.e2e.steps import event, step

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def _levels(s, sku: str, channel_id: str) -> list[dict]:
    """The stock-level records of one SKU and channel (one SKU: one partition, log order)."""
    return [
        r
        for r in support.decoded(s, catalogue.STOCK_LEVELS)
        if (r["sku"], r["channel_id"]) == (sku, channel_id)
    ]


def test_back_in_stock_gives_out_of_stock_then_in_stock_with_the_snapshot_versions(
    proc_settings, workers, producer
):
    w = workers()
    s = proc_settings
    go = lambda *events: step(w, producer, s, *events)  # noqa: E731
    go(event("ChannelConfigured", channel_id="web", location_ids=["WH-A"], low_stock_threshold=1))
    go(event("StockReceived", reference=None, location_id="WH-A", sku="MUG", qty=3))
    go(
        event(
            "OrderPlaced",
            order_id="O-1",
            channel_id="web",
            hold_expires_at=None,
            lines=[{"sku": "MUG", "qty": 3}],
        )
    )
    go(event("StockReceived", reference=None, location_id="WH-A", sku="MUG", qty=5))
    support.wait_quiescent(s, s.app_id)

    web = _levels(s, "MUG", "web")
    assert [(r["previous_level"], r["level"], r["available"]) for r in web] == [
        (None, "IN_STOCK", 3),
        ("IN_STOCK", "OUT_OF_STOCK", 0),
        ("OUT_OF_STOCK", "IN_STOCK", 5),
    ]
    snapshots = {
        a["version"]: a for a in support.decoded(s, catalogue.AVAILABILITY) if a["sku"] == "MUG"
    }
    for r in web:  # each record goes with the published snapshot of its version
        snap = snapshots[r["version"]]
        assert {c["channel_id"]: c["available"] for c in snap["channels"]}["web"] == r["available"]
        assert snap["cause_event_id"] == r["cause_event_id"]
    assert [r["version"] for r in web] == sorted(r["version"] for r in web)
    pub = support.Published.read(s)
    support.assert_matches_model(pub, support.expected_from_log(s))


def test_a_buffer_limits_what_a_channel_reserves(proc_settings, workers, producer):
    w = workers()
    s = proc_settings
    go = lambda *events: step(w, producer, s, *events)  # noqa: E731
    go(
        event(
            "ChannelConfigured",
            channel_id="mkt",
            location_ids=["WH-A"],
            buffer_percent=50,
            max_available=None,
        )
    )
    go(
        event("StockReceived", reference=None, location_id="WH-A", sku="LAMP", qty=5)
    )  # mkt: floor(5 * 50%) = 2
    go(
        event(
            "OrderPlaced",
            order_id="O-1",
            channel_id="mkt",
            hold_expires_at=None,
            lines=[{"sku": "LAMP", "qty": 3}],
        )
    )
    go(
        event(
            "OrderPlaced",
            order_id="O-2",
            channel_id="mkt",
            hold_expires_at=None,
            lines=[{"sku": "LAMP", "qty": 2}],
        )
    )
    support.wait_quiescent(s, s.app_id)

    pub = support.Published.read(s)
    support.assert_matches_model(pub, support.expected_from_log(s))
    status = {d["order_id"]: d["status"] for d in pub.decisions.values()}
    assert status == {"O-1": "REJECTED", "O-2": "RESERVED"}
    final = {c["channel_id"]: c["available"] for c in pub.latest["LAMP"]["channels"]}
    assert final == {
        "default": 3,
        "mkt": 1,
    }  # 3 sellable; the marketplace is offered half, rounded down
