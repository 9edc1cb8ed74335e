"""Order lines: place, confirm, cancel, expire (docs/semantics.md#order-lines-reservations-and-holds)."""

from __future__ import annotations

from ..allocation import allocate, close_if_empty, release
from ..changeset import Changeset
from ..channels import DEFAULT_CHANNEL
from ..commands import CancelLine, ConfirmLine, ExpireHolds, PlaceLine
from ..lines import Line
from ..symbols import DecisionReason, MovementReason, Note, ReservationStatus


def place_line(cs: Changeset, cmd: PlaceLine) -> None:
    if cmd.order_id in cs.lines:
        # The line is already open: a repeat under a new event id, not more demand.
        cs.note(Note.DUPLICATE_LINE)
        return
    if cmd.channel_id != DEFAULT_CHANNEL and not cs.book.is_configured(cmd.channel_id):
        cs.note(Note.DEFAULT_CHANNEL_USED)
    channel = cs.book.resolve(cmd.channel_id, cs)
    line = Line(cmd.order_id, cmd.channel_id, cmd.qty, -1, hold_expires_at=cmd.hold_expires_at)
    if cmd.qty > channel.ats(cs.positions):
        cs.decide(line, ReservationStatus.REJECTED, DecisionReason.INSUFFICIENT_STOCK)
        return
    line.seq = cs.take_seq()
    cs.open_line(line)
    allocate(cs, line, channel, cmd.qty, reason=MovementReason.RESERVATION)
    cs.decide(line, ReservationStatus.RESERVED, None)


def confirm_line(cs: Changeset, cmd: ConfirmLine) -> None:
    line = cs.line(cmd.order_id)
    if line is None:
        cs.note(Note.LINE_NOT_OPEN)
        return
    if line.confirmed:
        return
    if line.is_hold:
        cs.note(Note.HOLD_CONFIRMED)
    cs.writable_line(cmd.order_id).confirmed = True


def cancel_line(cs: Changeset, cmd: CancelLine) -> None:
    if cmd.order_id not in cs.lines:
        cs.note(Note.LINE_NOT_OPEN)
        return
    line = cs.writable_line(cmd.order_id)
    qty = line.reserved if cmd.qty is None else min(cmd.qty, line.reserved)
    channel = cs.book.resolve(line.channel_id, cs)
    release(cs, line, qty, channel, reason=MovementReason.RELEASE, detail="order cancelled")
    cs.decide(line, ReservationStatus.RELEASED, cmd.reason)
    close_if_empty(cs, line)


def expire_holds(cs: Changeset, cmd: ExpireHolds) -> None:
    for expires_at, order_id in cs.base.open_holds():
        if expires_at > cmd.now:
            break
        line = cs.writable_line(order_id)
        channel = cs.book.resolve(line.channel_id, cs)
        detail = f"hold expired at {expires_at}"
        release(cs, line, line.reserved, channel, reason=MovementReason.EXPIRY, detail=detail)
        cs.decide(line, ReservationStatus.EXPIRED, DecisionReason.HOLD_EXPIRED)
        cs.close_line(order_id)
