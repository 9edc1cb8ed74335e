"""Picks and shipments (docs/semantics.md#warehouse-events)."""

from __future__ import annotations

from ..allocation import release, replace_lost, settle
from ..changeset import Changeset
from ..channels import Channel
from ..commands import PickLine, ShipLine
from ..lines import Line
from ..symbols import Bucket, DecisionReason, MovementReason, Note, ReservationStatus


def pick_line(cs: Changeset, cmd: PickLine) -> None:
    loc = cmd.location_id
    line = cs.writable_line(cmd.order_id) if cmd.order_id in cs.lines else None
    if line is None:
        cs.note(Note.LINE_NOT_OPEN)
        if cmd.qty_picked:
            cs.note(Note.UNRESERVED_PICK)
    elif cmd.qty_picked:
        _pick(cs, line, cs.book.resolve(line.channel_id, cs), loc, cmd.qty_picked)
    if cmd.qty_short:
        cs.take(
            loc,
            Bucket.ON_HAND,
            cmd.qty_short,
            MovementReason.SHORT_PICK,
            what="short pick",
            detail=f"short pick: {cmd.qty_short} not found",
            reference=cmd.order_id,
        )
        if line is not None:
            _short(cs, line, loc, cmd.qty_short)
        settle(cs, loc, MovementReason.SHORT_PICK, "short pick")


def _pick(cs: Changeset, line: Line, channel: Channel, loc: str, qty: int) -> None:
    """``picked += qty`` at ``loc``, moving the line's allocation there if it is held elsewhere.

    Only unpicked units move, and only into sellable stock at ``loc``: a pick never takes
    units reserved for another line and never grows the line's total reservation. Picks
    beyond that are not booked as picked (``picked <= reserved`` holds); the shipment that
    follows is then an unreserved shipment.
    """
    need = qty - line.unpicked_at(loc)
    if need > 0:
        movable = sum(line.unpicked_at(other) for other in line.alloc if other != loc)
        move = min(need, cs.sellable(loc), movable)
        if move > 0:
            detail = f"allocation moved to {loc} where it was picked"
            release(
                cs,
                line,
                move,
                channel,
                reason=MovementReason.REALLOCATION,
                detail=detail,
                exclude=(loc,),
                unpicked_only=True,
            )
            cs.line_reserve(line, loc, move, MovementReason.REALLOCATION, detail)
            cs.decide(line, ReservationStatus.REALLOCATED, DecisionReason.PICKED_AT_OTHER_LOCATION)
    booked = min(qty, line.unpicked_at(loc))
    if booked:
        cs.line_pick(line, loc, booked, MovementReason.PICK, None)
    if booked < qty:
        cs.note(Note.UNRESERVED_PICK)


def _short(cs: Changeset, line: Line, loc: str, qty_short: int) -> None:
    """The line's unpicked reservation at ``loc`` drops by the units not found; replace them."""
    lost = min(qty_short, line.unpicked_at(loc))
    if lost:
        detail = f"short pick: {lost} reserved units not found"
        cs.line_reserve(line, loc, -lost, MovementReason.SHORT_PICK, detail)
        replace_lost(cs, line, lost, loc, DecisionReason.SHORT_PICK)


def ship_line(cs: Changeset, cmd: ShipLine) -> None:
    loc, qty = cmd.location_id, cmd.qty
    key = f"ship:{cmd.shipment_id}:{cmd.order_id}"
    line = cs.lines.get(cmd.order_id)
    if key in cs.recent or (line is not None and cmd.shipment_id in line.shipments):
        cs.note(Note.DUPLICATE_SHIPMENT)
        return
    reserved_here = line.alloc.get(loc, 0) if line is not None else 0
    detail = f"shipment for order {cmd.order_id}"
    if qty > reserved_here:
        cs.note(Note.UNRESERVED_SHIPMENT)
        detail += f": unreserved shipment, {qty} shipped, {reserved_here} reserved here"
    cs.take(
        loc,
        Bucket.ON_HAND,
        qty,
        MovementReason.SHIPMENT,
        what="shipment",
        detail=detail,
        reference=cmd.shipment_id,
    )
    if line is None:
        cs.remember(key)
    else:
        _ship_from_line(cs, cs.writable_line(cmd.order_id), cmd, key)
    settle(cs, loc, MovementReason.SHIPMENT, "shipped beyond reservation")


def _ship_from_line(cs: Changeset, line: Line, cmd: ShipLine, key: str) -> None:
    """Reservation and picked units at the location drop by up to ``qty``.

    Units shipped beyond the line's reservation there fulfil the line all the same: the
    line releases as much of its reservation elsewhere (a line never keeps more reserved
    than it still has to ship). A line with nothing left reserved is closed.
    """
    loc, qty = cmd.location_id, cmd.qty
    picked = min(qty, line.picked.get(loc, 0))
    if picked:
        cs.line_pick(line, loc, -picked, MovementReason.SHIPMENT, None)
    reserved = min(qty, line.alloc.get(loc, 0))
    if reserved:
        cs.line_reserve(line, loc, -reserved, MovementReason.SHIPMENT, None)
    beyond = qty - reserved
    released = 0
    if beyond and line.alloc:
        released = release(
            cs,
            line,
            beyond,
            cs.book.resolve(line.channel_id, cs),
            reason=MovementReason.RELEASE,
            detail=f"line shipped from {loc} instead",
        )
    line.shipped += qty
    if beyond > released:
        reason: str | None = DecisionReason.UNRESERVED_SHIPMENT
    elif released:
        reason = DecisionReason.SHIPPED_FROM_OTHER_LOCATION
    else:
        reason = None
    cs.decide(line, ReservationStatus.FULFILLED, reason)
    if line.alloc:
        line.shipments = (*line.shipments, cmd.shipment_id)
    else:
        cs.close_line(line.order_id)
        cs.remember(key)
