"""The demo's channel-rules section: a marketplace buffer and cap, and the stock-level signals.

The steps themselves are in the script (stocksignal.demo.script: the evening's channel steps
and :data:`~stocksignal.demo.script.BACK_IN_STOCK`); the story (stocksignal.demo.story) uses:

- :func:`channels_set_command` and :func:`level_line`: how a channel event and a level
  record are shown;
- :func:`check_levels`: a step's StockLevelChanged records (read back from the topic) against
  its ``levels``, each with the version of the availability snapshot it was published with.

The numbers are the reference model's (tests/unit/cli/test_demo_script.py replays the day).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from stocksignal.demo.script import OUT, LevelSignal, Step

if TYPE_CHECKING:  # pragma: no cover
    from stocksignal.demo.story import Demo


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
