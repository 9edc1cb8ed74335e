"""Keys and windows for dropping repeated input events (docs/semantics.md#ids-replay-and-repeats).

Markers live outside the per-SKU state and expire after a window measured in *log* time, so
their number is bounded by the window, not by how popular a SKU is.
"""

from __future__ import annotations

from .commands import CatalogCommand, ChannelCommand, Command, SkuCommand

DEFAULT_DEDUPE_WINDOW_MS = 7 * 24 * 3600 * 1000


def dedupe_key(cmd: Command) -> str:
    """``sku NUL event_id`` for SKU commands; ``NUL event_id`` for partition-wide channel and
    catalogue commands.

    Ids are printable (validation), so NUL can separate them and an empty SKU part can never
    collide with a real SKU.
    """
    if isinstance(cmd, SkuCommand):
        return f"{cmd.sku}\x00{cmd.event_id}"
    if isinstance(cmd, (ChannelCommand, CatalogCommand)):
        return f"\x00{cmd.event_id}"
    raise TypeError(f"no dedupe key for {type(cmd).__name__}")


def within_window(first_logged_at: int, logged_at: int, window_ms: int) -> bool:
    """Whether an event first applied at ``first_logged_at`` still counts as a repeat.

    A repeat logged *earlier* than the first copy (producer clocks) is within the window too.
    """
    return logged_at - first_logged_at < window_ms
