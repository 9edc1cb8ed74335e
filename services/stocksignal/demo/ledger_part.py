"""The demo's ledger section: a stock take imported with its diff, and the day looked back on.

Two self-contained parts the story calls (stocksignal.demo.story):

- :func:`play_stocktake`, for a step with a stock-take file (``Step.stocktake``): writes the
  file to the run directory, runs ``stocksignal stock import FILE --diff --yes`` as a user
  would (the diff against the processor's books, then the import), checks the step like any
  other, then imports the same file again and checks that nothing changed (the event ids
  come from the file: the processor drops the repeat as duplicates).
- :func:`look_back`, after the closing checks: "what was MUG-BLUE at 14:00?" answered by
  ``stocksignal sku MUG-BLUE --at T`` (T: the moment the 14:00 step had settled) and checked
  against ``GET /skus/MUG-BLUE?at=T``; the movements of the afternoon with
  ``stocksignal sku --since/--until``; and the day's inventory record accuracy with
  ``stocksignal accuracy``.

Both need only the runner's ``Demo`` (its settings, view, checks, reader and helpers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stocksignal.bench.probes import http_get
from stocksignal.demo import checks, script
from stocksignal.demo.supervisor import relative

if TYPE_CHECKING:  # pragma: no cover
    from stocksignal.demo.story import Demo

CLI_TIMEOUT_S = 120.0
STOCKTAKE_FILE = "stocktake.csv"


def iso(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 in UTC, to the millisecond (what --at/--since accept)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def stocktake_ids(text: str) -> list[str]:
    """The event ids ``stock import`` gives the rows of ``text``, in file order."""
    from stocksignal.cli.counts_csv import parse_counts, record_for

    counts = parse_counts(text.encode())
    return [record_for(row, counts.digest, 0)["event_id"] for row in counts.rows]


def run_cli(
    demo: Demo, args: list[str], shown: str | None = None, quiet: bool = False
) -> subprocess.CompletedProcess:
    """Run ``stocksignal ARGS`` with the demo's settings; unless ``quiet``, show the command and its output."""
    if not quiet:
        demo.view.command(shown or "stocksignal " + " ".join(args))
    env = {**os.environ, **demo.settings.to_env(), "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "stocksignal.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        cwd=str(demo.run_dir),
    )
    for line in ("" if quiet else result.stdout + result.stderr).splitlines():
        if line.strip():
            demo.view.info("      " + line.rstrip())
    return result


def play_stocktake(demo: Demo, number: int, total: int, step: script.Step) -> None:
    """A step whose events are a stock-take file: import it with --diff, check, import it again."""
    view = demo.view
    view.step(number, total, step.clock, step.title, step.story)
    assert step.stocktake is not None  # the story plays other steps itself
    path = demo.run_dir / STOCKTAKE_FILE
    path.write_text(step.stocktake)
    events = list(step.events(script.Observed()))
    ids = stocktake_ids(step.stocktake)
    url = demo.urls()["processor"]
    commands = step.commands or script.expected_commands(events, demo.settings.command_partitions)
    skus = set().union(*(e.skus for e in events)) | set(step.expect)

    traffic = demo.traffic
    before = traffic.handled()
    result = run_cli(
        demo,
        ["stock", "import", str(path), "--diff", "--yes", "--url", url],
        f"stocksignal stock import {relative(path)} --diff --yes",
    )
    demo.checks.add(
        result.returncode == 0 and script.STOCKTAKE_DIFF in result.stdout,
        f"the diff before the import: {script.STOCKTAKE_DIFF}"
        + ("" if result.returncode == 0 else f"  — exit {result.returncode}"),
        view,
    )
    if result.returncode != 0:
        return
    traffic.settle(before, commands, skus, ids, script.expected_decisions(events))
    traffic.show_outputs(events, ids)
    view.availability(demo.reader.latest, caption=f"after {step.clock}")
    checks.check_step(demo, step, ids)

    versions = {sku: _version(demo, sku) for sku in skus}
    movements = len(demo.reader.movements())
    before = traffic.handled()
    again = run_cli(
        demo, ["stock", "import", str(path)], f"stocksignal stock import {relative(path)}   # again"
    )
    if again.returncode == 0:
        traffic.settle(
            before, commands, set()
        )  # applied or dropped: the processor has seen them all
    after = {sku: _version(demo, sku) for sku in skus}
    demo.checks.add(
        again.returncode == 0 and after == versions and len(demo.reader.movements()) == movements,
        f"the same file imported again changes nothing: {len(ids)} duplicate(s) dropped, "
        f"no movement, versions unchanged"
        + ("" if after == versions else f"  — {versions} -> {after}"),
        view,
    )


