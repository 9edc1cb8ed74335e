"""The demo's scripted day, replayed through the domain's in-memory reference model.

The demo checks what the processor publishes against the numbers in stocksignal.demo.script;
here the same script runs through the pure model, for many orders of the lunchtime rush (the
processor decides the rush in whatever order the orders reach the SKU's partition), so the
expected numbers are the rules' numbers, not arithmetic done by hand.
"""

from __future__ import annotations

import random

import pytest

from stocksignal.cli import counts_diff
from stocksignal.cli.counts_csv import parse_counts
from stocksignal.demo import channels_part, script
from stocksignal.domain import BUCKET_FIELDS, InMemoryInventory


def _post(shop: InMemoryInventory, sent: script.Sent) -> list:
    fields = {k: v for k, v in sent.fields.items()}
    return shop.post(sent.name, **fields)


def _positions(shop: InMemoryInventory, sku: str) -> dict:
    return {
        loc: {**{b: getattr(p, b) for b in BUCKET_FIELDS.values()}, "sellable": p.sellable}
        for loc, p in shop.state(sku).positions.items()
    }


def _play(seed: int):
    shop = InMemoryInventory()
    for e in script.channel_events():
        _post(shop, e)
    observed = script.Observed()
    per_step = []
    for step in script.steps():
        events = list(step.events(observed))
        if step.key == "rush":
            random.Random(seed).shuffle(events)  # any arrival order
        before = {sku: _positions(shop, sku) for sku in script.SKUS}
        decisions, levels = [], []
        for e in events:
            for outcome in _post(shop, e):
                decisions.extend(d.to_record() for d in outcome.decisions)
                levels.extend(channels_part.signal_of(r.to_record()) for r in outcome.levels or ())
        assert len(decisions) >= script.expected_decisions(events), step.key
        observed.decisions.extend(decisions)
        per_step.append(
            (
                step,
                decisions,
                {sku: shop.ats(sku) for sku in step.expect},
                before,
                {sku: (_positions(shop, sku), shop.ats(sku)) for sku in script.SKUS},
                levels,
            )
        )
    return shop, per_step


@pytest.mark.parametrize("seed", range(25))
def test_every_step_and_the_end_of_day_match_the_rules(seed):
    shop, per_step = _play(seed)
    for step, decisions, ats, _, _, _ in per_step:
        assert ats == step.expect, f"step {step.key}: {ats} != {step.expect}"
        for text, check in step.checks:
            assert check(decisions) is None, f"step {step.key}: {text}: {check(decisions)}"
    for sku in script.SKUS:
        assert shop.ats(sku) == script.FINAL_AVAILABILITY[sku]
    mug = shop.state(script.MUG).positions
    for loc, buckets in script.FINAL_MUG_POSITIONS.items():
        p = mug[loc]
        assert {b: getattr(p, b) for b in buckets if b != "sellable"} == {
            b: v for b, v in buckets.items() if b != "sellable"
        }
        assert p.sellable == buckets["sellable"]
    lamp = shop.state(script.LAMP).positions.values()
    assert sum(p.on_hand for p in lamp) == script.FINAL_LAMP_TOTALS["on_hand"]
    assert sum(p.reserved for p in lamp) == script.FINAL_LAMP_TOTALS["reserved"]
    assert sum(p.sellable for p in lamp) == script.FINAL_LAMP_TOTALS["sellable"]
    assert script.FINAL_MARKETPLACE == {script.LAMP: 0, script.MUG: 5}


def test_each_step_lists_every_channel_of_the_skus_it_changes():
    for step in script.steps():
        for sku, channels in step.expect.items():
            assert set(channels) == {script.DEFAULT, script.WEBSHOP, script.MARKETPLACE}, step.key


def test_the_rush_check_refuses_an_oversell_and_a_missing_decision():
    reserved = {
        "status": "RESERVED",
        "allocations": [{"location_id": "WH-BER", "qty": 1}],
        "reason": None,
    }
    rejected = {"status": "REJECTED", "allocations": [], "reason": "INSUFFICIENT_STOCK"}
    check = next(s for s in script.steps() if s.key == "rush").checks[0][1]
    assert check([reserved] * 5 + [rejected] * 5) is None
    assert "exactly 5" in check([reserved] * 6 + [rejected] * 4)
    assert "decisions" in check([reserved] * 5 + [rejected] * 4)


def test_the_cancellation_picks_the_first_web_winner_from_what_was_published():
    observed = script.Observed(
        decisions=[
            {
                "order_id": "W-1004",
                "sku": script.LAMP,
                "channel_id": script.WEBSHOP,
                "status": "RESERVED",
            },
            {
                "order_id": "W-1002",
                "sku": script.LAMP,
                "channel_id": script.WEBSHOP,
                "status": "RESERVED",
            },
            {
                "order_id": "W-1001",
                "sku": script.LAMP,
                "channel_id": script.WEBSHOP,
                "status": "REJECTED",
            },
            {
                "order_id": "M-5001",
                "sku": script.LAMP,
                "channel_id": script.MARKETPLACE,
                "status": "RESERVED",
            },
        ]
    )
    step = next(s for s in script.steps() if s.key == "cancel")
    (cancel,) = step.events(observed)
    assert cancel.name == "OrderCancelled" and cancel.fields["order_id"] == "W-1002"
    with pytest.raises(RuntimeError):
        step.events(script.Observed())


def test_expected_commands_counts_broadcasts_and_order_wide_cancellations():
    assert script.expected_commands(script.channel_events(), 6) == 12
    cancel = script.Sent("OrderCancelled", {"order_id": "W-1", "lines": None})
    order = script.Sent(
        "OrderPlaced",
        {
            "order_id": "W-1",
            "channel_id": "x",
            "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}],
        },
    )
    assert script.expected_commands([cancel, order], 6) == 3


