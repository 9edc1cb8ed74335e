"""``stocksignal accuracy``: how often cycle counts found the books right, per location.

Reads the counts the processor applied (its command log) and their corrections (the ledger)
over a window of log time: see stocksignal.ledger.counts and stocksignal.ledger.accuracy.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from stocksignal.cli.common import (
    Unavailable,
    make_console,
    require_kafka,
    require_topics,
    tool_settings,
)
from stocksignal.cli.formatting import fmt_ts
from stocksignal.cli.when import HELP as TIME_HELP
from stocksignal.cli.when import MOMENT
from stocksignal.contract import topics as catalogue
from stocksignal.ledger.accuracy import Accuracy, Tally, accuracy
from stocksignal.ledger.history import COMMANDS

RULE = (
    "accuracy = counts that needed no correction ÷ counts (a position counted twice is two counts)"
)


@click.command("accuracy", short_help="Inventory record accuracy of cycle counts, per location.")
@click.option(
    "--location", "locations", multiple=True, help="Only this location (repeat for more)."
)
@click.option(
    "--since",
    type=MOMENT,
    help=f"Counts logged after this time [default: all the logs hold]; {TIME_HELP}.",
)
@click.option("--until", type=MOMENT, help="Counts logged up to this time [default: now].")
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="How many of the largest corrections to list.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object: per location, all, the largest corrections.",
)
def accuracy_command(
    locations: tuple[str, ...], since: int | None, until: int | None, top: int, as_json: bool
) -> None:
    """Inventory record accuracy: per location, over a window of log time, how many positions
    were counted, how many counts needed a correction, the units corrected up and down, and
    the share of counts that found the books right; then the SKUs with the largest
    corrections and their reasons (a stock import's reason travels in the event's source).

    \b
    Examples:
      stocksignal accuracy
      stocksignal accuracy --location WH-BER --since -7d
      stocksignal accuracy --since 2026-01-01T00:00:00+01:00 --until 2026-01-02T00:00:00+01:00

    Counts are read from the processor's command log (kept for the dedupe window plus a day,
    8 days by default), corrections from inventory.movements.v1 (7 days). Exit 3 when Kafka
    does not answer, 4 when the topics do not exist.
    """
    from stocksignal.ledger.counts import read_counts
    from stocksignal.ledger.kafka import LedgerUnavailable

    settings = tool_settings()
    until = until if until is not None else int(time.time() * 1000)
    if since is not None and until < since:
        raise click.UsageError("--until is before --since")
    require_kafka(settings)
    require_topics(
        settings, [settings.topic_prefix + COMMANDS, settings.topic_prefix + catalogue.MOVEMENTS]
    )
    try:
        read = read_counts(settings, since, until, locations)
    except LedgerUnavailable as exc:
        raise Unavailable(str(exc)) from None
    result = accuracy(read.counts, read.corrections, top)
    if as_json:
        click.echo(json.dumps(as_object(result, since, until, read.pending), indent=2))
        return
    render(result, since, until, locations, read.pending)


def as_object(result: Accuracy, since: int | None, until: int, pending: int) -> dict[str, Any]:
    return {
        "since": since,
        "until": until,
        "locations": [t.to_json() for t in result.locations.values()],
        "all": result.total.to_json(),
        "largest_corrections": [c.to_json() for c in result.largest],
        "pending": pending,
    }


def percent(tally: Tally) -> str:
    return "-" if tally.accuracy is None else f"{100 * tally.accuracy:.1f} %"


def render(
    result: Accuracy,
    since: int | None,
    until: int,
    locations: tuple[str, ...],
    pending: int,
    console: Any = None,
) -> None:
    from rich import box
    from rich.table import Table

    console = console or make_console()
    where = ", ".join(locations) if locations else "every location"
    window = (
        f"{fmt_ts(since)} → {fmt_ts(until)}"
        if since is not None
        else f"everything the logs hold → {fmt_ts(until)}"
    )
    console.print(f"[bold]Inventory record accuracy[/] · counts logged {window} · {where}")
    if pending:
        console.print(
            f"[yellow]{pending} count(s) in the window are not applied by the processor yet: not included[/]"
        )
    if not result.total.counts:
        console.print("No cycle counts in the window.")
        return
    table = Table(box=box.SIMPLE_HEAD)
    for col in (
        "location",
        "positions counted",
        "counts",
        "agreed",
        "corrected",
        "units up",
        "units down",
        "accuracy",
    ):
        table.add_column(col, justify="left" if col == "location" else "right")
    for tally in [*result.locations.values(), result.total]:
        table.add_row(
            tally.location_id,
            str(len(tally.positions)),
            str(tally.counts),
            str(tally.agreed),
            str(tally.corrected),
            f"+{tally.units_up}",
            f"−{tally.units_down}",
            percent(tally),
            style="bold" if tally is result.total else None,
        )
    console.print(table)
    console.print(f"  [dim]{RULE}[/]")
    if result.largest:
        console.print()
        largest = Table(title="Largest corrections", title_justify="left", box=box.SIMPLE_HEAD)
        for col in (
            "sku",
            "location",
            "counted at",
            "correction",
            "on_hand after",
            "what the count found",
            "source (reason)",
        ):
            largest.add_column(
                col, justify="right" if col in ("correction", "on_hand after") else "left"
            )
        for c in result.largest:
            largest.add_row(
                c.count.sku,
                c.count.location_id,
                fmt_ts(c.count.logged_at),
                f"{c.correction.delta:+d}",
                str(c.correction.balance_after),
                c.correction.reason_detail or "",
                c.count.source or "",
            )
        console.print(largest)
