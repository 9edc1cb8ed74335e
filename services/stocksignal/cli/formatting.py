"""Readable one-line renderings of the processor's outputs (pure: records in, text out).

Used by ``stocksignal tail`` and by the demo's ledger view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from stocksignal.contract.dlq import DLQ_ERROR, DLQ_OFFSET, DLQ_PARTITION, DLQ_REASON, DLQ_TOPIC

BUCKETS = (
    "on_hand",
    "reserved",
    "picked",
    "damaged",
    "quality_hold",
    "pending_inspection",
    "inbound",
)
# Always shown in a location summary; the other buckets only when not 0.
ALWAYS_SHOWN = ("on_hand", "reserved")


def fmt_ts(ms: int | None, tz: tzinfo | None = None) -> str:
    """Epoch milliseconds as local (or ``tz``) time, to the millisecond."""
    if ms is None or ms < 0:
        return "-" * 23
    dt = datetime.fromtimestamp(ms / 1000, tz=tz) if tz else datetime.fromtimestamp(ms / 1000)
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}"


def fmt_channels(channels: list[Mapping[str, Any]]) -> str:
    return " ".join(f"{c['channel_id']}={c['available']}" for c in channels)


def fmt_location(loc: Mapping[str, Any]) -> str:
    parts = [f"{b}={loc[b]}" for b in BUCKETS if b in ALWAYS_SHOWN or loc.get(b)]
    return f"{loc['location_id']}: " + " ".join(parts) + f" sellable={loc.get('sellable', 0)}"


def fmt_allocations(allocations: list[Mapping[str, Any]]) -> str:
    if not allocations:
        return "{}"
    return "{" + ", ".join(f"{a['location_id']}: {a['qty']}" for a in allocations) + "}"


def format_availability(
    rec: Mapping[str, Any], ts: int | None = None, tz: tzinfo | None = None
) -> str:
    """``<time>  SKU v7  default=4 webshop=4 | WH-BER: on_hand=.. | ... <- OrderPlaced evt``"""
    locations = " | ".join(fmt_location(loc) for loc in rec["locations"])
    return (
        f"{fmt_ts(rec.get('published_at') if ts is None else ts, tz)}  {rec['sku']}  v{rec['version']}  "
        f"{fmt_channels(rec['channels'])}  | {locations}  <- {rec['cause_event_type']} {rec['cause_event_id']}"
    )


def format_level(rec: Mapping[str, Any], tz: tzinfo | None = None) -> str:
    """``<time>  MUG  webshop  OUT_OF_STOCK -> IN_STOCK  available=5  v9  <- evt``"""
    previous = rec.get("previous_level") or "(first seen)"
    return (
        f"{fmt_ts(rec['occurred_at'], tz)}  {rec['sku']}  {rec['channel_id']}  {previous} -> {rec['level']}  "
        f"available={rec['available']}  v{rec['version']}  <- {rec['cause_event_id']}"
    )


def format_order_decision(rec: Mapping[str, Any], tz: tzinfo | None = None) -> str:
    """``<time>  K-1  REJECTED  ALL_OR_NOTHING  MUG 0/1, LAMP 0/1, GIFT 0/1  reason=...  <- evt``"""
    lines = ", ".join(f"{x['sku']} {x['qty_reserved']}/{x['qty_requested']}" for x in rec["lines"])
    reason = f"  reason={rec['reason']}" if rec.get("reason") else ""
    return (
        f"{fmt_ts(rec['decided_at'], tz)}  {rec['order_id']}  {rec['status']}  {rec['fulfilment']}  "
        f"{lines}  channel={rec['channel_id']}{reason}  <- {rec['cause_event_id']}"
    )


def format_decision(rec: Mapping[str, Any], tz: tzinfo | None = None) -> str:
    """``<time>  W-1  MUG  RESERVED  2/2 reserved {WH-BER: 2}  channel=webshop  <- evt``"""
    reason = f"  reason={rec['reason']}" if rec.get("reason") else ""
    return (
        f"{fmt_ts(rec['decided_at'], tz)}  {rec['order_id']}  {rec['sku']}  {rec['status']:<11} "
        f"{rec['qty_reserved']}/{rec['qty_requested']} reserved {fmt_allocations(rec['allocations'])}  "
        f"channel={rec['channel_id']}{reason}  <- {rec['cause_event_id']}"
    )


def format_movement(rec: Mapping[str, Any], tz: tzinfo | None = None) -> str:
    """``<time>  MUG@WH-BER  RESERVED  +2 -> 2  RESERVATION (detail)  ref W-1  <- OrderPlaced evt``"""
    detail = f" ({rec['reason_detail']})" if rec.get("reason_detail") else ""
    ref = f"  ref {rec['reference']}" if rec.get("reference") else ""
    return (
        f"{fmt_ts(rec['occurred_at'], tz)}  {rec['sku']}@{rec['location_id']}  {rec['bucket']:<18} "
        f"{rec['delta']:+d} -> {rec['balance_after']}  {rec['reason']}{detail}{ref}  "
        f"<- {rec['cause_event_type']} {rec['cause_event_id']}"
    )


def format_dlq(
    ts: int,
    key: bytes | None,
    headers: Mapping[str, str],
    record_name: str | None,
    record: Mapping[str, Any] | None,
    value: bytes | None,
    tz: tzinfo | None = None,
) -> str:
    """``<time>  VALIDATION_ERROR  inventory.orders.v1[2]@15  key=O-9  <error>  | OrderPlaced {...}``"""
    where = f"{headers.get(DLQ_TOPIC, '?')}[{headers.get(DLQ_PARTITION, '?')}]@{headers.get(DLQ_OFFSET, '?')}"
    if record_name is not None:
        body = f"{record_name} {_compact(record)}"
    elif value is None:
        body = "(no value)"
    else:
        body = (
            f"undecodable {len(value)} bytes: {value[:24].hex()}{'...' if len(value) > 24 else ''}"
        )
    return (
        f"{fmt_ts(ts, tz)}  {headers.get(DLQ_REASON, '?')}  {where}  key={_text(key)}  "
        f"{headers.get(DLQ_ERROR, '')}  | {body}"
    )


def _text(data: bytes | None) -> str:
    if data is None:
        return "(none)"
    return data.decode("utf-8", "replace")


def _compact(record: Mapping[str, Any] | None) -> str:
    import json

    return json.dumps(record, separators=(",", ":"), default=str, ensure_ascii=False)


def record_skus(record: Mapping[str, Any] | None) -> set[str]:
    """The SKUs an input or output record names (``sku`` or its lines' ``sku``)."""
    if not record:
        return set()
    skus = {record["sku"]} if isinstance(record.get("sku"), str) else set()
    for line in record.get("lines") or ():
        if isinstance(line, Mapping) and isinstance(line.get("sku"), str):
            skus.add(line["sku"])
    return skus


def locations_table(positions: Mapping[str, Mapping[str, int]], title: str) -> Any:
    """A rich table of every location's buckets and its sellable units (``stocksignal sku``)."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("location")
    for bucket in (*BUCKETS, "sellable"):
        table.add_column(bucket, justify="right")
    for loc, buckets in positions.items():
        table.add_row(loc, *(str(buckets.get(b, 0)) for b in (*BUCKETS, "sellable")))
    return table


def movements_table(
    movements: Sequence[Mapping[str, Any]], time_field: str, title: str | None = None
) -> Any:
    """A rich table of ledger movements (``stocksignal sku``, ``sku --since``), each timed by
    ``time_field`` (``occurred_at`` or the log's ``logged_at``)."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    columns = (
        "time",
        "location",
        "bucket",
        "delta",
        "balance",
        "reason",
        "detail / reference",
        "cause",
    )
    for col in columns:
        table.add_column(col, justify="right" if col in ("delta", "balance") else "left")
    for m in movements:
        reference = m.get("reference") and f"ref {m['reference']}"
        detail = " · ".join(x for x in (m.get("reason_detail"), reference) if x)
        table.add_row(
            fmt_ts(m[time_field]),
            m["location_id"],
            m["bucket"],
            f"{m['delta']:+d}",
            str(m["balance_after"]),
            m["reason"],
            detail,
            f"{m['cause_event_type']} {m['cause_event_id']}",
        )
    return table


def utc() -> tzinfo:
    return UTC