def test_every_event_describes_itself():
    observed = script.Observed(
        decisions=[
            {
                "order_id": "W-1001",
                "sku": script.LAMP,
                "channel_id": script.WEBSHOP,
                "status": "RESERVED",
            }
        ]
    )
    for step in script.steps():
        for e in step.events(observed):
            assert not e.describe().endswith("}"), e.describe()


def test_the_look_back_is_the_state_right_after_its_step():
    _, per_step = _play(0)
    lb = script.LOOK_BACK
    (after,) = [views for step, _, _, _, views, _ in per_step if step.clock == lb.clock]
    positions, ats = after[lb.sku]
    assert positions == lb.positions and ats == lb.channels


def test_the_stock_take_diff_and_accuracy_are_the_rules_numbers():
    _, per_step = _play(0)
    ((step, _, _, before, _, _),) = [x for x in per_step if x[0].stocktake is not None]
    counts = parse_counts(step.stocktake.encode())
    assert counts.bad == [] and len(counts.rows) == len(list(step.events(script.Observed())))
    changes = counts_diff.compare(counts.rows, before)
    assert counts_diff.summary_line(counts_diff.totals(changes)) == script.STOCKTAKE_DIFF
    corrected = sum(1 for c in changes if c.delta)
    assert {"agreed": len(changes) - corrected, "corrected": corrected} == script.FINAL_ACCURACY
    assert [e.fields for e in step.events(script.Observed())] == [
        {"location_id": r.location_id, "sku": r.sku, "counted_qty": r.counted_qty}
        for r in counts.rows
    ]


def test_the_look_back_window_nets_to_its_steps_change():
    _, per_step = _play(0)
    lb = script.LOOK_BACK
    (i,) = [i for i, x in enumerate(per_step) if x[0].clock == lb.clock]
    before, after = per_step[i - 1][4][lb.sku][0], per_step[i][4][lb.sku][0]
    net = {}
    for loc in sorted(set(before) | set(after)):
        moved = {
            b: after.get(loc, {}).get(b, 0) - before.get(loc, {}).get(b, 0)
            for b in after.get(loc, before.get(loc))
            if b != "sellable"
        }
        if any(moved.values()):
            net[loc] = {b: d for b, d in moved.items() if d}
    assert net == script.LOOK_BACK_NET


@pytest.mark.parametrize("seed", range(10))
def test_the_stock_level_signals_are_the_rules_signals(seed):
    """Each step with ``levels`` causes exactly those StockLevelChanged records in the model
    (one snapshot per event there, as in the processor for these steps)."""
    _, per_step = _play(seed)
    checked = 0
    for step, _, _, _, _, levels in per_step:
        if step.levels is None:
            continue
        checked += 1
        key = lambda s: (s.sku, s.channel_id)  # noqa: E731
        assert sorted(levels, key=key) == sorted(step.levels, key=key), step.key
    assert checked >= 3
    (cancel,) = [x for x in per_step if x[0].key == "cancel"]
    assert (
        script.LevelSignal(script.LAMP, script.WEBSHOP, "OUT_OF_STOCK", "IN_STOCK", 1) in cancel[5]
    )


def test_the_marketplace_buffer_and_cap_are_the_contract_formula():
    _, per_step = _play(0)
    (i,) = [i for i, x in enumerate(per_step) if x[0].key == "buffer"]
    before, after = per_step[i - 1][4][script.MUG][1], per_step[i][4][script.MUG][1]
    rules = channels_part.MARKETPLACE_RULES
    raw = before[script.WEBSHOP] - script.CHANNELS[script.MARKETPLACE]["safety_stock"]
    buffered = max(0, raw) * (100 - rules["buffer_percent"]) // 100
    assert buffered > rules["max_available"]  # the story: the cap is what bites
    assert after[script.MARKETPLACE] == min(buffered, rules["max_available"]) == 5
    assert after[script.WEBSHOP] == before[script.WEBSHOP]
    assert per_step[i][4][script.LAMP] == per_step[i - 1][4][script.LAMP]


def test_the_level_check_line_and_signal_of_a_record():
    record = {
        "sku": script.LAMP,
        "channel_id": script.WEBSHOP,
        "level": "IN_STOCK",
        "previous_level": "OUT_OF_STOCK",
        "available": 1,
        "version": 7,
        "cause_event_id": "e",
        "occurred_at": 0,
    }
    assert channels_part.signal_of(record) == channels_part.BACK_IN_STOCK[1]
    assert (
        channels_part.level_line(record)
        == "LAMP-OAK webshop OUT_OF_STOCK -> IN_STOCK  1 available, v7"
    )
    assert "(first seen)" in channels_part.level_line({**record, "previous_level": None})


def test_the_channels_set_command_names_every_rule_set():
    (web, market) = script.channel_events()
    assert (
        channels_part.channels_set_command(web.fields)
        == "stocksignal channels set webshop --locations WH-BER,WH-HAM"
    )
    assert channels_part.channels_set_command(market.fields) == (
        "stocksignal channels set marketplace --locations WH-HAM,WH-BER --safety-stock 2"
    )
    (buffer,) = next(s for s in script.steps() if s.key == "buffer").events(script.Observed())
    assert channels_part.channels_set_command(buffer.fields) == (
        "stocksignal channels set marketplace --locations WH-HAM,WH-BER --safety-stock 2 --buffer-percent 25 "
        "--max-available 5 --low-stock-threshold 3"
    )
