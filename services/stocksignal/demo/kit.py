"""The demo's kit story: a gift set of a mug and a lamp, and the race for the last one.

Pure data and small functions (no I/O), like stocksignal.demo.script: the runner part
(stocksignal.demo.kit_part) defines the bundle with ``stocksignal catalog set``, sends
:func:`race_orders` and checks what the processor published against the functions here;
tests/unit/cli/test_demo_kit.py plays the same story through the domain's reference model in
both arrival orders, so the expected numbers are the rules' (contract section 11,
docs/semantics.md#bundles-and-shared-stock).

After the day one oak lamp is left (on the web shop and the default channel; the marketplace
keeps it back as safety stock), and ten blue mugs. The gift set follows its scarcer component:
1 · 0 · 1. Then a gift set order and a direct order for the lamp arrive at the same moment.
Whichever reaches the lamp first gets it; the other is rejected. A gift set that loses the
lamp is all-or-nothing: its mug, reserved first, is released again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stocksignal.demo.script import DEFAULT, LAMP, MARKETPLACE, MUG, WEBSHOP, Availability, Sent

GIFT = "GIFT-SET"
COMPONENTS: tuple[dict[str, Any], ...] = ({"sku": MUG, "qty": 1}, {"sku": LAMP, "qty": 1})
KIT_ORDER, LAMP_ORDER = "K-7001", "W-7002"
ORDERS = (KIT_ORDER, LAMP_ORDER)
INCOMPLETE = "ORDER_INCOMPLETE"

#: The components' availability when the set is defined (the end of the day: FINAL_AVAILABILITY).
BEFORE: Availability = {
    LAMP: {DEFAULT: 1, MARKETPLACE: 0, WEBSHOP: 1},
    MUG: {DEFAULT: 10, MARKETPLACE: 5, WEBSHOP: 10},
}
#: The gift set's first snapshot: per channel, min(mugs // 1, lamps // 1): the lamp's number.
GIFT_AVAILABLE = {DEFAULT: 1, MARKETPLACE: 0, WEBSHOP: 1}


def catalog_args() -> list[str]:
    """``stocksignal catalog set`` arguments that define the gift set."""
    parts = ",".join(f"{c['sku']}:{c['qty']}" for c in COMPONENTS)
    return ["catalog", "set", GIFT, "--components", parts]


def scarcer(before: Availability, channel_id: str) -> str:
    """The component that limits the set on a channel (the first one listed on a tie)."""
    return min(COMPONENTS, key=lambda c: before[c["sku"]][channel_id] // c["qty"])["sku"]


def race_orders() -> list[Sent]:
    """The gift set order and the direct lamp order, sent at once. The lamp order asks for
    ``ALL_OR_NOTHING`` (for one line it decides the same as PER_LINE): the processor publishes
    an OrderDecided for an order decided as a whole only (docs/processor.md, "Known gaps"),
    and both orders then take the same path, through their own partitions, to the lamp's."""
    return [
        Sent(
            "OrderPlaced",
            {"order_id": KIT_ORDER, "channel_id": WEBSHOP, "lines": [{"sku": GIFT, "qty": 1}]},
        ),
        Sent(
            "OrderPlaced",
            {
                "order_id": LAMP_ORDER,
                "channel_id": WEBSHOP,
                "lines": [{"sku": LAMP, "qty": 1}],
                "fulfilment": "ALL_OR_NOTHING",
            },
        ),
    ]


def winner(order_decisions: Sequence[Mapping[str, Any]]) -> str | None:
    """The race's winner: the one of the two orders whose OrderDecided is ACCEPTED, if exactly one."""
    accepted = [
        d["order_id"]
        for d in order_decisions
        if d["order_id"] in ORDERS and d["status"] == "ACCEPTED"
    ]
    return accepted[0] if len(accepted) == 1 else None


