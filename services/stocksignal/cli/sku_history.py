"""``stocksignal sku SKU --at T`` and ``--since T1 [--until T2]``: a SKU's past, from the ledger.

Both ask the processor's inspection API (``GET /skus/{sku}?at=`` and
``/skus/{sku}/movements?since=&until=``), which reads the SKU's partition of the movements
topic (and, for channels, of the command log) as committed. Times shown are local time.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import click

from stocksignal.cli.common import Failure, Unavailable, make_console
from stocksignal.cli.formatting import BUCKETS, fmt_ts, locations_table, movements_table
from stocksignal.processor.rule_text import RULE, channel_rule

WINDOW_LIMIT = 1000


def get_or_fail(
    fetch: Callable[[str, str], tuple[int, Any]], base: str, path: str, sku: str
) -> dict:
    status, answer = fetch(base, path)
    if status == 200:
        return answer
    detail = answer.get("message", answer) if isinstance(answer, dict) else answer
    if status == 404:
        raise Failure(f"the processor knows no SKU {sku!r}: {detail}")
    if status == 422:  # the ledger's retention no longer covers that time
        raise Failure(str(detail))
    if status == 503:
        raise Unavailable(f"GET {path.split('?')[0]}: {detail}")
    raise Failure(f"GET {path.split('?')[0]} answered {status}: {detail}")


def show_at(fetch, base: str, sku: str, at: int, as_json: bool) -> None:
    quoted = urllib.parse.quote(sku, safe="")
    answer = get_or_fail(fetch, base, f"/skus/{quoted}?at={at}", sku)
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    render_at(answer, base)


def show_window(fetch, base: str, sku: str, since: int, until: int | None, as_json: bool) -> None:
    quoted = urllib.parse.quote(sku, safe="")
    path = f"/skus/{quoted}/movements?since={since}&limit={WINDOW_LIMIT}" + (
        f"&until={until}" if until else ""
    )
    answer = get_or_fail(fetch, base, path, sku)
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    render_window(answer)


def render_at(state: Mapping[str, Any], base: str, console: Any = None) -> None:
    from rich import box
    from rich.table import Table

    console = console or make_console()
    positions = state["positions"]
    console.print(
        f"[bold]{state['sku']}[/] as of {fmt_ts(state['at'])} (log time) · command partition "
        f"{state['partition']} · processor {base}"
    )
    console.print()
    channels = Table(
        title="Available to sell then, per channel", title_justify="left", box=box.SIMPLE_HEAD
    )
    for col in (
        "channel",
        "available",
        "why (sellable per location, in priority order, − safety stock)",
        "config",
    ):
        channels.add_column(col, justify="right" if col == "available" else "left")
    configured_at = state.get("channels_configured_at", {})
    for channel_id, ch in state["channels"].items():
        if ch["configured"]:
            config = (
                f"configured at {fmt_ts(configured_at[channel_id])}"
                if channel_id in configured_at
                else "configured"
            )
        else:
            config = (
                "built-in: every location, lexical order"
                if channel_id == "default"
                else "not configured"
            )
        channels.add_row(channel_id, str(ch["available"]), channel_rule(ch, positions), config)
    console.print(channels)
    console.print(f"  [dim]{RULE}[/]")
    console.print()
    console.print(
        locations_table(positions, "Stock per location then")
        if positions
        else "No stock anywhere yet."
    )
    for title, key in (
        ("Reserved by order", "reserved_by_order"),
        ("Picked by order", "picked_by_order"),
        ("Inbound by reference", "inbound_by_reference"),
    ):
        held = state.get(key) or {}
        if held:
            console.print(
                f"{title}: " + "; ".join(f"{loc}: {_pairs(refs)}" for loc, refs in held.items())
            )
    console.print()
    console.print(f"[dim]{_provenance(state)}[/]")


def _provenance(state: Mapping[str, Any]) -> str:
    ledger = state["ledger"]
    kept = (
        "the whole history is kept"
        if ledger["complete"]
        else f"kept since {fmt_ts(ledger['first_record_at'])}"
    )
    channels = (
        "every channel change is in the command log"
        if state.get("channel_history_from") is None
        else f"channel changes before {fmt_ts(state['channel_history_from'])} only as far as the compacted "
        "channels topic keeps them"
    )
    return (
        f"from {state['movements_up_to_at']} movement(s) of {state['sku']} published up to then in "
        f"{ledger['topic']}[{ledger['partition']}] ({kept}); {channels}"
    )


def render_window(answer: Mapping[str, Any], console: Any = None) -> None:
    from rich import box
    from rich.table import Table

    console = console or make_console()
    movements = answer["movements"]
    shown = (
        f"{len(movements)} of {answer['total']}" if answer["truncated"] else str(answer["total"])
    )
    console.print(
        f"[bold]{answer['sku']}[/]: {shown} movement(s) published after {fmt_ts(answer['since'])} "
        f"up to {fmt_ts(answer['until'])} (log time), oldest first"
    )
    if movements:
        table = movements_table(movements, "logged_at")
        console.print(table)
    net = answer["net_change"]
    if not net:
        console.print("Net change: none (no bucket changed in the window)")
        return
    changed = [b for b in BUCKETS if any(b in buckets for buckets in net.values())]
    table = Table(title="Net change per bucket", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("location")
    for b in changed:
        table.add_column(b, justify="right")
    for loc, buckets in net.items():
        table.add_row(loc, *(f"{buckets[b]:+d}" if b in buckets else "" for b in changed))
    console.print(table)


def _pairs(mapping: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in mapping.items()) or "-"
