"""Transfers between two locations of the same SKU (docs/semantics.md#stock-events)."""

from __future__ import annotations

from ..allocation import settle
from ..changeset import Changeset
from ..commands import DispatchTransfer, ReceiveTransfer
from ..state import Transfer
from ..symbols import Bucket, MovementReason, Note


def _received_key(transfer_id: str) -> str:
    return f"xfer:{transfer_id}"


def _early_key(transfer_id: str) -> str:
    return f"xfer-early:{transfer_id}"


def dispatch_transfer(cs: Changeset, cmd: DispatchTransfer) -> None:
    tid = cmd.transfer_id
    if tid in cs.transfers or _received_key(tid) in cs.recent:
        cs.note(Note.DUPLICATE_TRANSFER)
        return
    arrived = _early_key(tid) in cs.recent  # the receipt overtook the dispatch
    cs.take(
        cmd.from_location_id,
        Bucket.ON_HAND,
        cmd.qty,
        MovementReason.TRANSFER_OUT,
        what="transfer dispatch",
        detail=f"to {cmd.to_location_id}",
        reference=tid,
    )
    if arrived:
        cs.note(Note.TRANSFER_RECEIVED_BEFORE_DISPATCH)
        cs.forget(_early_key(tid))
        cs.remember(_received_key(tid))
    else:
        cs.change(
            cmd.to_location_id,
            Bucket.INBOUND,
            cmd.qty,
            MovementReason.TRANSFER_OUT,
            f"from {cmd.from_location_id}",
            tid,
        )
        cs.set_transfer(tid, Transfer(cmd.from_location_id, cmd.to_location_id, cmd.qty))
    settle(cs, cmd.from_location_id, MovementReason.TRANSFER_OUT, "transfer dispatch")


def receive_transfer(cs: Changeset, cmd: ReceiveTransfer) -> None:
    tid, to, received = cmd.transfer_id, cmd.to_location_id, cmd.qty_received
    if _received_key(tid) in cs.recent or _early_key(tid) in cs.recent:
        cs.note(Note.DUPLICATE_TRANSFER)
        return
    transfer = cs.transfers.get(tid)
    if transfer is None:
        cs.note(Note.TRANSFER_NOT_DISPATCHED)
        cs.change(to, Bucket.ON_HAND, received, MovementReason.TRANSFER_IN, "not dispatched", tid)
        cs.remember(_early_key(tid))
        return
    if transfer.to_location_id != to:
        cs.note(Note.TRANSFER_RECEIVED_ELSEWHERE)
    _clear_inbound(cs, transfer, tid, received)
    matched = min(received, transfer.qty)
    cs.change(to, Bucket.ON_HAND, matched, MovementReason.TRANSFER_IN, None, tid)
    if received > transfer.qty:
        cs.change(
            to,
            Bucket.ON_HAND,
            received - transfer.qty,
            MovementReason.TRANSFER_VARIANCE,
            f"received {received}, dispatched {transfer.qty}",
            tid,
        )
    cs.set_transfer(tid, None)
    cs.remember(_received_key(tid))


def _clear_inbound(cs: Changeset, transfer: Transfer, tid: str, received: int) -> None:
    """The dispatched quantity leaves inbound; units that never arrived are the variance."""
    loc, qty = transfer.to_location_id, transfer.qty
    matched = min(received, qty)
    cs.take(
        loc,
        Bucket.INBOUND,
        matched,
        MovementReason.TRANSFER_IN,
        what="transfer receipt",
        reference=tid,
    )
    if qty > received:
        cs.take(
            loc,
            Bucket.INBOUND,
            qty - received,
            MovementReason.TRANSFER_VARIANCE,
            what="transfer receipt",
            detail=f"dispatched {qty}, received {received}",
            reference=tid,
        )
