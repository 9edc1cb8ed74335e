"""Stock as of a time, from a real worker's ledger, against an independent replay.

The same events go to a processor worker and to the domain's in-memory reference model, one at
a time, in phases. Between phases the test notes the time (nothing is in flight then). For
each noted time, ``GET /skus/{sku}?at=`` must show the model's buckets and per-channel
availability after the phases before it — including a channel reconfigured and one removed
inside the window — and ``/movements?since=&until=`` the model's movements in between.
"""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from click.testing import CliRunner

from stocksignal.cli.main import main
from stocksignal.domain import BUCKET_FIELDS, InMemoryInventory
from tests.e2e.steps import event, step

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SKUS = ("MUG", "LAMP")

PHASES = [
    [
        event("ChannelConfigured", channel_id="web", location_ids=["BER", "HAM"], safety_stock=0),
        event("ChannelConfigured", channel_id="mkt", location_ids=["HAM"], safety_stock=1),
        event("StockReceived", sku="MUG", location_id="BER", qty=10, reference=None),
        event("StockReceived", sku="MUG", location_id="HAM", qty=4, reference=None),
        event(
            "InboundExpected",
            sku="MUG",
            location_id="HAM",
            qty=6,
            reference="PO-1",
            expected_at=None,
        ),
        event("StockReceived", sku="LAMP", location_id="HAM", qty=3, reference=None),
    ],
    [
        event(
            "OrderPlaced",
            order_id="W-1",
            channel_id="web",
            lines=[{"sku": "MUG", "qty": 3}],
            hold_expires_at=None,
        ),
        event(
            "OrderPlaced",
            order_id="M-1",
            channel_id="mkt",
            lines=[{"sku": "MUG", "qty": 2}, {"sku": "LAMP", "qty": 1}],
            hold_expires_at=None,
        ),
        event(
            "PickConfirmed",
            order_id="W-1",
            location_id="BER",
            lines=[{"sku": "MUG", "qty_picked": 2, "qty_short": 1}],
        ),
    ],
    [
        event("ChannelConfigured", channel_id="web", location_ids=["HAM"], safety_stock=2),
        event("ChannelRemoved", channel_id="mkt"),
        event("StockReceived", sku="MUG", location_id="HAM", qty=6, reference="PO-1"),
        event("StockCounted", sku="MUG", location_id="BER", counted_qty=5),
    ],
    [
        event(
            "ShipmentConfirmed",
            shipment_id="S-1",
            order_id="W-1",
            location_id="BER",
            lines=[{"sku": "MUG", "qty": 2}],
        ),
        event(
            "StockStatusChanged",
            sku="MUG",
            location_id="HAM",
            qty=1,
            from_status="SELLABLE",
            to_status="DAMAGED",
        ),
        event(
            "OrderCancelled", order_id="M-1", lines=[{"sku": "LAMP", "qty": 1}], reason="customer"
        ),
    ],
]


def _model_view(shop: InMemoryInventory, sku: str) -> tuple[dict, dict]:
    state = shop.state(sku)
    positions = {
        loc: {**{b: getattr(p, b) for b in BUCKET_FIELDS.values()}, "sellable": p.sellable}
        for loc, p in sorted(state.positions.items())
    }
    return positions, shop.ats(sku)


def _get(worker, path: str) -> dict:
    status, body = worker.get(path, timeout=60)
    assert status == 200, (path, status, body[:500])
    return json.loads(body)


def _mark() -> int:
    """A time with nothing in flight: what came before is published, what follows is later."""
    time.sleep(0.05)
    at = int(time.time() * 1000)
    time.sleep(0.05)
    return at


@pytest.mark.timeout(300)
def test_stock_as_of_each_time_is_the_replay_up_to_it(workers, producer, proc_settings):
    worker = workers("w1")
    shop = InMemoryInventory()
    marks = [_mark()]
    expected = [{sku: _model_view(shop, sku) for sku in SKUS}]
    model_movements = []
    for phase in PHASES:
        moved = []
        for e in phase:
            step(worker, producer, proc_settings, e)
            for outcome in shop.post(e.name, **e.record):
                moved.extend(m for m in outcome.movements)
        model_movements.append(moved)
        marks.append(_mark())
        expected.append({sku: _model_view(shop, sku) for sku in SKUS})

    for at, views in zip(marks, expected):
        for sku in SKUS:
            answer = _get(worker, f"/skus/{sku}?at={at}")
            positions, ats = views[sku]
            assert answer["positions"] == positions, (sku, at)
            assert {c: ch["available"] for c, ch in answer["channels"].items()} == ats, (sku, at)
            assert answer["ledger"]["complete"] is True

    # The channel change inside the window: web sold from BER and HAM, then from HAM with 2 held back.
    before, after = (
        _get(worker, f"/skus/MUG?at={marks[2]}"),
        _get(worker, f"/skus/MUG?at={marks[3]}"),
    )
    assert before["channels"]["web"]["locations"] == ["BER", "HAM"] and "mkt" in before["channels"]
    assert after["channels"]["web"] == {
        **after["channels"]["web"],
        "locations": ["HAM"],
        "safety_stock": 2,
    }
    assert "mkt" not in after["channels"]

    # The movements between two times: the model's, in order, with their causes.
    window = _get(worker, f"/skus/MUG/movements?since={marks[1]}&until={marks[3]}")
    wanted = [m for phase in model_movements[1:3] for m in phase if m.sku == "MUG"]
    fields = (
        "location_id",
        "bucket",
        "delta",
        "balance_after",
        "reason",
        "cause_event_id",
        "cause_event_type",
    )
    assert [tuple(m[f] for f in fields) for m in window["movements"]] == [
        tuple(getattr(m, f) for f in fields) for m in wanted
    ]
    start, end = expected[1]["MUG"][0], expected[3]["MUG"][0]
    for loc, buckets in end.items():
        for bucket in BUCKET_FIELDS.values():
            net = window["net_change"].get(loc, {}).get(bucket, 0)
            assert start.get(loc, {}).get(bucket, 0) + net == buckets[bucket], (loc, bucket)

    # The command line shows the same answers.
    env = {
        **proc_settings.to_env(),
        "STOCKSIGNAL_WEB_PORT": str(worker.settings.web_port),
        "COLUMNS": "200",
    }
    at = CliRunner().invoke(
        main, ["sku", "MUG", "--at", str(marks[2]), "--json"], env=env, catch_exceptions=False
    )
    assert at.exit_code == 0, at.output
    assert json.loads(at.output)["positions"] == expected[2]["MUG"][0]
    text = (
        CliRunner()
        .invoke(main, ["sku", "MUG", "--at", str(marks[2])], env=env, catch_exceptions=False)
        .output
    )
    assert "as of" in text and "max(0, BER" in text and "W-1" in text
    since = CliRunner().invoke(
        main,
        ["sku", "MUG", "--since", str(marks[1]), "--until", str(marks[3])],
        env=env,
        catch_exceptions=False,
    )
    assert (
        since.exit_code == 0
        and "SHORT_PICK" in since.output
        and "Net change per bucket" in since.output
    )
    quoted = urllib.parse.quote("MUG")
    assert _get(worker, f"/skus/{quoted}/movements?since={marks[0]}")["total"] == sum(
        1 for phase in model_movements for m in phase if m.sku == "MUG"
    )
