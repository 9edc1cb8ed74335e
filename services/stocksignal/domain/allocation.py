"""Placing, moving and releasing a line's reservation across a channel's locations.

Two lines never claim the same unit because every reservation is made against ``sellable``
(``on_hand - reserved``) of the working copy, one line after another.
"""

from __future__ import annotations

from collections.abc import Collection

from .changeset import Changeset
from .channels import Channel
from .lines import Line
from .symbols import DecisionReason, MovementReason, Note, ReservationStatus


def allocate(
    cs: Changeset,
    line: Line,
    channel: Channel,
    qty: int,
    *,
    reason: MovementReason,
    detail: str | None = None,
    exclude: Collection[str] = (),
) -> int:
    """Reserve up to ``qty`` for ``line`` in channel priority order; returns units reserved.

    Takes ``min(sellable, remaining)`` per location and never looks at safety stock: callers
    that must respect ATS (a new order) check it before calling.
    """
    remaining = qty
    for loc in channel.location_ids:
        if not remaining:
            break
        if loc in exclude:
            continue
        free = cs.sellable(loc)
        if free > 0:
            n = min(free, remaining)
            cs.line_reserve(line, loc, n, reason, detail)
            remaining -= n
    return qty - remaining


def release_order(line: Line, channel: Channel) -> list[str]:
    """The line's locations, lowest priority first (the reverse of how they were filled)."""
    return sorted(line.alloc, key=lambda loc: (-channel.priority(loc), loc))


def release(
    cs: Changeset,
    line: Line,
    qty: int,
    channel: Channel,
    *,
    reason: MovementReason,
    detail: str | None = None,
    exclude: Collection[str] = (),
    unpicked_only: bool = False,
) -> int:
    """Release up to ``qty`` of the line's reservation; returns units released.

    Unpicked units go first (nobody has to put them back on a shelf), lowest-priority
    location first; then picked units, which return to stock (``picked`` and ``reserved``
    both drop).
    """
    remaining = qty
    order = [loc for loc in release_order(line, channel) if loc not in exclude]
    for loc in order:
        n = min(line.unpicked_at(loc), remaining)
        if n:
            cs.line_reserve(line, loc, -n, reason, detail)
            remaining -= n
    if not unpicked_only:
        for loc in order:
            n = min(line.picked.get(loc, 0), remaining)
            if n:
                cs.line_pick(line, loc, -n, reason, detail)
                cs.line_reserve(line, loc, -n, reason, detail)
                remaining -= n
    return qty - remaining


def close_if_empty(cs: Changeset, line: Line) -> None:
    if not line.alloc:
        cs.close_line(line.order_id)


def settle(cs: Changeset, location_id: str, cause: MovementReason, why: str) -> None:
    """Restore ``reserved <= on_hand`` at a location after it lost physical units.

    The shortfall is taken from the location's lines, most recently reserved first (the
    earliest order keeps its units): their unpicked units first, then picked ones. Each line
    that lost units is then re-allocated to the other locations of its channel, oldest line
    first, from sellable stock only (``REALLOCATED``), else reduced (``SHORTED``).
    Re-allocation ignores safety stock: it keeps a promise already made.
    """
    pos = cs.position(location_id)
    deficit = pos.reserved - pos.on_hand
    if deficit <= 0:
        return
    cs.note(Note.SHORTFALL)
    victims = sorted(
        (line for line in cs.lines.values() if location_id in line.alloc),
        key=lambda line: -line.seq,
    )
    lost: dict[str, int] = {}
    detail = f"shortfall at {location_id}: {why}"
    for picked_too in (False, True):
        for victim in victims:
            if not deficit:
                break
            current = cs.lines[victim.order_id]  # pass 1 may have replaced it with a copy
            n = min(
                current.picked.get(location_id, 0)
                if picked_too
                else current.unpicked_at(location_id),
                deficit,
            )
            if not n:
                continue
            line = cs.writable_line(victim.order_id)
            if picked_too:
                cs.line_pick(line, location_id, -n, cause, detail)
            cs.line_reserve(line, location_id, -n, cause, detail)
            lost[line.order_id] = lost.get(line.order_id, 0) + n
            deficit -= n
    for order_id in sorted(lost, key=lambda oid: cs.lines[oid].seq):
        line = cs.writable_line(order_id)
        replace_lost(cs, line, lost[order_id], location_id, DecisionReason.STOCK_SHORTFALL)


def replace_lost(
    cs: Changeset, line: Line, lost: int, location_id: str, reason: DecisionReason
) -> None:
    """Re-allocate units a line lost at ``location_id`` elsewhere in its channel, and decide."""
    channel = cs.book.resolve(line.channel_id, cs)
    got = allocate(
        cs,
        line,
        channel,
        lost,
        reason=MovementReason.REALLOCATION,
        detail=f"re-allocated: {lost} lost at {location_id}",
        exclude=(location_id,),
    )
    status = ReservationStatus.REALLOCATED if got == lost else ReservationStatus.SHORTED
    cs.decide(line, status, reason)
    close_if_empty(cs, line)
