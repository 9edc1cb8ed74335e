"""``stocksignal stock import FILE.csv``: a stock take as ``StockCounted`` events.

Checks every row first (counts_csv.py), optionally shows what each row would change against
the processor's books (counts_diff.py), then produces one ``StockCounted`` per row to
``inventory.stock.v1``, keyed by SKU, with event ids derived from the file: importing the
same file again is a no-op for the processor's dedupe window.

All or nothing by default: when any row is bad, nothing is produced. A stock take is a
snapshot; fixing a bad row makes a new file (new event ids), so producing the good rows of
the first attempt and then the corrected file would apply those rows twice — the second
time over whatever moved in between. ``--partial`` produces the good rows anyway.
"""

from __future__ import annotations

import time
from collections import Counter

import click

from stocksignal import bootstrap
from stocksignal.cli import counts_diff, progress
from stocksignal.cli.common import (
    Failure,
    Unavailable,
    make_console,
    require_topics,
    stdout_is_terminal,
    tool_settings,
)
from stocksignal.cli.counts_csv import DEFAULT_SOURCE, CountsFile, parse_counts, record_for
from stocksignal.cli.jsonl import Event
from stocksignal.cli.produce import FLUSH_TIMEOUT_S, Report, Sender
from stocksignal.cli.sku import check_url, fetch
from stocksignal.cli.when import HELP as TIME_HELP
from stocksignal.cli.when import MOMENT
from stocksignal.contract import topics as catalogue
from stocksignal.settings import Settings

DAY_MS = 86_400_000


@click.group(short_help="Stock takes: import counted quantities (StockCounted).")
def stock() -> None:
    """Stock takes: import a file of counted quantities as StockCounted events."""


@stock.command("import", short_help="Import a stock-take CSV as StockCounted events.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="First show what each row changes against the processor's books. Alone: a dry run "
    "(on a terminal it asks whether to produce).",
)
@click.option(
    "--yes", is_flag=True, help="With --diff: produce after showing the changes, without asking."
)
@click.option(
    "--partial",
    is_flag=True,
    help="Produce the good rows even when some are bad [default: nothing when any row is bad].",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check every row, produce nothing (needs neither Kafka nor the processor).",
)
@click.option(
    "--counted-at",
    type=MOMENT,
    help=f"When the stock was counted (occurred_at) [default: now]; {TIME_HELP}.",
)
@click.option(
    "--source",
    default=DEFAULT_SOURCE,
    show_default=True,
    help="Name in each event's source; a row's reason follows it: 'stock-import: <reason>'.",
)
@click.option(
    "--delimiter",
    default=",",
    show_default=True,
    help="Cell separator (';' for some spreadsheet exports).",
)
@click.option(
    "--url",
    help="Processor for --diff [default: http://STOCKSIGNAL_WEB_HOST:STOCKSIGNAL_WEB_PORT].",
)
@click.option(
    "--diff-rows",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="How many changing rows --diff lists (largest corrections first); the totals count all.",
)
@click.option(
    "--progress/--no-progress",
    "show_progress",
    default=None,
    help="Progress bars [default: on for files of 100,000+ rows when stderr is a terminal].",
)
def import_counts(
    file: str,
    show_diff: bool,
    yes: bool,
    partial: bool,
    dry_run: bool,
    counted_at: int | None,
    source: str,
    delimiter: str,
    url: str | None,
    diff_rows: int,
    show_progress: bool | None,
) -> None:
    """Import a stock take: one StockCounted event per row of FILE.csv.

    \b
    FILE has a header row and the columns sku, location_id, counted_qty and,
    optionally, reason (any order):
      sku,location_id,counted_qty,reason
      MUG-BLUE,WH-BER,2,bin B-4 short
      LAMP-OAK,WH-HAM,3,

    \b
    - counted_qty is what is in the bins: on_hand becomes counted_qty + picked.
    - Every row is checked (ids, 0..1,000,000, one row per position) and each problem is
      reported with its line number. When any row is bad nothing is produced, unless
      --partial.
    - --diff compares each row with the processor's books (on_hand - picked) and lists
      the changes; alone it is a dry run, with --yes it then produces.
    - Event ids come from the file's SHA-256 and the line: importing the same file again
      within the dedupe window (7 days by default) changes nothing.
    - A reason travels in the event's source ("stock-import: bin B-4 short").

    \b
    Examples:
      stocksignal stock import stocktake.csv --diff          # what would change
      stocksignal stock import stocktake.csv --diff --yes    # show it, then import
      stocksignal stock import stocktake.csv

    Exit 0 when every row was produced (or checked), 1 when any row was bad or not
    delivered, 2 for a file that cannot be read, 3 when Kafka or the processor does not
    answer, 4 when inventory.stock.v1 does not exist.
    """
    settings = tool_settings()
    if len(delimiter) != 1:
        raise click.BadParameter("must be one character", param_hint="--delimiter")
    base = (
        (check_url(url) if url else f"http://{settings.web_host}:{settings.web_port}")
        if show_diff
        else None
    )
    counts = parse_counts(_read(file), delimiter, source)
    for bad in sorted(counts.bad, key=lambda b: b.line):
        click.echo(str(bad), err=True)
    if not counts.rows and not counts.bad:
        raise Failure(f"{file} has no rows to import (only a header)")
    show = progress.wanted(show_progress, len(counts.rows))
    if show_diff and counts.rows:
        _show_diff(counts, base, diff_rows, show)
    blocked = bool(counts.bad) and not partial
    if dry_run or blocked or (show_diff and not _confirmed(yes, counts, dry_run or blocked)):
        _refuse_or_stop(counts, file, dry_run, blocked)
        return
    report = _produce(settings, counts, counted_at, source, show)
    _print_summary(report, counts, file, settings)
    if report.undelivered:
        raise Unavailable(
            f"{report.undelivered} event(s) not delivered within {FLUSH_TIMEOUT_S:.0f}s: is Kafka up?"
        )
    if report.bad or counts.bad:
        raise Failure(
            f"{len(counts.bad) + len(report.bad)} bad or undelivered row(s); every other row was produced"
        )


