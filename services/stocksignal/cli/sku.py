"""``stocksignal sku SKU``: why a SKU's numbers are what they are, from the processor itself.

Asks the processor's inspection API (``GET /skus/{sku}`` and ``/skus/{sku}/movements``, routed
to the worker that owns the SKU) and prints the buckets per location, each channel's
available-to-sell with the rule that computed it, the open reservations, and the last
movements of the ledger with their reasons.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

import click

from stocksignal.cli import sku_history
from stocksignal.cli.common import Failure, Unavailable, make_console, tool_settings
from stocksignal.cli.formatting import fmt_ts, locations_table, movements_table
from stocksignal.cli.when import HELP as TIME_HELP
from stocksignal.cli.when import MOMENT
from stocksignal.processor.rule_text import RULE, channel_rule  # shared with the operator's page

MAX_ID_LENGTH = 128


def check_sku(sku_id: str) -> None:
    """The contract's rule for ids (docs/semantics.md#validation), before asking anyone."""
    if not 1 <= len(sku_id) <= MAX_ID_LENGTH or not sku_id.isprintable():
        raise click.BadParameter(
            f"{sku_id!r}: a SKU is 1 to {MAX_ID_LENGTH} printable characters", param_hint="SKU"
        )


def check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises ValueError for a port that is no number or out of range)
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(
            f"{url!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:6066)",
            param_hint="--url",
        )
    return url


def fetch(base_url: str, path: str, timeout: float = 10.0) -> tuple[int, Any]:
    """(status, parsed JSON) of a GET; :class:`Unavailable` when nothing answers."""
    url = base_url.rstrip("/") + path
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, {"error": "http_error", "detail": body.decode("utf-8", "replace")[:500]}
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise Unavailable(
            f"the processor's inspection API does not answer at {base_url} ({reason}); is "
            "`stocksignal run processor` running? (--url, STOCKSIGNAL_WEB_HOST/STOCKSIGNAL_WEB_PORT)"
        ) from None


@click.command(short_help="Explain a SKU's numbers (asks the processor).")
@click.argument("sku_id", metavar="SKU")
@click.option(
    "--url",
    help="Base URL of a processor worker [default: http://STOCKSIGNAL_WEB_HOST:STOCKSIGNAL_WEB_PORT].",
)
@click.option(
    "--movements",
    "movement_count",
    type=click.IntRange(0, 1000),
    default=15,
    show_default=True,
    help="How many of the last ledger movements to show.",
)
@click.option(
    "--at",
    type=MOMENT,
    help=f"Show the SKU as it was at this log time, from the ledger; {TIME_HELP}.",
)
@click.option(
    "--since",
    type=MOMENT,
    help="List the ledger's movements published after this time (with --until).",
)
@click.option("--until", type=MOMENT, help="With --since: up to this time [default: now].")
@click.option(
    "--json", "as_json", is_flag=True, help="The inspection API's answers as one JSON object."
)
def sku(
    sku_id: str,
    url: str | None,
    movement_count: int,
    at: int | None,
    since: int | None,
    until: int | None,
    as_json: bool,
) -> None:
    """Explain a SKU: stock per location, available per channel with the rule, open
    reservations with holds, and the last ledger movements with their reasons.

    \b
    The past, from the ledger (inventory.movements.v1; channels as configured then):
      --at T              buckets and available per channel as they were at log time T
      --since T1 [--until T2]
                          the movements published in between, with their causes, and the
                          net change per bucket

    \b
    Examples:
      stocksignal sku MUG-BLUE
      stocksignal sku MUG-BLUE --json --movements 50
      stocksignal sku MUG-BLUE --at 2026-01-01T14:00:00+01:00
      stocksignal sku MUG-BLUE --since -2h

    Exit 1 when the processor knows no such SKU (or the ledger's retention no longer covers
    the time), 3 when the processor or Kafka does not answer.
    """
    settings = tool_settings()
    check_sku(sku_id)
    base = check_url(url) if url else f"http://{settings.web_host}:{settings.web_port}"
    if at is not None and (since is not None or until is not None):
        raise click.UsageError(
            "--at is one moment, --since/--until a window: give one or the other"
        )
    if until is not None and since is None:
        raise click.UsageError("--until needs --since")
    if since is not None and until is not None and until < since:
        raise click.UsageError("--until is before --since")
    for name, value in (("--at", at), ("--since", since), ("--until", until)):
        if value is not None and value > time.time() * 1000 + 1000:
            raise click.UsageError(f"{name} is in the future; the ledger only knows the past")
    if at is not None:
        sku_history.show_at(fetch, base, sku_id, at, as_json)
        return
    if since is not None:
        sku_history.show_window(fetch, base, sku_id, since, until, as_json)
        return
    quoted = urllib.parse.quote(sku_id, safe="")
    status, state = fetch(base, f"/skus/{quoted}")
    if status == 404:
        raise Failure(
            f"the processor knows no SKU {sku_id!r}: {state.get('detail', 'no event has touched it')}"
        )
    if status != 200:
        raise Failure(f"GET /skus/{quoted} answered {status}: {state}")
    if state.get("bundle"):  # a bundle holds no stock: its number is its scarcest component's
        if as_json:
            click.echo(json.dumps(state, indent=2))
        else:
            render_bundle(state)
        return
    movements: list[dict] = []
    if movement_count:
        status, answer = fetch(base, f"/skus/{quoted}/movements?limit={movement_count}")
        if status != 200:
            raise Failure(f"GET /skus/{quoted}/movements answered {status}: {answer}")
        movements = answer["movements"]
    if as_json:
        click.echo(json.dumps({**state, "movements": movements}, indent=2))
        return
    render(state, movements, base)


