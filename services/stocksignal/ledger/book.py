"""The channel configuration a SKU's partition decided with at a log time (pure).

Channel commands are broadcast into every command partition; the processor applies them in
that partition's order and drops a repeated ``event_id`` within its dedupe window. The book at
T is the fold of the channel commands that had reached the partition by T, each event once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from stocksignal.domain import ChannelBook, ConfigureChannel, RemoveChannel, apply_channel_command


@dataclass(frozen=True)
class ChannelChange:
    """A channel command and when it reached the SKU's partition (epoch ms)."""

    logged_at: int
    command: ConfigureChannel | RemoveChannel

    @property
    def event_id(self) -> str:
        return self.command.event_id


def merge(*sources: Iterable[ChannelChange]) -> list[ChannelChange]:
    """Every change once, in time order. The same event read from two places (the command log
    and the channels topic) keeps the first time it was seen at: the sources are listed with
    the command log first, whose time is when the partition had it."""
    seen: dict[str, ChannelChange] = {}
    for source in sources:
        for change in source:
            seen.setdefault(change.event_id, change)
    return sorted(seen.values(), key=lambda c: c.logged_at)


def book_at(changes: Iterable[ChannelChange], at: int) -> ChannelBook:
    """The book after every change logged up to ``at`` (a repeated event id counts once)."""
    book = ChannelBook()
    applied: set[str] = set()
    for change in sorted(changes, key=lambda c: c.logged_at):
        if change.logged_at > at:
            break
        if change.event_id in applied:
            continue
        applied.add(change.event_id)
        book = apply_channel_command(book, change.command)
    return book


def configured_at(changes: Iterable[ChannelChange], at: int) -> dict[str, int]:
    """channel id -> when the configuration in force at ``at`` was logged (removed ones left out)."""
    out: dict[str, int] = {}
    for change in sorted(changes, key=lambda c: c.logged_at):
        if change.logged_at > at:
            break
        if isinstance(change.command, RemoveChannel):
            out.pop(change.command.channel_id, None)
        else:
            out[change.command.channel_id] = change.logged_at
    return dict(sorted(out.items()))