def _read(file: str) -> bytes:
    try:
        with open(file, "rb") as f:
            return f.read()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {file}: {exc.strerror}", param_hint="FILE") from exc


def _show_diff(counts: CountsFile, base: str, limit: int, show: bool) -> None:
    skus = counts.skus
    with progress.bar("comparing", len(skus), show) as advance:
        books = counts_diff.fetch_books(base, skus, fetch, on_done=advance)
    counts_diff.render(counts_diff.compare(counts.rows, books), limit, make_console())


def _confirmed(yes: bool, counts: CountsFile, will_not_produce: bool) -> bool:
    """After a diff: --yes, or the operator's answer on a terminal; else the diff was a dry run."""
    if yes or will_not_produce:
        return yes
    if stdout_is_terminal():
        return click.confirm(
            f"Produce {len(counts.rows)} StockCounted event(s)?", default=False, err=True
        )
    return False


def _refuse_or_stop(counts: CountsFile, file: str, dry_run: bool, blocked: bool) -> None:
    """Nothing is produced: say why, with the exit code that says it."""
    if blocked:
        raise Failure(
            f"{len(counts.bad)} bad row(s) in {file}; nothing was produced (fix them and import the "
            "file again, or --partial to produce the other rows)"
        )
    if dry_run:
        click.echo(f"checked {len(counts.rows)} row(s) of {file}: nothing produced (--dry-run)")
    else:
        click.echo(
            f"nothing produced: --diff alone is a dry run; add --yes to produce the {len(counts.rows)} "
            "count(s) after the diff"
        )
    if counts.bad:
        raise Failure(f"{len(counts.bad)} bad row(s) in {file}")


def _produce(
    settings: Settings, counts: CountsFile, counted_at: int | None, source: str, show: bool
) -> Report:
    topic = settings.topic_prefix + catalogue.STOCK
    require_topics(settings, [topic])
    codec = bootstrap.make_codec(settings)
    occurred_at = counted_at if counted_at is not None else int(time.time() * 1000)
    report = Report()
    report.topics["StockCounted"] = topic
    sender = Sender(settings, report)
    try:
        with progress.bar("producing", len(counts.rows), show) as advance:
            for row in counts.rows:
                record = record_for(row, counts.digest, occurred_at, source)
                sender.send(
                    Event(row.line, "StockCounted", record),
                    topic,
                    codec.encode("StockCounted", record),
                )
                advance(1)
    finally:
        sender.finish()
    return report


def _print_summary(report: Report, counts: CountsFile, file: str, settings: Settings) -> None:
    rows = counts.rows
    locations = Counter(r.location_id for r in rows)
    reasons = sum(1 for r in rows if r.reason)
    days = settings.dedupe_window_ms / DAY_MS
    click.echo(
        f"imported {report.total} count(s) from {file} -> {report.topics['StockCounted']} "
        "(StockCounted, keyed by sku)"
    )
    click.echo(
        f"  {len(rows)} position(s) of {len(counts.skus)} SKU(s) at {len(locations)} location(s); "
        f"{reasons} with a reason (carried in the event's source)"
    )
    click.echo(
        f"  event ids from the file's SHA-256 ({counts.digest[:12]}…) and each row's line: importing this "
        f"file again within the dedupe window ({days:g} days) changes nothing"
    )
    for bad in sorted(report.bad, key=lambda b: b.line):
        click.echo(str(bad), err=True)