def render_bundle(state: Mapping[str, Any], console: Any = None) -> None:
    """A bundle explained: per channel, its number and the component that limits it
    (docs/semantics.md#bundle-availability)."""
    console = console or make_console()
    parts = " + ".join(f"{c['qty']} x {c['sku']}" for c in state["components"]) or "(removed)"
    console.print(
        f"[bold]{state['sku']}[/]  bundle = {parts} · version {state['version']} · "
        f"command partition {state['partition']}"
    )
    console.print("available = min over components of (component available // units per bundle)")
    for ch in state["channels"]:
        why = ", ".join(
            f"{c['sku']} {c['available']} // {c['qty']} = {c['bundles']}" for c in ch["components"]
        )
        limit = f"  limited by {ch['limited_by']}" if ch["limited_by"] else ""
        console.print(f"  {ch['channel_id']:<14} {ch['available']:>6}{limit}   ({why})")


def render(
    state: Mapping[str, Any], movements: Sequence[Mapping[str, Any]], base: str, console: Any = None
) -> None:
    from rich import box
    from rich.table import Table

    console = console or make_console()
    positions = state["positions"]
    console.print(
        f"[bold]{state['sku']}[/]  version {state['version']} · command partition {state['partition']}"
        f" · processor {base}"
    )
    console.print()

    channels = Table(
        title="Available to sell, per channel", title_justify="left", box=box.SIMPLE_HEAD
    )
    channels.add_column("channel")
    channels.add_column("available", justify="right")
    channels.add_column("why (sellable per location, in priority order, − safety stock)")
    channels.add_column("config")
    for channel_id, ch in state["channels"].items():
        config = (
            "configured"
            if ch["configured"]
            else (
                "built-in: every location, lexical order"
                if channel_id == "default"
                else "not configured"
            )
        )
        channels.add_row(channel_id, str(ch["available"]), channel_rule(ch, positions), config)
    console.print(channels)
    console.print(f"  [dim]{RULE}[/]")
    console.print()

    console.print(locations_table(positions, "Stock per location"))

    reservations = state["open_reservations"]
    if reservations:
        table = Table(
            title="Open reservations (oldest first)", title_justify="left", box=box.SIMPLE_HEAD
        )
        for col in (
            "order",
            "channel",
            "requested",
            "reserved",
            "shipped",
            "allocations",
            "picked",
            "hold",
        ):
            table.add_column(
                col, justify="right" if col in ("requested", "reserved", "shipped") else "left"
            )
        for r in reservations:
            hold = f"hold until {fmt_ts(r['hold_expires_at'])}" if r["hold"] else "firm"
            table.add_row(
                r["order_id"],
                r["channel_id"],
                str(r["qty_requested"]),
                str(r["qty_reserved"]),
                str(r["qty_shipped"]),
                _pairs(r["allocations"]),
                _pairs(r["picked"]),
                hold,
            )
        console.print(table)
    else:
        console.print("No open reservations.\n")

    inbound = {loc: refs for loc, refs in state.get("inbound_by_reference", {}).items() if refs}
    if inbound:
        console.print(
            "Inbound by reference: "
            + "; ".join(f"{loc}: {_pairs(refs)}" for loc, refs in inbound.items())
        )
    transfers = state.get("transfers_in_flight") or {}
    if transfers:
        console.print(
            "Transfers in flight: "
            + "; ".join(
                f"{tid}: {t['qty']} {t['from']} -> {t['to']}" for tid, t in transfers.items()
            )
        )
    if inbound or transfers:
        console.print()

    if movements:
        title = f"Last {len(movements)} movements of the ledger (newest first)"
        table = movements_table(movements, "occurred_at", title)
        console.print(table)


def _pairs(mapping: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in mapping.items()) or "-"
