"""``stocksignal produce FILE.jsonl``: JSON lines -> validated Avro events on their topics."""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import click

from stocksignal import bootstrap
from stocksignal.cli.common import (
    Failure,
    Unavailable,
    kafka_client_overrides,
    require_topics,
    stderr_is_terminal,
    tool_settings,
)
from stocksignal.cli.jsonl import (
    DEFAULT_SOURCE,
    INPUT_RECORDS,
    BadLine,
    Defaults,
    Event,
    decode_line,
    encode,
    parse_line,
)

# A file at least this big gets a progress bar (when stderr is a terminal).
PROGRESS_MIN_BYTES = 256 * 1024
FLUSH_TIMEOUT_S = 60.0


@dataclass
class Report:
    produced: Counter = field(default_factory=Counter)  # record name -> events delivered
    topics: dict[str, str] = field(default_factory=dict)  # record name -> topic
    bad: list[BadLine] = field(default_factory=list)
    notes: list[BadLine] = field(default_factory=list)  # reported, but the line was produced
    filled: Counter = field(default_factory=Counter)  # field -> lines it was filled on
    undelivered: int = 0

    @property
    def total(self) -> int:
        return sum(self.produced.values())


@click.command(short_help="Produce input events from a JSON lines file.")
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False, exists=False))
@click.option(
    "--source",
    default=DEFAULT_SOURCE,
    show_default=True,
    help="Value of `source` for lines that have none.",
)
@click.option("--dry-run", is_flag=True, help="Check every line, produce nothing.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar [default: on for files over 256 KiB and stdin when stderr is a terminal].",
)
def produce(file: str, source: str, dry_run: bool, progress: bool | None) -> None:
    """Produce the input events of a JSON lines FILE ('-' for stdin) to their topics.

    \b
    One event per line, a JSON object whose "type" is the event and whose other
    members are its fields (the records of docs/contract.md#records):
      {"type": "StockReceived", "sku": "MUG-BLUE", "location_id": "WH-BER", "qty": 10}
      {"type": "OrderPlaced", "order_id": "W-1", "channel_id": "webshop",
       "lines": [{"sku": "MUG-BLUE", "qty": 2}]}

    \b
    - Each event goes to its topic (inventory.orders.v1, ...) with the contract's key.
    - event_id (random UUID), occurred_at (now) and source (--source) are filled in
      when absent; the summary says on how many lines.
    - Times: epoch ms, ISO 8601 with an offset, "now", or "+15m" / "-2h" / "+1d".
    - Blank lines and lines starting with # are skipped. Lines must be UTF-8: a line that
      is not is reported and skipped; a byte order mark is reported and ignored.
    - Every line is validated (the domain's rules, then the Avro codec). A bad line is
      reported with its number and reason; every good line is still produced.

    Exit 0 when every line was produced, 1 when any line was bad or not delivered,
    3 when Kafka does not answer, 4 when the input topics do not exist.
    """
    settings = tool_settings()
    codec = bootstrap.make_codec(settings)
    names = {r: settings.topic_prefix + t for r, t in INPUT_RECORDS.items()}
    if not dry_run:
        require_topics(settings, sorted(set(names.values())))
    defaults = Defaults(now_ms=int(time.time() * 1000), source=source or None)
    report = Report()
    stream, size = _open(file)
    show_progress = (
        progress
        if progress is not None
        else (stderr_is_terminal() and (size is None or size >= PROGRESS_MIN_BYTES))
    )
    sender = None if dry_run else Sender(settings, report)
    try:
        for raw, number in _with_progress(stream, size, show_progress, file):
            text = decode_line(raw, number)
            if isinstance(text, BadLine):
                report.bad.append(text)
                continue
            text, note = text
            if note is not None:
                report.notes.append(note)
            parsed = parse_line(text, number, defaults)
            if parsed is None:
                continue
            if isinstance(parsed, BadLine):
                report.bad.append(parsed)
                continue
            value = encode(parsed, codec)
            if isinstance(value, BadLine):
                report.bad.append(value)
                continue
            for name in parsed.filled:
                report.filled[name] += 1
            report.topics[parsed.record_name] = names[parsed.record_name]
            if sender is None:
                report.produced[parsed.record_name] += 1
            else:
                sender.send(parsed, names[parsed.record_name], value)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
        if sender is not None:
            sender.finish()
    _print_report(report, file, dry_run, source)
    if report.undelivered:
        raise Unavailable(
            f"{report.undelivered} event(s) not delivered within {FLUSH_TIMEOUT_S:.0f}s: is Kafka up?"
        )
    if report.bad:
        raise Failure(
            f"{len(report.bad)} bad line(s); every other line was {'checked' if dry_run else 'produced'}"
        )


class Sender:
    """Produces events, remembering each one's line until the broker acknowledges it."""

    def __init__(self, settings, report: Report) -> None:
        self.producer = bootstrap.make_producer(settings, **kafka_client_overrides())
        self.report = report
        self.sent = 0

    def send(self, event: Event, topic: str, value: bytes) -> None:
        def delivered(err, _msg, line=event.line, name=event.record_name) -> None:
            if err is not None:
                self.report.bad.append(BadLine(line, f"not delivered: {err.str()}"))
            else:
                self.report.produced[name] += 1

        while True:
            try:
                self.producer.produce(topic, value, event.key.encode(), on_delivery=delivered)
                break
            except BufferError:
                self.producer.poll(0.1)
        self.sent += 1
        if self.sent % 1000 == 0:
            self.producer.poll(0)

    def finish(self) -> None:
        self.report.undelivered = self.producer.flush(FLUSH_TIMEOUT_S)


def _open(file: str) -> tuple[BinaryIO, int | None]:
    """Bytes, not text: each line is decoded on its own, so one bad line cannot stop the rest."""
    if file == "-":
        return sys.stdin.buffer, None
    try:
        stream = open(file, "rb")
    except OSError as exc:
        raise click.BadParameter(f"cannot read {file}: {exc.strerror}", param_hint="FILE") from exc
    return stream, os.fstat(stream.fileno()).st_size


def _with_progress(
    stream: BinaryIO, size: int | None, show: bool, label: str
) -> Iterator[tuple[bytes, int]]:
    """(line, line number), advancing a progress bar by bytes read when ``show``."""
    if not show:
        for number, text in enumerate(stream, start=1):
            yield text, number
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("[bold]producing[/] {task.description}"), BarColumn()]
    columns += (
        [TextColumn("{task.percentage:>3.0f}%"), TimeRemainingColumn()]
        if size
        else [MofNCompleteColumn()]
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("stdin" if label == "-" else label, total=size)
        for number, text in enumerate(stream, start=1):
            yield text, number
            bar.advance(task, len(text) if size else 1)


def _print_report(report: Report, file: str, dry_run: bool, source: str) -> None:
    what = "checked" if dry_run else "produced"
    name = "stdin" if file == "-" else file
    click.echo(f"{what} {report.total} event(s) from {name}" + (":" if report.total else ""))
    for record_name, n in sorted(report.produced.items()):
        click.echo(f"  {n:>7} {record_name:<20} -> {report.topics[record_name]}")
    notes = {
        "event_id": "a random UUID",
        "occurred_at": "the time the command started",
        "source": repr(source),
    }
    for field_name in ("event_id", "occurred_at", "source"):
        if report.filled[field_name]:
            click.echo(
                f"  filled in {field_name} on {report.filled[field_name]} line(s): {notes[field_name]}"
            )
    for line in sorted(report.bad + report.notes, key=lambda b: b.line):
        click.echo(f"{line}", err=True)
