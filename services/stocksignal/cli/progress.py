"""Progress bars for long commands: on stderr, only when it is a terminal (or forced)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from stocksignal.cli.common import stderr_is_terminal

# A file with at least this many rows shows its progress (when stderr is a terminal).
PROGRESS_MIN_ROWS = 100_000


def wanted(forced: bool | None, total: int) -> bool:
    """``--progress`` / ``--no-progress`` decide; else a terminal and a big enough job."""
    if forced is not None:
        return forced
    return total >= PROGRESS_MIN_ROWS and stderr_is_terminal()


def columns(label: str) -> list:
    """What the bar shows: the count done of the total, the rate, and the time left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        # Computed when the bar is drawn (a few times a second), never per row: rich's speed
        # is a sum over its recent samples.
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} rows/s" if speed else "", style="progress.data.speed")

    return [
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]


@contextlib.contextmanager
def bar(label: str, total: int, show: bool, console=None) -> Iterator[Callable[[int], None]]:
    """``advance(n)`` for a job of ``total`` rows; a no-op when not ``show``."""
    if not show:
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(*columns(label), console=console or Console(stderr=True)) as progress:
        task = progress.add_task(label, total=total)
        pending = 0

        def advance(n: int = 1) -> None:
            nonlocal pending  # rich takes a lock per advance: hand it rows in hundreds
            pending += n
            if pending >= 500:
                progress.advance(task, pending)
                pending = 0

        yield advance
        progress.advance(task, pending)
