"""The demo's scripted day, replayed through the domain's in-memory reference model.

The demo checks what the processor publishes against the numbers in stocksignal.demo.script;
here the same script runs through the pure model, for many orders of the lunchtime rush (the
processor decides the rush in whatever order the orders reach the SKU's partition), so the
expected numbers are the rules' numbers, not arithmetic done by hand.
"""

from __future__ import annotations

import random

import pytest

from stocksignal.demo import script
from stocksignal.domain import InMemoryInventory


def _post(shop: InMemoryInventory, sent: script.Sent) -> list:
    fields = {k: v for k, v in sent.fields.items()}
    return shop.post(sent.name, **fields)


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
        decisions = []
        for e in events:
            for outcome in _post(shop, e):
                decisions.extend(d.to_record() for d in outcome.decisions)
        assert len(decisions) >= script.expected_decisions(events), step.key
        observed.decisions.extend(decisions)
        per_step.append((step, decisions, {sku: shop.ats(sku) for sku in step.expect}))
    return shop, per_step


@pytest.mark.parametrize("seed", range(25))
def test_every_step_and_the_end_of_day_match_the_rules(seed):
    shop, per_step = _play(seed)
    for step, decisions, ats in per_step:
        assert ats == step.expect, f"step {step.key}: {ats} != {step.expect}"
        for text, check in step.checks:
            assert check(decisions) is None, f"step {step.key}: {text}: {check(decisions)}"
    for sku in script.SKUS:
        assert shop.ats(sku) == script.FINAL_AVAILABILITY[sku]
    mug = shop.state(script.MUG).positions
    for loc, buckets in script.FINAL_MUG_POSITIONS.items():
        p = mug[loc]
        assert {b: getattr(p, b) for b in buckets if b != "sellable"} == {b: v for b, v in buckets.items() if b != "sellable"}
        assert p.sellable == buckets["sellable"]
    lamp = shop.state(script.LAMP).positions.values()
    assert sum(p.on_hand for p in lamp) == script.FINAL_LAMP_TOTALS["on_hand"]
    assert sum(p.reserved for p in lamp) == script.FINAL_LAMP_TOTALS["reserved"]
    assert sum(p.sellable for p in lamp) == script.FINAL_LAMP_TOTALS["sellable"]
    assert script.FINAL_MARKETPLACE == {script.LAMP: 0, script.MUG: 8}


def test_each_step_lists_every_channel_of_the_skus_it_changes():
    for step in script.steps():
        for sku, channels in step.expect.items():
            assert set(channels) == {script.DEFAULT, script.WEBSHOP, script.MARKETPLACE}, step.key


def test_the_rush_check_refuses_an_oversell_and_a_missing_decision():
    reserved = {"status": "RESERVED", "allocations": [{"location_id": "WH-BER", "qty": 1}], "reason": None}
    rejected = {"status": "REJECTED", "allocations": [], "reason": "INSUFFICIENT_STOCK"}
    check = next(s for s in script.steps() if s.key == "rush").checks[0][1]
    assert check([reserved] * 5 + [rejected] * 5) is None
    assert "exactly 5" in check([reserved] * 6 + [rejected] * 4)
    assert "decisions" in check([reserved] * 5 + [rejected] * 4)


def test_the_cancellation_picks_the_first_web_winner_from_what_was_published():
    observed = script.Observed(decisions=[
        {"order_id": "W-1004", "sku": script.LAMP, "channel_id": script.WEBSHOP, "status": "RESERVED"},
        {"order_id": "W-1002", "sku": script.LAMP, "channel_id": script.WEBSHOP, "status": "RESERVED"},
        {"order_id": "W-1001", "sku": script.LAMP, "channel_id": script.WEBSHOP, "status": "REJECTED"},
        {"order_id": "M-5001", "sku": script.LAMP, "channel_id": script.MARKETPLACE, "status": "RESERVED"},
    ])
    step = next(s for s in script.steps() if s.key == "cancel")
    (cancel,) = step.events(observed)
    assert cancel.name == "OrderCancelled" and cancel.fields["order_id"] == "W-1002"
    with pytest.raises(RuntimeError):
        step.events(script.Observed())


def test_expected_commands_counts_broadcasts_and_order_wide_cancellations():
    assert script.expected_commands(script.channel_events(), 6) == 12
    cancel = script.Sent("OrderCancelled", {"order_id": "W-1", "lines": None})
    order = script.Sent("OrderPlaced", {"order_id": "W-1", "channel_id": "x",
                                        "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}]})
    assert script.expected_commands([cancel, order], 6) == 3


def test_every_event_describes_itself():
    observed = script.Observed(decisions=[
        {"order_id": "W-1001", "sku": script.LAMP, "channel_id": script.WEBSHOP, "status": "RESERVED"}])
    for step in script.steps():
        for e in step.events(observed):
            assert not e.describe().endswith("}"), e.describe()
