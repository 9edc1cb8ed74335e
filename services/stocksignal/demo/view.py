"""The demo's terminal view: a live availability table (rich) or plain lines.

:class:`LiveView` keeps a table of every SKU's availability per channel, and its buckets per
location, pinned at the bottom of the terminal while the story scrolls above it.
:class:`PlainView` prints the same story as plain text (no terminal, ``--plain``), with the
table after each step. Both only ever show records read from the output topics.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from stocksignal.cli.formatting import fmt_allocations

SHORT = {
    "on_hand": "on",
    "reserved": "res",
    "picked": "pick",
    "damaged": "dmg",
    "quality_hold": "hold",
    "pending_inspection": "insp",
    "inbound": "inb",
}


def decision_line(d: Mapping[str, Any]) -> str:
    reason = f"  {d['reason']}" if d.get("reason") else ""
    return (
        f"{d['order_id']} {d['sku']} {d['status']} {d['qty_reserved']}/{d['qty_requested']} "
        f"{fmt_allocations(d['allocations'])} on {d['channel_id']}{reason}"
    )


def order_line(d: Mapping[str, Any]) -> str:
    """An OrderDecided: the whole order's outcome, its component lines and a bundle's whole sets."""
    reason = f"  {d['reason']}" if d.get("reason") else ""
    lines = ", ".join(f"{x['sku']} {x['qty_reserved']}/{x['qty_requested']}" for x in d["lines"])
    return f"{d['order_id']} {d['status']} {d['fulfilment']} on {d['channel_id']}: {lines}{reason}"


def movement_line(m: Mapping[str, Any]) -> str:
    detail = f" ({m['reason_detail']})" if m.get("reason_detail") else ""
    ref = f" ref {m['reference']}" if m.get("reference") else ""
    return (
        f"{m['sku']}@{m['location_id']} {m['bucket']} {m['delta']:+d} -> {m['balance_after']}  "
        f"{m['reason']}{detail}{ref}"
    )


def channels_text(a: Mapping[str, Any]) -> str:
    return " · ".join(f"{c['channel_id']} {c['available']}" for c in a["channels"])


def availability_line(a: Mapping[str, Any]) -> str:
    return f"{a['sku']} v{a['version']}: {channels_text(a)}"


def location_text(loc: Mapping[str, Any]) -> str:
    parts = [f"{SHORT[b]} {loc[b]}" for b in SHORT if b in ("on_hand", "reserved") or loc.get(b)]
    return f"{loc['location_id']} " + " ".join(parts)


def channel_ids(latest: Mapping[str, Mapping[str, Any]]) -> list[str]:
    ids = sorted({c["channel_id"] for a in latest.values() for c in a["channels"]})
    return ["default", *[c for c in ids if c != "default"]] if "default" in ids else ids


def table_rows(latest: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the availability table (one row per SKU)."""
    channels = channel_ids(latest)
    header = ["SKU", "version", *channels, "locations (on hand, reserved, ...)"]
    rows = []
    for sku, a in sorted(latest.items()):
        per = {c["channel_id"]: c["available"] for c in a["channels"]}
        rows.append(
            [
                sku,
                str(a["version"]),
                *(str(per.get(c, "-")) for c in channels),
                " | ".join(location_text(loc) for loc in a["locations"]),
            ]
        )
    return header, rows


