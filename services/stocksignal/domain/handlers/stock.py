"""Inbound, receipts, adjustments, cycle counts and status changes (docs/semantics.md#stock-events)."""

from __future__ import annotations

from ..allocation import settle
from ..changeset import Changeset
from ..commands import AdjustStock, ChangeStockStatus, CountStock, ExpectInbound, ReceiveStock
from ..symbols import Bucket, MovementReason, Note, StockStatus

STATUS_BUCKETS: dict[str, Bucket] = {
    StockStatus.SELLABLE: Bucket.ON_HAND,
    StockStatus.DAMAGED: Bucket.DAMAGED,
    StockStatus.QUALITY_HOLD: Bucket.QUALITY_HOLD,
}


def expect_inbound(cs: Changeset, cmd: ExpectInbound) -> None:
    cs.change(
        cmd.location_id,
        Bucket.INBOUND,
        cmd.qty,
        MovementReason.INBOUND_EXPECTED,
        None,
        cmd.reference,
    )
    cs.expect(cmd.location_id, cmd.reference, cmd.qty)


def receive_stock(cs: Changeset, cmd: ReceiveStock) -> None:
    loc, ref = cmd.location_id, cmd.reference
    outstanding = cs.outstanding(loc, ref) if ref is not None else 0
    cleared = min(cmd.qty, outstanding)
    detail = None
    if ref is not None and not outstanding:
        cs.note(Note.RECEIPT_WITHOUT_INBOUND)
        detail = "nothing outstanding under this reference"
    cs.change(loc, Bucket.ON_HAND, cmd.qty, MovementReason.RECEIPT, detail, ref)
    if cleared:
        cs.change(
            loc,
            Bucket.INBOUND,
            -cleared,
            MovementReason.RECEIPT,
            f"{cleared} of {outstanding} outstanding received",
            ref,
        )
        cs.fulfil_expected(loc, ref, cleared)  # type: ignore[arg-type]


def adjust_stock(cs: Changeset, cmd: AdjustStock) -> None:
    loc = cmd.location_id
    detail = f"adjustment: {cmd.reason}"
    if cmd.qty_delta > 0:
        cs.change(loc, Bucket.ON_HAND, cmd.qty_delta, MovementReason.ADJUSTMENT, detail)
        return
    cs.take(
        loc,
        Bucket.ON_HAND,
        -cmd.qty_delta,
        MovementReason.ADJUSTMENT,
        what="adjustment",
        detail=detail,
    )
    settle(cs, loc, MovementReason.ADJUSTMENT, detail)


def count_stock(cs: Changeset, cmd: CountStock) -> None:
    """A count of the bins; picked units have left them: ``on_hand := counted + picked``."""
    loc = cmd.location_id
    pos = cs.position(loc)
    counted_on_hand = cmd.counted_qty + pos.picked
    delta = counted_on_hand - pos.on_hand
    if not delta:
        return
    detail = f"counted {cmd.counted_qty} in bins + {pos.picked} picked; books said {pos.on_hand}"
    cs.change(loc, Bucket.ON_HAND, delta, MovementReason.CYCLE_COUNT, detail)
    settle(cs, loc, MovementReason.CYCLE_COUNT, "cycle count")


def change_stock_status(cs: Changeset, cmd: ChangeStockStatus) -> None:
    """Units change status; the event's quantity is believed (the source is clamped)."""
    loc = cmd.location_id
    detail = f"{cmd.from_status} -> {cmd.to_status}"
    cs.take(
        loc,
        STATUS_BUCKETS[cmd.from_status],
        cmd.qty,
        MovementReason.STATUS_CHANGE,
        what="status change",
        detail=detail,
    )
    to_bucket = STATUS_BUCKETS.get(cmd.to_status)  # WRITTEN_OFF: the units are gone
    if to_bucket is not None:
        cs.change(loc, to_bucket, cmd.qty, MovementReason.STATUS_CHANGE, detail)
    if cmd.from_status == StockStatus.SELLABLE:
        settle(cs, loc, MovementReason.STATUS_CHANGE, detail)
