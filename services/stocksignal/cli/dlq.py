"""``stocksignal dlq list|show|replay``: see what went to the DLQ, and send it back after a fix.

The DLQ (docs/contract.md#bad-input-and-the-dlq) keeps each rejected input record's key, value
and headers plus the ``dlq.*`` headers. A replay sends the original key, value and headers
(``dlq.*`` removed) to the original input topic; the processor decides it like any other
record, and because it carries its original ``event_id``, replaying it again within the dedupe
window changes nothing (docs/processor.md, "Why exactly once holds").
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import click

from stocksignal import bootstrap
from stocksignal.cli.common import (
    Failure,
    Unavailable,
    kafka_client_overrides,
    require_topics,
    tool_settings,
)
from stocksignal.cli.dlq_records import (
    DlqEntry,
    Selection,
    parse_range,
    parse_ref,
    plan_replay,
    reasons,
)
from stocksignal.cli.formatting import fmt_ts
from stocksignal.cli.kafka_read import Raw, TopicReader, read_all
from stocksignal.cli.when import HELP as TIME_HELP
from stocksignal.cli.when import MOMENT
from stocksignal.contract import partition_for
from stocksignal.contract import topics as catalogue

DAY_MS = 86_400_000
FLUSH_TIMEOUT_S = 60.0
ERROR_SHOWN = 160  # characters of dlq.error on a list line; `dlq show` has it whole


class RangeType(click.ParamType):
    name = "P@FIRST[-LAST]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, tuple):
            return value
        try:
            return parse_range(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.group(short_help="List, show and replay dead-lettered input records.")
def dlq() -> None:
    """The DLQ (inventory.dlq.v1): input records the processor refused, with why.

    \b
      stocksignal dlq list --reason VALIDATION_ERROR --since -1d
      stocksignal dlq show 2@15
      stocksignal dlq replay --reason UNKNOWN_SCHEMA --dry-run
      stocksignal dlq replay --offsets 2@15-20

    A record is named by its partition and offset in the DLQ (2@15), as `dlq list`
    shows. docs/cli.md#dlq and docs/operations.md (StocksignalDlqRateHigh) explain when
    to replay.
    """


def _selection_options(f):
    options = [
        click.option(
            "--reason",
            "reasons_",
            multiple=True,
            type=click.Choice(reasons()),
            help="Only this dlq.reason (repeatable).",
        ),
        click.option(
            "--topic",
            "topics",
            multiple=True,
            help="Only records read from this input topic, e.g. inventory.orders.v1 (repeatable).",
        ),
        click.option(
            "--since",
            type=MOMENT,
            help=f"Only records dead-lettered at or after this time: {TIME_HELP}.",
        ),
        click.option(
            "--until", type=MOMENT, help="Only records dead-lettered at or before this time."
        ),
        click.option(
            "--event-id",
            "event_ids",
            multiple=True,
            help="Only the record with this event_id (repeatable).",
        ),
        click.option(
            "--offsets",
            "ranges",
            multiple=True,
            type=RangeType(),
            help="Only DLQ offsets P@FIRST-LAST (both included), P@OFFSET or P@FIRST- (repeatable).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _selection(settings, reasons_, topics, since, until, event_ids, ranges) -> Selection:
    return Selection(
        frozenset(reasons_),
        frozenset(topics),
        frozenset(event_ids),
        tuple(ranges),
        since,
        until,
        settings.topic_prefix,
    )


def _read(settings, selection: Selection) -> tuple[str, list[DlqEntry], int]:
    """(DLQ topic, matching entries in DLQ order, records read)."""
    topic = settings.topic_prefix + catalogue.DLQ
    codec = bootstrap.make_codec(settings)
    partitions = sorted({p for p, _, _ in selection.ranges}) or None
    raws = read_all(settings, topic, partitions)
    entries = [DlqEntry.of(raw, codec) for raw in raws]
    chosen = [e for e in entries if selection.matches(e)]
    chosen.sort(key=lambda e: (e.raw.timestamp, e.raw.partition, e.raw.offset))
    return topic, chosen, len(raws)


@dlq.command("list", short_help="List DLQ records by reason, topic and time.")
@_selection_options
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many (the newest).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
def list_records(reasons_, topics, since, until, event_ids, ranges, limit, as_json) -> None:
    """List DLQ records, oldest first: DLQ partition@offset, time, reason, where the record
    came from, its key, its event, and the error. A summary by reason and topic follows."""
    settings = tool_settings()
    selection = _selection(settings, reasons_, topics, since, until, event_ids, ranges)
    topic, chosen, total = _read(settings, selection)
    shown = chosen[-limit:] if limit else chosen
    for entry in shown:
        click.echo(
            json.dumps(_as_json(entry), ensure_ascii=False, default=str)
            if as_json
            else _line(entry)
        )
    by_reason = Counter(e.reason for e in chosen)
    by_topic = Counter(e.source_topic or "?" for e in chosen)
    summary = (
        f"{len(chosen)} of {total} record(s) in {topic}"
        + (": " + ", ".join(f"{n} {r}" for r, n in by_reason.most_common()) if chosen else "")
        + ("; from " + ", ".join(f"{t} {n}" for t, n in by_topic.most_common()) if chosen else "")
    )
    if limit and len(chosen) > limit:
        summary += f" (the newest {limit} shown)"
    click.echo(summary, err=as_json)


@dlq.command("show", short_help="Show one DLQ record: headers and decoded body.")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="The record as one JSON object.")
def show(ref: str, as_json: bool) -> None:
    """Show the DLQ record REF (PARTITION@OFFSET, as `dlq list` shows): every header, the
    key, the body decoded when it decodes (else its bytes in hex), and whether today's
    rules would accept it (what a replay would do)."""
    try:
        partition, offset = parse_ref(ref)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="REF") from None
    settings = tool_settings()
    topic = settings.topic_prefix + catalogue.DLQ
    raw = _read_one(settings, topic, partition, offset)
    entry = DlqEntry.of(raw, bootstrap.make_codec(settings))
    verdict = _verdict(entry, settings.topic_prefix)
    if as_json:
        click.echo(
            json.dumps(
                {**_as_json(entry), "replay": verdict}, ensure_ascii=False, default=str, indent=2
            )
        )
        return
    click.echo(f"{topic} {entry.ref}, dead-lettered {fmt_ts(raw.timestamp)}")
    click.echo(f"  reason   {entry.reason}")
    click.echo(f"  error    {entry.error}")
    click.echo(f"  from     {entry.source}")
    click.echo(f"  key      {_key(raw.key)}")
    click.echo("headers:")
    for k, v in raw.headers:
        click.echo(f"  {k}: {'(null)' if v is None else v.decode('utf-8', 'replace')}")
    if entry.record_name is not None:
        click.echo(f"body: {entry.record_name}")
        click.echo(
            "  "
            + json.dumps(entry.record, ensure_ascii=False, indent=2, default=str).replace(
                "\n", "\n  "
            )
        )
    else:
        size = 0 if raw.value is None else len(raw.value)
        click.echo(f"body: does not decode ({entry.decode_error}); {size} byte(s):")
        if raw.value:
            click.echo("  " + raw.value[:256].hex(" ") + (" ..." if size > 256 else ""))
    click.echo(f"replay: {verdict}")


def _read_one(settings, topic: str, partition: int, offset: int) -> Raw:
    with TopicReader(settings, topic) as reader:
        if partition not in reader.partitions:
            raise Failure(f"{topic} has no partition {partition} (it has {len(reader.partitions)})")
        low, high = reader.watermarks([partition])[partition]
        if not low <= offset < high:
            raise Failure(
                f"no record at {partition}@{offset}: {topic}[{partition}] holds offsets {low}..{high - 1}"
                if high > low
                else f"no record at {partition}@{offset}: {topic}[{partition}] is empty"
            )
        for raw in reader.to_end({partition: offset}, {partition: offset + 1}):
            return raw
    raise Failure(
        f"no record at {partition}@{offset} in {topic} (a transaction marker or a compacted gap)"
    )


def _verdict(entry: DlqEntry, prefix: str) -> str:
    plan = plan_replay([entry], prefix)
    if plan.send:
        return f"today's rules accept it: `stocksignal dlq replay --offsets {entry.ref}` sends it to {plan.send[0][1]}"
    if plan.failing:
        return f"would be dead-lettered again ({plan.failing[0][1]}): fix the cause first"
    return f"not replayable: {plan.refused[0][1]}"


@dlq.command("replay", short_help="Send selected DLQ records back to their original topics.")
@_selection_options
@click.option(
    "--all", "everything", is_flag=True, help="Every DLQ record (without it, give a selection)."
)
@click.option("--dry-run", is_flag=True, help="Say what would be replayed; send nothing.")
@click.option(
    "--force", is_flag=True, help="Also send records today's rules would dead-letter again."
)
def replay(reasons_, topics, since, until, event_ids, ranges, everything, dry_run, force) -> None:
    """Replay the selected DLQ records to the input topics they were read from, with their
    original key, value and headers (dlq.* removed), in their original order per
    partition. Run it after fixing the cause (a processor that knows the schema, a rule
    that changed): each record is checked with today's rules first, and one that would
    only be dead-lettered again is listed and not sent (--force sends it anyway).

    \b
    Replaying is idempotent: a replayed event keeps its event_id, and the processor
    applies an event_id once within the dedupe window (STOCKSIGNAL_DEDUPE_WINDOW_MS,
    7 days), so replaying the same records twice applies them once. Only input topics
    are written, never the processor's outputs.

    Exit 0 when every selected record was replayed, 1 when none matched or some were
    not replayed, 3 when Kafka did not take them.
    """
    settings = tool_settings()
    selection = _selection(settings, reasons_, topics, since, until, event_ids, ranges)
    if not selection.narrowed and not everything:
        raise click.UsageError(
            "say which records: --reason, --topic, --since/--until, --event-id, --offsets, or --all"
        )
    dlq_topic, chosen, _ = _read(settings, selection)
    if not chosen:
        raise Failure(f"no record of {dlq_topic} matches")
    plan = plan_replay(chosen, settings.topic_prefix, force)
    if plan.send:
        click.echo(
            f"{'would replay' if dry_run else 'replaying'} {len(plan.send)} record(s) to their original topics "
            "(original key, value and headers):"
        )
        for entry, topic in plan.send:
            click.echo(
                f"  {entry.ref:<9} -> {topic}  {entry.record_name or '(undecodable)'} "
                f"{entry.event_id or ''}  key={_key(entry.raw.key)}"
            )
    for title, items in (
        (
            "not replayed, would be dead-lettered again (fix the cause first, or --force):",
            plan.failing,
        ),
        ("not replayable:", plan.refused),
    ):
        if items:
            click.echo(title, err=True)
            for entry, why in items:
                click.echo(f"  {entry.ref:<9} {why}", err=True)
    if plan.send and not dry_run:
        _send(settings, plan.send)
        days = settings.dedupe_window_ms / DAY_MS
        click.echo(
            f"replayed {len(plan.send)} record(s); replaying them again within the dedupe window "
            f"({days:g} days) changes nothing"
        )
    left = len(plan.failing) + len(plan.refused)
    if left:
        raise Failure(f"{left} selected record(s) not replayed")


def _send(settings, items: list[tuple[DlqEntry, str]]) -> None:
    targets = require_topics(settings, sorted({topic for _, topic in items}))
    producer = bootstrap.make_producer(settings, **kafka_client_overrides())
    errors: list[str] = []

    def delivered(err, msg) -> None:
        if err is not None:
            errors.append(f"{msg.topic()}: {err.str()}")

    for entry, topic in items:
        key = entry.raw.key
        # The contract's partitioner, as every producer of these topics; a keyless record (it
        # was sent with --force) goes wherever librdkafka puts it.
        partition = partition_for(key, targets[topic]) if key else -1
        producer.produce(
            topic,
            entry.raw.value,
            key,
            partition=partition,
            headers=entry.original_headers,
            on_delivery=delivered,
        )
        producer.poll(0)
    left = producer.flush(FLUSH_TIMEOUT_S)
    if left or errors:
        raise Unavailable(
            f"{left + len(errors)} record(s) not delivered ({'; '.join(errors[:3]) or 'timed out'}); "
            "run the same replay again: repeats are dropped by event_id"
        )


def _line(entry: DlqEntry) -> str:
    event = f"{entry.record_name} {entry.event_id}" if entry.record_name else "(undecodable)"
    error = entry.error if len(entry.error) <= ERROR_SHOWN else entry.error[:ERROR_SHOWN] + "..."
    return (
        f"{entry.ref:<9} {fmt_ts(entry.raw.timestamp)}  {entry.reason:<16}  {entry.source}  "
        f"key={_key(entry.raw.key)}  {event}  {error}"
    )


def _key(key: bytes | None) -> str:
    return "(none)" if key is None else repr(key.decode("utf-8", "replace"))


def _as_json(entry: DlqEntry) -> dict[str, Any]:
    raw = entry.raw
    return {
        "ref": entry.ref,
        "dlq_partition": raw.partition,
        "dlq_offset": raw.offset,
        "timestamp": raw.timestamp,
        "reason": entry.reason,
        "error": entry.error,
        "source": entry.source,
        "key": None if raw.key is None else raw.key.decode("utf-8", "replace"),
        "headers": [
            [k, None if v is None else v.decode("utf-8", "replace")] for k, v in raw.headers
        ],
        "type": entry.record_name,
        "record": entry.record,
        **(
            {
                "decode_error": entry.decode_error,
                "value_hex": None if raw.value is None else raw.value.hex(),
            }
            if entry.record_name is None
            else {}
        ),
    }