class PlainView:
    """Plain text, line by line: for logs, CI and terminals that want no cursor tricks."""

    live = False

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout

    def _print(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def title(self, text: str) -> None:
        self._print(f"=== {text} ===")

    def info(self, text: str) -> None:
        self._print(text)

    def warn(self, text: str) -> None:
        self._print(f"WARNING: {text}")

    def error(self, text: str) -> None:
        self._print(f"ERROR: {text}")

    def command(self, text: str) -> None:
        self._print(f"  $ {text}")

    def step(self, number: int, total: int, clock: str, title: str, story: str) -> None:
        self._print()
        self._print(f"--- [{number}/{total}] {clock} · {title} ---")
        self._print(story)

    def sent(self, text: str) -> None:
        self._print(f"  > {text}")

    def output(self, kind: str, text: str) -> None:
        self._print(f"      {kind:<9} {text}")

    def check(self, ok: bool, text: str) -> None:
        self._print(f"  {'ok  ' if ok else 'FAIL'} {text}")

    def availability(self, latest: Mapping[str, Mapping[str, Any]], caption: str = "") -> None:
        if not latest:
            return
        header, rows = table_rows(latest)
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        self._print(f"  availability{f' ({caption})' if caption else ''}:")
        for r in [header, *rows]:
            self._print("    " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        self._print(title)
        for r in [header, *rows]:
            self._print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


class LiveView(PlainView):
    """rich: the story scrolls, the availability table stays at the bottom and updates."""

    live = True

    def __init__(self) -> None:
        from rich.console import Console

        super().__init__()
        self.console = Console(highlight=False)
        self._live: Any = None  # rich's Live while shown
        self._latest: Mapping[str, Mapping[str, Any]] = {}
        self._status = "starting"

    def _renderable(self):
        from rich import box
        from rich.panel import Panel
        from rich.table import Table

        table = Table(box=box.SIMPLE_HEAD, expand=False)
        if self._latest:
            header, rows = table_rows(self._latest)
            for i, col in enumerate(header):
                table.add_column(
                    col,
                    justify="right" if 0 < i < len(header) - 1 else "left",
                    style="bold cyan" if 1 < i < len(header) - 1 else None,
                )
            for r in rows:
                table.add_row(*r)
        else:
            table.add_column("no availability published yet")
        return Panel(
            table,
            title="available to sell, per channel (read from inventory.availability.v1)",
            subtitle=self._status,
            border_style="blue",
        )

    def start(self) -> None:
        from rich.live import Live

        self._live = Live(
            self._renderable(), console=self.console, refresh_per_second=8, transient=False
        )
        self._live.start()

    def stop(self) -> None:
        if self._live is not None:
            self._live.update(self._renderable())
            self._live.stop()
            self._live = None

    def _print(self, text: str = "", style: str | None = None) -> None:
        self.console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    def title(self, text: str) -> None:
        self.console.rule(f"[bold]{text}")

    def warn(self, text: str) -> None:
        self._print(f"WARNING: {text}", "yellow")

    def error(self, text: str) -> None:
        self._print(f"ERROR: {text}", "bold red")

    def command(self, text: str) -> None:
        self._print(f"  $ {text}", "dim")

    def step(self, number: int, total: int, clock: str, title: str, story: str) -> None:
        self._status = f"step {number}/{total} · {clock} · {title}"
        self.console.print()
        self.console.rule(f"[bold]{clock}[/] · {title}  [dim]({number}/{total})", align="left")
        self._print(story, "italic")
        if self._live is not None:
            self._live.update(self._renderable())

    def sent(self, text: str) -> None:
        self._print(f"  > {text}", "bold")

    def output(self, kind: str, text: str) -> None:
        style = {
            "decided": "magenta",
            "ledger": "green",
            "available": "cyan",
            "level": "yellow",
            "order": "bold magenta",
        }.get(kind)
        self._print(f"      {kind:<9} {text}", style)

    def check(self, ok: bool, text: str) -> None:
        self._print(f"  {'✓' if ok else '✗'} {text}", "green" if ok else "bold red")

    def availability(self, latest: Mapping[str, Mapping[str, Any]], caption: str = "") -> None:
        self._latest = dict(latest)
        if self._live is not None:
            self._live.update(self._renderable())
        else:
            self.console.print(self._renderable())

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        from rich import box
        from rich.table import Table

        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        for col in header:
            table.add_column(str(col))
        for r in rows:
            table.add_row(*(str(c) for c in r))
        self.console.print(table)


def make_view(plain: bool) -> PlainView:
    return PlainView() if plain else LiveView()