def look_back(demo: Demo) -> None:
    """After the day: the SKU as it was at a step's time, the movements since, the accuracy."""
    view = demo.view
    lb = script.LOOK_BACK
    times = demo.step_times
    if lb.clock not in times:
        demo.checks.add(False, f"no time recorded for the {lb.clock} step", view)
        return
    at = times[lb.clock]
    view.step(
        len(script.steps()) + 2,
        script.total_sections(),
        "19:00",
        f"What was {lb.sku} at {lb.clock}?",
        f"The support desk asks what the shop showed for {lb.sku} right after the {lb.clock} short pick. "
        "The processor answers from the ledger (the SKU's movements, and the channels as configured "
        f"then), not from today's state. {lb.clock} is a label: the demo noted the real time once "
        "that step had settled.",
    )
    url = demo.urls()["processor"]
    run_cli(
        demo,
        ["sku", lb.sku, "--at", iso(at), "--url", url],
        f"stocksignal sku {lb.sku} --at {iso(at)}",
    )
    status, state = demo_http_get(f"{url}/skus/{urllib.parse.quote(lb.sku, safe='')}?at={at}")
    if status != 200:
        demo.checks.add(False, f"GET /skus/{lb.sku}?at={at} answered {status}: {state}", view)
        return
    channels = {c: ch["available"] for c, ch in state["channels"].items()}
    positions = {
        loc: {b: p.get(b, 0) for b in lb.positions.get(loc, p)}
        for loc, p in state["positions"].items()
    }
    demo.checks.add(
        channels == lb.channels,
        f"{lb.sku} at {lb.clock}: {_channels(channels)}"
        + ("" if channels == lb.channels else f"  — expected {_channels(lb.channels)}"),
        view,
    )
    demo.checks.add(
        positions == lb.positions,
        f"{lb.sku} at {lb.clock}: "
        + "; ".join(
            f"{loc} on_hand={b['on_hand']} reserved={b['reserved']} picked={b['picked']} sellable={b['sellable']}"
            for loc, b in sorted(positions.items())
            if "on_hand" in b
        )
        + ("" if positions == lb.positions else "  — expected other buckets"),
        view,
    )

    clocks = [s.clock for s in script.steps()]
    since = times.get(clocks[clocks.index(lb.clock) - 1]) if clocks.index(lb.clock) else None
    if since is not None:
        run_cli(
            demo,
            ["sku", lb.sku, "--since", iso(since), "--until", iso(at), "--url", url],
            f"stocksignal sku {lb.sku} --since {iso(since)} --until {iso(at)}",
        )
        status, window = demo_http_get(
            f"{url}/skus/{urllib.parse.quote(lb.sku, safe='')}/movements?since={since}&until={at}"
        )
        net = window.get("net_change", {}) if status == 200 else {}
        expected = script.LOOK_BACK_NET
        demo.checks.add(
            net == expected,
            f"{lb.sku}'s net change in the short pick's window: {net}"
            + ("" if net == expected else f"  — expected {expected}"),
            view,
        )

    run_cli(demo, ["accuracy"])
    result = run_cli(demo, ["accuracy", "--json"], quiet=True)
    try:
        total = json.loads(result.stdout)["all"]
        got = {"agreed": total["agreed"], "corrected": total["corrected"]}
    except (ValueError, KeyError, TypeError):
        got = None
    demo.checks.add(
        got == script.FINAL_ACCURACY,
        f"the day's inventory record accuracy: {got}"
        + ("" if got == script.FINAL_ACCURACY else f"  — expected {script.FINAL_ACCURACY}"),
        view,
    )


def _version(demo: Demo, sku: str) -> int:
    status, state = demo_http_get(
        f"{demo.urls()['processor']}/skus/{urllib.parse.quote(sku, safe='')}"
    )
    return state["version"] if status == 200 else -1


def demo_http_get(url: str) -> tuple[int, Any]:
    return http_get(url, timeout=30)


def _channels(available: dict[str, int]) -> str:
    return " · ".join(f"{c} {n}" for c, n in sorted(available.items()))


def where_to_look(demo: Demo, cli: str) -> list[str]:
    """The last screen's CLI lines for this section."""
    lb = script.LOOK_BACK
    at = demo.step_times.get(lb.clock)
    lines = [f"                    {cli} sku {lb.sku} --at {iso(at)}   # {lb.clock}"] if at else []
    return lines + [
        f"                    {cli} sku {lb.sku} --since -1h",
        f"                    {cli} accuracy",
    ]
