"""The demo's kit section: a gift set defined in the catalogue, and the race for the last one.

Played by the story (stocksignal.demo.story) after the look back, so the day's closing
numbers stay the day's: the race moves the last lamp, and a mug when the set wins it.

- ``stocksignal catalog set GIFT-SET --components MUG-BLUE:1,LAMP-OAK:1``, as a user would;
  the set's first snapshot (read back from inventory.availability.v1) follows its scarcer
  component, and ``stocksignal sku GIFT-SET`` says which one limits it;
- a gift set order and a direct lamp order, sent at once: each event with the records it
  caused, its ``OrderDecided`` (inventory.order-decisions.v1) among them, and why one won
  and the other lost;
- the checks: one order ACCEPTED and one REJECTED, the set never half held, every channel's
  number after the race, and the rules of every run (the ledger, never oversold, no DLQ).

The story and its numbers are stocksignal.demo.kit's (pure; replayed by the unit tests).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from stocksignal.demo import checks, kit, script
from stocksignal.demo.ledger_part import demo_http_get, run_cli
from stocksignal.demo.view import availability_line

if TYPE_CHECKING:  # pragma: no cover
    from stocksignal.demo.story import Demo

CLOCK = "19:30"
STORY = (
    "The shop starts selling a gift set: one blue mug and one oak lamp in a box, GIFT-SET. The set "
    "holds no stock of its own: on every channel it offers as many as its scarcer component allows. "
    "Then, in the same moment, one customer orders the gift set and another the oak lamp alone, "
    "and there is one lamp left. The set is all-or-nothing: it gets both components or neither."
)


def play_kit(demo: Demo, number: int, total: int) -> None:
    """Define the set, show its availability, race the last set against a lamp order, check."""
    demo.view.step(number, total, CLOCK, "The last gift set", STORY)
    if define(demo):
        race(demo)
    checks.check_outputs(demo)


def define(demo: Demo) -> bool:
    """The catalogue entry, and the set's first snapshot; False when the CLI failed."""
    view, reader, traffic = demo.view, demo.reader, demo.traffic
    result = run_cli(demo, kit.catalog_args())
    if not demo.checks.add(
        result.returncode == 0,
        f"{kit.GIFT} defined in the catalogue (inventory.catalog.v1)"
        + ("" if result.returncode == 0 else f"  — exit {result.returncode}"),
        view,
    ):
        return False
    # The set's first snapshot is published before it has heard from its components (0 on
    # every channel); wait until the processor's view of it holds the components' numbers,
    # and the snapshot of that view is read back.
    traffic.wait_until(
        f"{kit.GIFT} to follow its components' availability",
        lambda: reader.version(kit.GIFT) >= (_observed(demo) or sys.maxsize),
    )
    traffic.settle(traffic.handled(), 0, set())
    view.output("available", availability_line(reader.latest[kit.GIFT]))
    got = _channels(demo, kit.GIFT)
    limit = kit.scarcer(kit.BEFORE, script.WEBSHOP)
    demo.checks.add(
        got == kit.GIFT_AVAILABLE,
        f"{kit.GIFT} follows its scarcer component, {limit}: {checks.fmt_channels(got)}"
        + (
            ""
            if got == kit.GIFT_AVAILABLE
            else f"  — expected {checks.fmt_channels(kit.GIFT_AVAILABLE)}"
        ),
        view,
    )
    run_cli(
        demo, ["sku", kit.GIFT, "--url", demo.urls()["processor"]], f"stocksignal sku {kit.GIFT}"
    )
    return True


def race(demo: Demo) -> None:
    view, reader, traffic = demo.view, demo.reader, demo.traffic
    events = kit.race_orders()
    gift_version = reader.version(kit.GIFT)
    ids = traffic.send("kit", events)
    wanted = set(ids)
    traffic.wait_until(
        "an OrderDecided for each of the two orders",
        lambda: sum(d["cause_event_id"] in wanted for d in reader.order_decisions()) >= len(ids),
    )
    # The set's number moves (the lamp is gone either way) one commit after its components'.
    traffic.wait_until(
        f"{kit.GIFT}'s next availability snapshot", lambda: reader.version(kit.GIFT) > gift_version
    )
    traffic.settle(traffic.handled(), 0, {kit.GIFT, script.LAMP, script.MUG}, ids, len(ids) + 1)
    traffic.show_outputs(events, ids, orders=True)
    order_decisions = [d for d in reader.order_decisions() if d["cause_event_id"] in wanted]
    # By order: the release of an incomplete order is the saga's own step (its own cause id).
    decisions = [d for d in reader.decisions() if d["order_id"] in kit.ORDERS]
    for i, line in enumerate(kit.why(order_decisions, decisions)):
        view.info(("  why: " if i == 0 else "       ") + line)
    view.availability(reader.latest, caption=f"after {CLOCK}")

    problem = kit.race_problem(order_decisions, decisions)
    won = kit.winner(order_decisions)
    demo.checks.add(
        problem is None,
        f"one order got the last lamp ({won or 'none'} ACCEPTED), the other is REJECTED, and "
        f"{kit.KIT_ORDER} holds both components or none"
        + ("" if problem is None else f"  — {problem}"),
        view,
    )
    for sku, expected in kit.after(won or kit.LAMP_ORDER).items():
        got = _channels(demo, sku)
        demo.checks.add(
            got == expected,
            f"{sku}: {checks.fmt_channels(expected)}"
            + ("" if got == expected else f"  — published: {checks.fmt_channels(got)}"),
            view,
        )


def _observed(demo: Demo) -> int | None:
    """The version of the processor's view of the set (``GET /skus/GIFT-SET``) once it holds,
    on every channel, each component's number as published (it has heard from them all)."""
    status, state = demo_http_get(f"{demo.urls()['processor']}/skus/{kit.GIFT}")
    if status != 200 or not state.get("channels"):
        return None
    wanted = {c["sku"] for c in kit.COMPONENTS}
    for channel in state["channels"]:
        seen = {x["sku"]: x["available"] for x in channel["components"]}
        published = {sku: _channels(demo, sku).get(channel["channel_id"]) for sku in wanted}
        if seen != published:
            return None
    return int(state["version"])


def _channels(demo: Demo, sku: str) -> dict[str, int]:
    latest = demo.reader.latest.get(sku)
    return {c["channel_id"]: c["available"] for c in latest["channels"]} if latest else {}


def where_to_look(cli: str) -> list[str]:
    """The last screen's CLI lines for this section."""
    return [
        f"                    {cli} catalog list",
        f"                    {cli} sku {kit.GIFT}",
        f"                    {cli} tail order-decisions --from-beginning",
    ]
