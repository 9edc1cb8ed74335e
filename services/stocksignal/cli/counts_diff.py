"""What a stock take would change, against the processor's books (``stock import --diff``).

A count says how many good units are in the bins; picked units have left them. So a row
agrees with the books when ``counted_qty == on_hand - picked``, and applying it makes
``on_hand = counted_qty + picked`` (docs/semantics.md#stock-events). The books are the
processor's committed state, asked per SKU from the inspection API (``GET /skus/{sku}``); a
row of a SKU or location the processor does not know yet is a new position (books 0).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from stocksignal.cli.common import Failure
from stocksignal.cli.counts_csv import CountRow

# Concurrent requests to the inspection API: enough to hide the round trips, few enough not to
# take the processor's event loop away from its own work.
FETCH_THREADS = 8

Positions = Mapping[str, Mapping[str, int]]  # location -> bucket -> units


@dataclass(frozen=True)
class Change:
    """One row against the books."""

    row: CountRow
    on_hand: int  # the books now
    picked: int
    known: bool  # the processor holds this position

    @property
    def books(self) -> int:
        """Units the books expect in the bins."""
        return self.on_hand - self.picked

    @property
    def delta(self) -> int:
        return self.row.counted_qty - self.books

    @property
    def on_hand_after(self) -> int:
        return self.row.counted_qty + self.picked


@dataclass(frozen=True)
class DiffTotals:
    rows: int
    changing: int
    agreeing: int
    new_positions: int
    units_up: int
    units_down: int


def compare(rows: Iterable[CountRow], books: Mapping[str, Positions | None]) -> list[Change]:
    """Each row against ``books`` (sku -> its positions, None for a SKU the processor does not know)."""
    out = []
    for row in rows:
        position = (books.get(row.sku) or {}).get(row.location_id)
        if position is None:
            out.append(Change(row, 0, 0, False))
        else:
            out.append(Change(row, position["on_hand"], position["picked"], True))
    return out


def totals(changes: list[Change]) -> DiffTotals:
    return DiffTotals(
        rows=len(changes),
        changing=sum(1 for c in changes if c.delta),
        agreeing=sum(1 for c in changes if not c.delta),
        new_positions=sum(1 for c in changes if not c.known),
        units_up=sum(c.delta for c in changes if c.delta > 0),
        units_down=-sum(c.delta for c in changes if c.delta < 0),
    )


def largest_first(changes: list[Change], limit: int) -> list[Change]:
    """The rows that change stock, the largest corrections first (then in file order)."""
    changing = [c for c in changes if c.delta]
    return sorted(changing, key=lambda c: (-abs(c.delta), c.row.line))[:limit]


def summary_line(t: DiffTotals) -> str:
    return (
        f"{t.rows} row(s): {t.changing} change stock (+{t.units_up} / −{t.units_down} units), "
        f"{t.agreeing} agree with the books, {t.new_positions} new position(s)"
    )


def render(changes: list[Change], limit: int, console: Any) -> None:
    from rich import box
    from rich.table import Table

    shown = largest_first(changes, limit)
    t = totals(changes)
    if shown:
        title = "What the import changes (largest corrections first" + (
            f"; {len(shown)} of {t.changing})" if len(shown) < t.changing else ")"
        )
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        for col in (
            "line",
            "sku",
            "location",
            "counted",
            "books (on_hand − picked)",
            "change",
            "on_hand after",
            "reason",
        ):
            table.add_column(
                col, justify="left" if col in ("sku", "location", "reason") else "right"
            )
        for c in shown:
            books = f"{c.on_hand} − {c.picked} = {c.books}" if c.known else "0 (new position)"
            table.add_row(
                str(c.row.line),
                c.row.sku,
                c.row.location_id,
                str(c.row.counted_qty),
                books,
                f"{c.delta:+d}",
                f"{c.on_hand} -> {c.on_hand_after}",
                c.row.reason or "",
            )
        console.print(table)
    console.print(summary_line(t))


def fetch_books(
    base: str,
    skus: list[str],
    fetch: Callable[[str, str], tuple[int, Any]],
    on_done: Callable[[int], None] = lambda n: None,
) -> dict[str, Positions | None]:
    """sku -> positions from the inspection API (None: the processor knows no such SKU)."""

    def one(sku: str) -> tuple[str, Positions | None]:
        status, answer = fetch(base, f"/skus/{urllib.parse.quote(sku, safe='')}")
        if status == 404:
            return sku, None
        if status != 200:
            raise Failure(f"GET /skus/{sku} answered {status}: {answer}; nothing was produced")
        return sku, answer["positions"]

    books: dict[str, Positions | None] = {}
    with ThreadPoolExecutor(FETCH_THREADS) as pool:
        for sku, positions in pool.map(one, skus):
            books[sku] = positions
            on_done(1)
    return books
