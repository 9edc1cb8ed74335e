"""Returns: receipt into inspection, inspection into stock or damaged (docs/semantics.md#returns)."""

from __future__ import annotations

from ..changeset import Changeset
from ..commands import InspectReturn, ReceiveReturn
from ..symbols import Bucket, MovementReason, Note


def receive_return(cs: Changeset, cmd: ReceiveReturn) -> None:
    detail = None if cmd.order_id is None else f"return of order {cmd.order_id}"
    cs.change(
        cmd.location_id,
        Bucket.PENDING_INSPECTION,
        cmd.qty,
        MovementReason.RETURN_RECEIVED,
        detail,
        cmd.return_id,
    )


def inspect_return(cs: Changeset, cmd: InspectReturn) -> None:
    loc, ref = cmd.location_id, cmd.return_id
    inspected = cmd.qty_restock + cmd.qty_damaged
    waiting = cs.position(loc).pending_inspection
    if inspected > waiting:
        # Units inspected without a prior receipt are taken as received now (docs/semantics.md#returns), booked
        # as a receipt rather than a correction: the return really did arrive.
        cs.note(Note.INSPECTED_WITHOUT_RECEIPT)
        cs.change(
            loc,
            Bucket.PENDING_INSPECTION,
            inspected - waiting,
            MovementReason.RETURN_RECEIVED,
            "inspected without a prior receipt: taken as received now",
            ref,
        )
    if cmd.qty_restock:
        reason = MovementReason.RETURN_RESTOCKED
        cs.change(loc, Bucket.PENDING_INSPECTION, -cmd.qty_restock, reason, None, ref)
        cs.change(loc, Bucket.ON_HAND, cmd.qty_restock, reason, None, ref)
    if cmd.qty_damaged:
        reason = MovementReason.RETURN_DAMAGED
        cs.change(loc, Bucket.PENDING_INSPECTION, -cmd.qty_damaged, reason, None, ref)
        cs.change(loc, Bucket.DAMAGED, cmd.qty_damaged, reason, None, ref)