def after(won: str) -> Availability:
    """Availability after the race: the lamp is gone everywhere; a set that won also took a mug
    (the marketplace stays at its cap of 5: ⌊(9 − 2) × 75 / 100⌋ = 5)."""
    mugs = BEFORE[MUG][WEBSHOP] - (1 if won == KIT_ORDER else 0)
    return {
        LAMP: {DEFAULT: 0, MARKETPLACE: 0, WEBSHOP: 0},
        MUG: {DEFAULT: mugs, MARKETPLACE: 5, WEBSHOP: mugs},
        GIFT: {DEFAULT: 0, MARKETPLACE: 0, WEBSHOP: 0},
    }


def race_problem(
    order_decisions: Sequence[Mapping[str, Any]], decisions: Sequence[Mapping[str, Any]]
) -> str | None:
    """Whether the two OrderDecided records and the line decisions tell one consistent story:
    exactly one order ACCEPTED, the other REJECTED, the set ALL_OR_NOTHING and never half held."""
    by_order = {d["order_id"]: d for d in order_decisions if d["order_id"] in ORDERS}
    if set(by_order) != set(ORDERS):
        return f"expected an OrderDecided for each of {', '.join(ORDERS)}, saw {sorted(by_order)}"
    statuses = sorted(d["status"] for d in by_order.values())
    if statuses != ["ACCEPTED", "REJECTED"]:
        return f"expected one ACCEPTED and one REJECTED, saw {statuses}"
    kit = by_order[KIT_ORDER]
    if kit["fulfilment"] != "ALL_OR_NOTHING":
        return f"the gift set order was decided {kit['fulfilment']}, not ALL_OR_NOTHING"
    gift = {x["sku"]: x["qty_reserved"] for x in kit["lines"]}.get(GIFT)
    expected_gift = 1 if kit["status"] == "ACCEPTED" else 0
    if gift != expected_gift:
        return f"the OrderDecided reports {gift} gift set(s) reserved, expected {expected_gift}"
    held = holding(decisions, KIT_ORDER)
    wanted = {c["sku"]: c["qty"] * expected_gift for c in COMPONENTS}
    if held != wanted:
        return f"the gift set order holds {held}, expected {wanted}"
    if kit["status"] == "REJECTED" and not released(decisions, KIT_ORDER):
        return "the rejected gift set order released nothing, although its mug was reserved"
    return None


def holding(decisions: Sequence[Mapping[str, Any]], order_id: str) -> dict[str, int]:
    """What an order holds per component at the end: the newest decision of each of its lines."""
    newest: dict[str, Mapping[str, Any]] = {}
    for d in sorted(
        (d for d in decisions if d["order_id"] == order_id), key=lambda d: d["decided_at"]
    ):
        newest[d["sku"]] = d
    return {
        c["sku"]: newest[c["sku"]]["qty_reserved"] if c["sku"] in newest else 0 for c in COMPONENTS
    }


def released(decisions: Sequence[Mapping[str, Any]], order_id: str) -> list[Mapping[str, Any]]:
    """The order's lines released because the order was incomplete (all-or-nothing)."""
    return [
        d
        for d in decisions
        if d["order_id"] == order_id and d["status"] == "RELEASED" and d.get("reason") == INCOMPLETE
    ]


def why(
    order_decisions: Sequence[Mapping[str, Any]], decisions: Sequence[Mapping[str, Any]]
) -> list[str]:
    """The race explained for a human, from the records read back."""
    won = winner(order_decisions)
    if won is None:
        return ["no single winner: see the checks below"]
    if won == LAMP_ORDER:
        gone = ", ".join(f"{d['sku']} {d['qty_requested']}" for d in released(decisions, KIT_ORDER))
        return [
            f"{LAMP_ORDER} reached the last {LAMP} first: ACCEPTED.",
            f"{KIT_ORDER}'s {LAMP} line was then REJECTED (INSUFFICIENT_STOCK). The set is "
            f"all-or-nothing, so the {MUG} it had already reserved was released again "
            f"({INCOMPLETE}: {gone or 'nothing'}) and {KIT_ORDER} is REJECTED, holding nothing.",
        ]
    return [
        f"{KIT_ORDER} reserved the {MUG} and the last {LAMP}: every line in full, ACCEPTED "
        "(1 whole gift set).",
        f"{LAMP_ORDER} came after it: its {LAMP} line is REJECTED (INSUFFICIENT_STOCK), "
        "the order REJECTED.",
    ]
