"""The demo's channel-rules section: a marketplace buffer and cap, and the stock-level signals.

Self-contained parts the script and the runner use (stocksignal.demo.script, .runner):

- :func:`steps`: the evening's channel steps. At 18:00 the marketplace is reconfigured with a
  buffer, a cap and a low-stock threshold (contract v1.1, docs/semantics.md#channel-rules);
  at 18:10 a marketplace order for more than the cap offers is rejected, although Hamburg
  alone could sell it.
- :data:`BACK_IN_STOCK`: the "back in stock" signals of the 12:20 cancellation (the lamp
  comes back on the web shop), which the runner checks on ``inventory.stock-levels.v1``.
- :func:`check_levels`: a step's StockLevelChanged records (read back from the topic) against
  its ``levels``, each with the version of the availability snapshot it was published with.

The numbers are the reference model's (tests/unit/cli/test_demo_script.py replays the day).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from stocksignal.demo import script
from stocksignal.demo.script import (
    DEFAULT,
    LAMP,
    MARKETPLACE,
    MUG,
    WEBSHOP,
    LevelSignal,
    Sent,
    Step,
)

if TYPE_CHECKING:  # pragma: no cover
    from stocksignal.demo.runner import Demo

IN, LOW, OUT = "IN_STOCK", "LOW_STOCK", "OUT_OF_STOCK"

#: The marketplace's evening rules: 25 % held back, at most 5 offered, "running low" at 3 or fewer.
MARKETPLACE_RULES = {"buffer_percent": 25, "max_available": 5, "low_stock_threshold": 3}

#: 12:20: the cancelled lamp is back on the web shop (and the default channel); the marketplace
#: keeps 0 (the lamp is inside its safety stock) and stays OUT_OF_STOCK: no record for it.
BACK_IN_STOCK = (
    LevelSignal(LAMP, DEFAULT, OUT, IN, 1),
    LevelSignal(LAMP, WEBSHOP, OUT, IN, 1),
)


def _rejected_beyond_cap(decisions: list[Mapping[str, Any]]) -> str | None:
    if len(decisions) != 1:
        return f"expected one decision, saw {len(decisions)}"
    d = decisions[0]
    if d["status"] != "REJECTED" or d["reason"] != "INSUFFICIENT_STOCK" or d["qty_reserved"] != 0:
        return f"expected REJECTED INSUFFICIENT_STOCK, saw {d['status']} {d['reason']} {d['qty_reserved']}"
    return None


def steps() -> list[Step]:
    rules = MARKETPLACE_RULES
    buffer, cap, low = rules["buffer_percent"], rules["max_available"], rules["low_stock_threshold"]
    return [
        Step(
            "buffer",
            "18:00",
            "The marketplace gets a buffer and a cap",
            f"The marketplace oversold last week, so it is offered less: {buffer} % of what it could "
            f"sell is held back, it is never offered more than {cap} of a SKU, and it counts as "
            f"running low at {low} or fewer. For the mugs: raw = 10 sellable − 2 safety stock = 8, "
            f"⌊8 × {100 - buffer} / 100⌋ = 6, capped at {cap}: the marketplace now shows {cap}. "
            f"The web shop keeps 10. {cap} is above the threshold of {low}: the marketplace's mug "
            "level stays IN_STOCK, so no stock-level signal. The lamps stay at 0 there (1 sellable "
            "is inside the safety stock): nothing to publish.",
            lambda _o: (script.channel_config(MARKETPLACE, **rules),),
            {MUG: {DEFAULT: 10, WEBSHOP: 10, MARKETPLACE: cap}},
            levels=(),
        ),
        Step(
            "capped",
            "18:10",
            "A marketplace order beyond the cap",
            f"Marketplace order M-6001 wants 6 blue mugs. Hamburg alone has 8 to sell, but the "
            f"marketplace is offered only {cap}: orders are decided against the channel's number, "
            "so the order is rejected and nothing moves.",
            lambda _o: (
                Sent(
                    "OrderPlaced",
                    {
                        "order_id": "M-6001",
                        "channel_id": MARKETPLACE,
                        "lines": [{"sku": MUG, "qty": 6}],
                    },
                ),
            ),
            {MUG: {DEFAULT: 10, WEBSHOP: 10, MARKETPLACE: cap}},
            ((f"M-6001 (6 mugs) is REJECTED: the marketplace offers {cap}", _rejected_beyond_cap),),
            levels=(),
        ),
    ]


def channels_set_command(fields: Mapping[str, Any]) -> str:
    """The ``stocksignal channels set`` command that sends this ChannelConfigured."""
    options = [f"--locations {','.join(fields['location_ids'])}"]
    for key in ("safety_stock", "buffer_percent", "max_available", "low_stock_threshold"):
        if fields.get(key) or (
            key == "max_available" and fields.get(key) is not None
        ):  # a cap of 0 is a cap
            options.append(f"--{key.replace('_', '-')} {fields[key]}")
    return f"stocksignal channels set {fields['channel_id']} {' '.join(options)}"


def signal_of(record: Mapping[str, Any]) -> LevelSignal:
    return LevelSignal(
        record["sku"],
        record["channel_id"],
        record.get("previous_level"),
        record["level"],
        record["available"],
    )


def level_line(record: Mapping[str, Any]) -> str:
    """A StockLevelChanged as the demo shows it."""
    return (
        f"{record['sku']} {record['channel_id']} {record.get('previous_level') or '(first seen)'} -> "
        f"{record['level']}  {record['available']} available, v{record['version']}"
    )


def check_levels(demo: Demo, step: Step, ids: Sequence[str]) -> None:
    """The step's StockLevelChanged records: exactly ``step.levels``, each with the version and
    the number of an availability snapshot the same event caused."""
    if step.levels is None:
        return
    wanted = set(ids)
    records = [
        o.record
        for o in demo.reader.records["levels"]
        if o.record is not None and o.cause in wanted
    ]
    snapshots = {
        (a["sku"], a["version"]): {c["channel_id"]: c["available"] for c in a["channels"]}
        for a in demo.reader.snapshots()
        if a["cause_event_id"] in wanted
    }
    got = sorted((signal_of(r) for r in records), key=lambda s: (s.sku, s.channel_id))
    expected = sorted(step.levels, key=lambda s: (s.sku, s.channel_id))
    if not expected:
        demo.checks.add(
            not got,
            "no stock-level signal: every channel keeps its level"
            + ("" if not got else "  — published: " + "; ".join(s.describe() for s in got)),
            demo.view,
        )
        return
    for signal in expected:
        matching = [r for r in records if signal_of(r) == signal]
        with_snapshot = [
            r
            for r in matching
            if snapshots.get((r["sku"], r["version"]), {}).get(r["channel_id"]) == r["available"]
        ]
        label = (
            "back in stock"
            if signal.previous_level == OUT and signal.level != OUT
            else "stock level"
        )
        ok = len(with_snapshot) == 1
        detail = (
            f" with availability v{with_snapshot[0]['version']}"
            if ok
            else f"  — {len(matching)} such record(s), {len(with_snapshot)} with a matching snapshot"
        )
        demo.checks.add(ok, f"{label}: {signal.describe()}{detail}", demo.view)
    extra = [s for s in got if s not in expected]
    if extra:
        demo.checks.add(
            False,
            "unexpected stock-level signals: " + "; ".join(s.describe() for s in extra),
            demo.view,
        )
