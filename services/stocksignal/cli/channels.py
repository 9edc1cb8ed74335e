"""``stocksignal channels set|list|remove``: the channel configuration on inventory.channels.v1.

The topic is compacted and keyed by ``channel_id``: the newest record of a channel is its
configuration (a ``ChannelRemoved``, or a tombstone, means it has none).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import click

from stocksignal import bootstrap
from stocksignal.cli.common import (
    Failure,
    Unavailable,
    kafka_client_overrides,
    make_console,
    require_topics,
    tool_settings,
)
from stocksignal.cli.formatting import fmt_ts
from stocksignal.contract import topics as catalogue
from stocksignal.domain import DEFAULT_CHANNEL, ValidationError, validate
from stocksignal.settings import Settings

SOURCE = "stocksignal-cli"


@dataclass(frozen=True)
class ChannelRecord:
    """One record of the channels topic, in log order."""

    partition: int
    offset: int
    key: str | None
    record_name: str | None  # None: a tombstone
    record: Mapping[str, Any] | None  # None: a tombstone


def fold_channels(records: Iterable[ChannelRecord]) -> dict[str, Mapping[str, Any]]:
    """channel_id -> its newest ChannelConfigured, for channels not removed since.

    Records of one channel share a key, hence a partition: their (partition, offset) order is
    the order they were written in. A tombstone (``record is None``) removes its key's channel.
    """
    current: dict[str, Mapping[str, Any]] = {}
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        if r.record_name == "ChannelConfigured":
            current[r.record["channel_id"]] = r.record
        elif r.record_name == "ChannelRemoved":
            current.pop(r.record["channel_id"], None)
        elif r.record is None and r.key is not None:
            current.pop(r.key, None)
    return dict(sorted(current.items()))


def channel_event(record_name: str, **fields: Any) -> dict[str, Any]:
    """A channel event with its common fields, validated by the domain's rules."""
    record = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": int(time.time() * 1000),
        "source": SOURCE,
        **fields,
    }
    validate(record_name, record)
    return record


def produce_channel_event(settings: Settings, record_name: str, record: Mapping[str, Any]) -> None:
    """Encode, produce and wait for the broker's acknowledgement."""
    topic = settings.topic_prefix + catalogue.CHANNELS
    require_topics(settings, [topic])
    value = bootstrap.make_codec(settings).encode(record_name, record)
    producer = bootstrap.make_producer(settings, **kafka_client_overrides())
    errors: list[str] = []
    producer.produce(
        topic,
        value,
        record["channel_id"].encode(),
        on_delivery=lambda err, _m: err is not None and errors.append(err.str()),
    )
    if producer.flush(30):
        raise Unavailable(f"the {record_name} event was not delivered within 30 s: is Kafka up?")
    if errors:
        raise Failure(f"the {record_name} event was not delivered: {errors[0]}")


def read_channels(settings: Settings) -> dict[str, Mapping[str, Any]]:
    """The configured channels: the channels topic read to its end and folded."""
    from stocksignal.cli.kafka_read import read_all

    codec = bootstrap.make_codec(settings)
    records = []
    for raw in read_all(settings, settings.topic_prefix + catalogue.CHANNELS):
        key = None if raw.key is None else raw.key.decode("utf-8", "replace")
        name, record = None, None
        if raw.value is not None:
            try:
                name, record = codec.decode(raw.value)
            except Exception:  # an undecodable record configures nothing (the processor DLQs it)
                continue
            if name not in ("ChannelConfigured", "ChannelRemoved"):
                continue
            try:
                validate(name, record)
            except ValidationError:  # the processor sends it to the DLQ: it configures nothing
                continue
        records.append(ChannelRecord(raw.partition, raw.offset, key, name, record))
    return fold_channels(records)


@click.group(short_help="Configure sales channels: set, list, remove.")
def channels() -> None:
    """Configure sales channels (inventory.channels.v1): which locations sell, safety stock.

    The processor applies a change to every SKU at once and publishes the new availability.
    A built-in channel "default" sells from every location of a SKU with no safety stock;
    configure a channel named "default" to override it.
    """


