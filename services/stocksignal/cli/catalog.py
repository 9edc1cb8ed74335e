"""``stocksignal catalog set|list|remove``: bundles, multipacks and aliases on inventory.catalog.v1.

The topic is compacted and keyed by ``bundle_sku``: the newest record of a bundle is its
definition (a ``BundleRemoved``, or a tombstone, means it has none). What a bundle is and how
its availability follows its components: docs/semantics.md#bundles-and-shared-stock.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import click

from stocksignal import bootstrap
from stocksignal.cli.channels import ChannelRecord
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
from stocksignal.domain import ValidationError, validate
from stocksignal.settings import Settings

SOURCE = "stocksignal-cli"
RECORDS = ("BundleDefined", "BundleRemoved")


def parse_components(text: str) -> list[dict[str, Any]]:
    """``MUG:1,LAMP:2`` (a component without ``:qty`` is one unit) -> the record's components."""
    components = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        sku, _, qty = part.rpartition(":") if ":" in part else (part, "", "1")
        try:
            components.append({"sku": sku.strip(), "qty": int(qty)})
        except ValueError:
            raise click.BadParameter(
                f"{part!r}: the quantity after ':' must be a whole number, e.g. MUG:2",
                param_hint="--components",
            ) from None
    if not components:
        raise click.BadParameter(
            "names no component; give at least one, e.g. MUG:1,LAMP:1", param_hint="--components"
        )
    return components


def fold_catalog(records: list[ChannelRecord]) -> dict[str, Mapping[str, Any]]:
    """bundle_sku -> its newest BundleDefined, for bundles not removed since (log order per key)."""
    current: dict[str, Mapping[str, Any]] = {}
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        if r.record_name == "BundleDefined" and r.record is not None:
            current[r.record["bundle_sku"]] = r.record
        elif r.record_name == "BundleRemoved" and r.record is not None:
            current.pop(r.record["bundle_sku"], None)
        elif r.record is None and r.key is not None:
            current.pop(r.key, None)
    return dict(sorted(current.items()))


def read_catalog(settings: Settings) -> dict[str, Mapping[str, Any]]:
    """The defined bundles: the catalogue topic read to its end and folded. A definition the
    processor refused (a stocked SKU, a nested bundle) is listed too: only the processor's
    DLQ knows it was refused."""
    from stocksignal.cli.kafka_read import read_all

    codec = bootstrap.make_codec(settings)
    records = []
    for raw in read_all(settings, settings.topic_prefix + catalogue.CATALOG):
        key = None if raw.key is None else raw.key.decode("utf-8", "replace")
        name, record = None, None
        if raw.value is not None:
            try:
                name, record = codec.decode(raw.value)
                validate(name, record)
            except Exception:  # undecodable or malformed: the processor dead-letters it
                continue
            if name not in RECORDS:
                continue
        records.append(ChannelRecord(raw.partition, raw.offset, key, name, record))
    return fold_catalog(records)


def produce_catalog_event(
    settings: Settings, record_name: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate, encode, produce and wait for the broker's acknowledgement."""
    record = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": int(time.time() * 1000),
        "source": SOURCE,
        **fields,
    }
    try:
        validate(record_name, record)
    except ValidationError as exc:
        raise click.UsageError("; ".join(exc.problems)) from exc
    topic = settings.topic_prefix + catalogue.CATALOG
    require_topics(settings, [topic])
    value = bootstrap.make_codec(settings).encode(record_name, record)
    producer = bootstrap.make_producer(settings, **kafka_client_overrides())
    errors: list[str] = []
    producer.produce(
        topic,
        value,
        record["bundle_sku"].encode(),
        on_delivery=lambda err, _m: None if err is None else errors.append(err.str()),
    )
    if producer.flush(30):
        raise Unavailable(f"the {record_name} event was not delivered within 30 s: is Kafka up?")
    if errors:
        raise Failure(f"the {record_name} event was not delivered: {errors[0]}")
    return record


def describe(components: Sequence[Mapping[str, Any]]) -> str:
    return " + ".join(f"{c['qty']} x {c['sku']}" for c in components)


@click.group(short_help="Define bundles, multipacks and aliases: set, list, remove.")
def catalog() -> None:
    """Define bundles (inventory.catalog.v1): a SKU sold as a fixed set of other SKUs' units.

    A bundle holds no stock: its available-to-sell per channel is its scarcest component's
    (available // units per bundle), and an order for it reserves every component or none.
    One component of 1 unit is an alias (two listings, one stock); one of 6 units a six-pack.
    See docs/semantics.md, "Bundles and shared stock".
    """


@catalog.command("set", short_help="Define a bundle (BundleDefined).")
@click.argument("bundle_sku")
@click.option(
    "--components",
    required=True,
    help="Comma-separated SKU:units per bundle, e.g. MUG-BLUE:1,LAMP-GREEN:1 (1..20 distinct SKUs, 1..1000 units).",
)
def set_bundle(bundle_sku: str, components: str) -> None:
    """Define (or redefine) BUNDLE_SKU: produces a BundleDefined event.

    The processor refuses it (to the DLQ) when BUNDLE_SKU holds stock, or when a component is
    itself a bundle. Orders placed before a redefinition keep their components.

    \b
    Example:
      stocksignal catalog set GIFT-SET --components MUG-BLUE:1,LAMP-GREEN:1
      stocksignal catalog set MUG-BLUE-6PACK --components MUG-BLUE:6
    """
    settings = tool_settings()
    parsed = parse_components(components)
    record = produce_catalog_event(
        settings, "BundleDefined", {"bundle_sku": bundle_sku, "components": parsed}
    )
    click.echo(f"defined bundle {bundle_sku} = {describe(parsed)}  [event {record['event_id']}]")


@catalog.command("remove", short_help="Remove a bundle (BundleRemoved).")
@click.argument("bundle_sku")
def remove_bundle(bundle_sku: str) -> None:
    """Remove BUNDLE_SKU: produces a BundleRemoved event; its availability drops to 0.

    \b
    Example:
      stocksignal catalog remove GIFT-SET
    """
    settings = tool_settings()
    known = bundle_sku in read_catalog(settings)
    record = produce_catalog_event(settings, "BundleRemoved", {"bundle_sku": bundle_sku})
    note = "" if known else " (it was not defined)"
    click.echo(f"removed bundle {bundle_sku}{note}  [event {record['event_id']}]")


@catalog.command("list", short_help="List the defined bundles.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object: bundle_sku -> its BundleDefined record.",
)
def list_bundles(as_json: bool) -> None:
    """List the defined bundles: the newest definition of each, removed ones omitted.

    \b
    Example:
      stocksignal catalog list
    """
    settings = tool_settings()
    current = read_catalog(settings)
    if as_json:
        click.echo(json.dumps(current, indent=2))
        return
    from rich import box
    from rich.table import Table

    console = make_console()
    if not current:
        console.print("No bundles are defined.")
        return
    table = Table(box=box.SIMPLE_HEAD)
    for col in ("bundle", "components (units per bundle)", "defined at", "event"):
        table.add_column(col)
    for sku, r in current.items():
        table.add_row(sku, describe(r["components"]), fmt_ts(r["occurred_at"]), r["event_id"])
    console.print(table)
