"""``stocksignal tail availability|reservations|movements|stock-levels|dlq``: the outputs, readable."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from stocksignal import bootstrap
from stocksignal.cli.common import stderr_is_terminal, tool_settings
from stocksignal.cli.formatting import (
    format_availability,
    format_decision,
    format_dlq,
    format_level,
    format_movement,
    format_order_decision,
    record_skus,
)
from stocksignal.cli.kafka_read import Raw, TopicReader
from stocksignal.contract import partition_for
from stocksignal.contract import topics as catalogue

KINDS = {
    "availability": catalogue.AVAILABILITY,
    "reservations": catalogue.RESERVATIONS,
    "movements": catalogue.MOVEMENTS,
    "stock-levels": catalogue.STOCK_LEVELS,
    "order-decisions": catalogue.ORDER_DECISIONS,
    "dlq": catalogue.DLQ,
}
# Topics keyed by SKU: --sku reads the one partition the SKU lives on.
SKU_KEYED = {"availability", "movements", "stock-levels"}
PROGRESS_MIN_RECORDS = 20_000


class Shown:
    """A record of one of the output topics, decoded (or not) and ready to print."""

    __slots__ = ("kind", "raw", "record_name", "record", "error")

    def __init__(self, kind: str, raw: Raw, codec: Any) -> None:
        self.kind, self.raw = kind, raw
        self.record_name: str | None = None
        self.record: dict | None = None
        self.error: str | None = None
        if raw.value is None:
            self.error = "tombstone (no value)"
            return
        try:
            self.record_name, self.record = codec.decode(raw.value)
        except Exception as exc:  # any codec error: shown, never fatal
            self.error = f"{type(exc).__name__}: {exc}"

    def matches(self, sku: str | None) -> bool:
        if sku is None:
            return True
        if sku in record_skus(self.record):
            return True
        return self.kind == "dlq" and self.raw.key == sku.encode()

    def line(self) -> str:
        if self.kind == "dlq":
            return format_dlq(
                self.raw.timestamp,
                self.raw.key,
                self.raw.header_text(),
                self.record_name,
                self.record,
                self.raw.value,
            )
        if self.record is None:
            return f"{self.raw.partition}@{self.raw.offset}  undecodable: {self.error}"
        if self.kind == "availability":
            return format_availability(self.record)
        if self.kind == "reservations":
            return format_decision(self.record)
        if self.kind == "stock-levels":
            return format_level(self.record)
        if self.kind == "order-decisions":
            return format_order_decision(self.record)
        return format_movement(self.record)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "topic": self.raw.topic,
            "partition": self.raw.partition,
            "offset": self.raw.offset,
            "timestamp": self.raw.timestamp,
            "key": None if self.raw.key is None else self.raw.key.decode("utf-8", "replace"),
            "type": self.record_name,
            "record": self.record,
        }
        if self.kind == "dlq":
            out["headers"] = self.raw.header_text()
        if self.error is not None:
            out["error"] = self.error
            out["value_hex"] = None if self.raw.value is None else self.raw.value.hex()
        return out


@click.command(short_help="Print availability, reservations, movements or the DLQ.")
@click.argument(
    "what",
    metavar="availability|reservations|movements|stock-levels|order-decisions|dlq",
    type=click.Choice(sorted(KINDS)),
)
@click.option(
    "--from-beginning",
    is_flag=True,
    help="Start at the beginning of the topic instead of the last records.",
)
@click.option(
    "-n",
    "--last",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Without --from-beginning: start with this many of the newest (matching) records; "
    "0 shows only new ones (with -f).",
)
@click.option(
    "-f", "--follow", is_flag=True, help="Keep printing records as they arrive (Ctrl-C stops)."
)
@click.option("--sku", help="Only records of this SKU.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after printing this many records.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per record (topic, partition, offset, key, type, record, headers).",
)
def tail(
    what: str,
    from_beginning: bool,
    last: int,
    follow: bool,
    sku: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Print the processor's outputs, decoded, one line per record.

    \b
      availability   inventory.availability.v1  per-SKU snapshots: every channel's
                     available-to-sell and every location's buckets
      reservations   inventory.reservations.v1  one decision per order line
      movements      inventory.movements.v1     the ledger: one line per bucket change
      stock-levels   inventory.stock-levels.v1  a channel's stock level changed: back in
                     stock, running low, sold out
      dlq            inventory.dlq.v1           rejected input with its dlq.* headers

    Without --from-beginning it starts with the newest --last records (ordered by log
    time across partitions); with -f it then waits for new ones. Topic names get
    STOCKSIGNAL_TOPIC_PREFIX in front.

    \b
    Examples:
      stocksignal tail movements --sku MUG-BLUE -n 20
      stocksignal tail reservations -f
      stocksignal tail dlq --from-beginning --json
    """
    settings = tool_settings()
    codec = bootstrap.make_codec(settings)
    topic = settings.topic_prefix + KINDS[what]
    printed = 0

    def emit(shown: Shown) -> bool:
        """Print; False once --limit is reached."""
        nonlocal printed
        click.echo(
            json.dumps(shown.as_json(), default=str, ensure_ascii=False)
            if as_json
            else shown.line()
        )
        printed += 1
        return limit is None or printed < limit

    try:
        with TopicReader(settings, topic) as reader:
            partitions = reader.partitions
            if sku is not None and what in SKU_KEYED:
                partitions = [partition_for(sku, len(reader.partitions))]
            marks = reader.watermarks(partitions)
            scan = from_beginning or sku is not None
            starts = {p: lo if scan else max(lo, hi - last) for p, (lo, hi) in marks.items()}
            ends = {p: hi for p, (_, hi) in marks.items()}
            backlog = _read_backlog(reader, what, codec, starts, ends, sku)
            if not from_beginning:
                backlog = backlog[-last:] if last else []
            for shown in backlog:
                if not emit(shown):
                    return
            if not backlog and not follow:
                click.echo(f"no records{f' of SKU {sku}' if sku else ''} in {topic}", err=True)
            if follow:
                for raw in reader.follow():
                    shown = Shown(what, raw, codec)
                    if shown.matches(sku) and not emit(shown):
                        return
    except KeyboardInterrupt:
        return
    except BrokenPipeError:
        # `| head`: the reader went away. Point stdout at /dev/null so that Python's exit-time
        # flush does not complain, and stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _read_backlog(
    reader: TopicReader,
    what: str,
    codec: Any,
    starts: dict[int, int],
    ends: dict[int, int],
    sku: str | None,
) -> list[Shown]:
    total = sum(max(0, ends[p] - starts[p]) for p in starts)
    records: list[Shown] = []
    if total >= PROGRESS_MIN_RECORDS and stderr_is_terminal():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(
            TextColumn(f"reading {reader.topic}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task("read", total=total)
            for raw in reader.to_end(starts, ends, on_progress=lambda n: bar.advance(task, n)):
                shown = Shown(what, raw, codec)
                if shown.matches(sku):
                    records.append(shown)
    else:
        for raw in reader.to_end(starts, ends):
            shown = Shown(what, raw, codec)
            if shown.matches(sku):
                records.append(shown)
    records.sort(key=lambda s: (s.raw.timestamp, s.raw.partition, s.raw.offset))
    return records