@channels.command("set", short_help="Configure a channel (ChannelConfigured).")
@click.argument("channel_id")
@click.option(
    "--locations",
    required=True,
    help="Comma-separated location ids, in allocation priority order (first is used first).",
)
@click.option(
    "--safety-stock",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Units held back from this channel's available-to-sell, per SKU.",
)
@click.option(
    "--buffer-percent",
    type=click.IntRange(0, 100),
    default=0,
    show_default=True,
    help="Share of what is left after safety stock held back from this channel (rounded down).",
)
@click.option(
    "--max-available",
    type=click.IntRange(min=0),
    default=None,
    help="Cap on what this channel is offered per SKU (default: no cap).",
)
@click.option(
    "--low-stock-threshold",
    type=click.IntRange(0, 1_000_000),
    default=0,
    show_default=True,
    help="The channel's level is LOW_STOCK while 0 < available <= this (0: never low).",
)
def set_channel(
    channel_id: str,
    locations: str,
    safety_stock: int,
    buffer_percent: int,
    max_available: int | None,
    low_stock_threshold: int,
) -> None:
    """Configure (or reconfigure) CHANNEL_ID: produces a ChannelConfigured event.

    Available to sell is max(0, sellable over the locations - safety stock), less the buffer
    (rounded down), at most the cap. Reservations of the channel are decided against it.

    \b
    Example:
      stocksignal channels set webshop --locations WH-BER,WH-HAM
      stocksignal channels set marketplace --locations WH-HAM,WH-BER --safety-stock 2
      stocksignal channels set marketplace --locations WH-HAM --buffer-percent 20 --max-available 50 --low-stock-threshold 3
    """
    settings = tool_settings()
    location_ids = [loc.strip() for loc in locations.split(",") if loc.strip()]
    if not location_ids:
        raise click.BadParameter(
            "names no location; give at least one, e.g. WH-BER,WH-HAM", param_hint="--locations"
        )
    try:
        record = channel_event(
            "ChannelConfigured",
            channel_id=channel_id,
            location_ids=location_ids,
            safety_stock=safety_stock,
            buffer_percent=buffer_percent,
            max_available=max_available,
            low_stock_threshold=low_stock_threshold,
        )
    except ValidationError as exc:
        raise click.UsageError("; ".join(exc.problems)) from exc
    produce_channel_event(settings, "ChannelConfigured", record)
    click.echo(
        f"configured channel {channel_id}: locations {', '.join(location_ids)} (in this order), "
        f"safety stock {safety_stock}{describe_rules(record)}  [event {record['event_id']}]"
    )


def describe_rules(record: dict) -> str:
    """The v1.1 rules of a ChannelConfigured that differ from the defaults, for one line."""
    parts = []
    if record.get("buffer_percent"):
        parts.append(f"buffer {record['buffer_percent']}%")
    if record.get("max_available") is not None:
        parts.append(f"cap {record['max_available']}")
    if record.get("low_stock_threshold"):
        parts.append(f"low stock at <= {record['low_stock_threshold']}")
    return "".join(f", {p}" for p in parts)


@channels.command("remove", short_help="Remove a channel (ChannelRemoved).")
@click.argument("channel_id")
def remove_channel(channel_id: str) -> None:
    """Remove CHANNEL_ID: produces a ChannelRemoved event.

    Its availability disappears from every SKU's snapshot (marketplace sync pushes 0).
    Removing a channel that is not configured is harmless, and said so.

    \b
    Example:
      stocksignal channels remove marketplace
    """
    settings = tool_settings()
    try:
        record = channel_event("ChannelRemoved", channel_id=channel_id)
    except ValidationError as exc:
        raise click.UsageError("; ".join(exc.problems)) from exc
    known = channel_id in read_channels(settings)
    produce_channel_event(settings, "ChannelRemoved", record)
    note = "" if known else " (it was not configured)"
    click.echo(f"removed channel {channel_id}{note}  [event {record['event_id']}]")


@channels.command("list", short_help="List the configured channels.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object: channel_id -> its ChannelConfigured record.",
)
def list_channels(as_json: bool) -> None:
    """List the configured channels: the newest configuration of each, removed ones omitted.

    \b
    Example:
      stocksignal channels list
    """
    settings = tool_settings()
    current = read_channels(settings)
    if as_json:
        click.echo(json.dumps(current, indent=2))
        return
    from rich import box
    from rich.table import Table

    console = make_console()
    if not current:
        console.print("No channels are configured.")
    else:
        table = Table(box=box.SIMPLE_HEAD)
        for col in (
            "channel",
            "locations (priority order)",
            "safety stock",
            "rules",
            "configured at",
            "event",
        ):
            table.add_column(col, justify="right" if col == "safety stock" else "left")
        for channel_id, r in current.items():
            table.add_row(
                channel_id,
                ", ".join(r["location_ids"]),
                str(r.get("safety_stock", 0)),
                describe_rules(r).removeprefix(", ") or "-",
                fmt_ts(r["occurred_at"]),
                r["event_id"],
            )
        console.print(table)
    if DEFAULT_CHANNEL not in current:
        console.print(
            f"[dim]{DEFAULT_CHANNEL} (built-in): every location of the SKU, lexical order, safety stock 0[/]"
        )
