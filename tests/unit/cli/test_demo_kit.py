"""The demo's kit story (stocksignal.demo.kit) through the domain's in-memory reference model.

After the scripted day the gift set is defined and its race played in both arrival orders
(the processor decides them in whichever order they reach the lamp's partition): the numbers
and the checks the demo holds the published records to are the rules' own, and the checks
refuse the stories the rules forbid."""

from __future__ import annotations

import pytest

from stocksignal.demo import kit, script
from tests.unit.cli.test_demo_script import _play, _post


def _race(kit_first: bool):
    shop, _ = _play(0)
    defined = _post(
        shop,
        script.Sent("BundleDefined", {"bundle_sku": kit.GIFT, "components": list(kit.COMPONENTS)}),
    )
    gift = [o.availability.to_record() for o in defined if o.availability is not None]
    orders = kit.race_orders() if kit_first else list(reversed(kit.race_orders()))
    decisions = []
    for e in orders:
        for outcome in _post(shop, e):
            decisions.extend(d.to_record() for d in outcome.decisions)
    ordered = [d.to_record() for d in shop.order_decisions if d.order_id in kit.ORDERS]
    return shop, gift, decisions, ordered


def test_the_set_starts_where_the_day_ends_and_follows_the_lamp():
    shop, _ = _play(0)
    _, gift, _, _ = _race(True)
    assert (
        {sku: shop.ats(sku) for sku in kit.BEFORE}
        == kit.BEFORE
        == {sku: script.FINAL_AVAILABILITY[sku] for sku in kit.BEFORE}
    )
    newest = max(gift, key=lambda a: a["version"])
    assert {c["channel_id"]: c["available"] for c in newest["channels"]} == kit.GIFT_AVAILABLE
    assert all(kit.scarcer(kit.BEFORE, ch) == script.LAMP for ch in kit.GIFT_AVAILABLE)


@pytest.mark.parametrize("kit_first", [True, False])
def test_either_arrival_order_is_a_story_the_checks_accept(kit_first):
    shop, _, decisions, ordered = _race(kit_first)
    won = kit.winner(ordered)
    assert won == (kit.KIT_ORDER if kit_first else kit.LAMP_ORDER)
    assert kit.race_problem(ordered, decisions) is None
    for sku, expected in kit.after(won).items():
        if sku != kit.GIFT:
            assert shop.ats(sku) == expected, sku
    assert shop.bundle_view(kit.GIFT).published == kit.after(won)[kit.GIFT]
    why = " ".join(kit.why(ordered, decisions))
    assert f"{won} " in why and ("released" in why) == (won == kit.LAMP_ORDER)
    if won == kit.LAMP_ORDER:
        assert [d["sku"] for d in kit.released(decisions, kit.KIT_ORDER)] == [script.MUG]
        assert "MUG-BLUE 1" in why


def test_the_race_check_refuses_a_half_held_set_and_two_winners():
    _, _, decisions, ordered = _race(False)
    kit_rejected = next(d for d in ordered if d["order_id"] == kit.KIT_ORDER)
    # A rejected set whose mug was never released: half held.
    unreleased = [d for d in decisions if d["status"] != "RELEASED"]
    assert "holds" in kit.race_problem(ordered, unreleased)
    both = [{**d, "status": "ACCEPTED"} for d in ordered]
    assert "one ACCEPTED and one REJECTED" in kit.race_problem(both, decisions)
    assert kit.winner(both) is None
    missing = [d for d in ordered if d is not kit_rejected]
    assert "an OrderDecided for each" in kit.race_problem(missing, decisions)
    per_line = [{**d, "fulfilment": "PER_LINE"} for d in ordered]
    assert "not ALL_OR_NOTHING" in kit.race_problem(per_line, decisions)


def test_the_catalogue_command_and_the_race_events_describe_themselves():
    assert kit.catalog_args() == [
        "catalog",
        "set",
        "GIFT-SET",
        "--components",
        "MUG-BLUE:1,LAMP-OAK:1",
    ]
    described = [e.describe() for e in kit.race_orders()]
    assert described == [
        "OrderPlaced K-7001 on webshop: 1 × GIFT-SET",
        "OrderPlaced W-7002 on webshop: 1 × LAMP-OAK (ALL_OR_NOTHING)",
    ]


def test_a_saga_step_is_shown_under_its_placement_and_an_order_line_reads_whole():
    from stocksignal.demo.outputs import placement_of
    from stocksignal.demo.view import order_line

    assert placement_of("demo-1-kit-1/incomplete") == "demo-1-kit-1"
    assert placement_of("demo-1-kit-1") == "demo-1-kit-1" and placement_of(None) is None
    _, _, _, ordered = _race(False)
    rejected = next(d for d in ordered if d["order_id"] == kit.KIT_ORDER)
    assert order_line(rejected) == (
        "K-7001 REJECTED ALL_OR_NOTHING on webshop: MUG-BLUE 0/1, LAMP-OAK 0/1, GIFT-SET 0/1  "
        "ORDER_INCOMPLETE: INSUFFICIENT_STOCK for LAMP-OAK"
    )
