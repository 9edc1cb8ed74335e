"""``apply`` and ``reconcile``: the only entry points that change a SKU's state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from . import commands as c
from .changeset import Changeset
from .channels import Channel, ChannelBook
from .handlers import orders, returns, stock, transfers, warehouse
from .outputs import Outcome
from .state import SkuState

HANDLERS: dict[type[c.SkuCommand], Callable[[Changeset, Any], None]] = {
    c.PlaceLine: orders.place_line,
    c.ConfirmLine: orders.confirm_line,
    c.CancelLine: orders.cancel_line,
    c.PlaceOrderLine: orders.place_line,
    c.ReleaseOrderLine: orders.cancel_line,
    c.ExpireHolds: orders.expire_holds,
    c.PickLine: warehouse.pick_line,
    c.ShipLine: warehouse.ship_line,
    c.ReceiveReturn: returns.receive_return,
    c.InspectReturn: returns.inspect_return,
    c.ExpectInbound: stock.expect_inbound,
    c.ReceiveStock: stock.receive_stock,
    c.AdjustStock: stock.adjust_stock,
    c.CountStock: stock.count_stock,
    c.ChangeStockStatus: stock.change_stock_status,
    c.DispatchTransfer: transfers.dispatch_transfer,
    c.ReceiveTransfer: transfers.receive_transfer,
}


def apply(state: SkuState | None, command: c.SkuCommand, book: ChannelBook) -> Outcome:
    """Apply one SKU command. Pure: same state, command and book give the same outcome.

    ``availability`` is set (with ``version = state.version + 1``) iff a bucket changed; the
    input state is never mutated.
    """
    if state is None:
        state = SkuState.empty(command.sku)
    elif state.sku != command.sku:
        raise ValueError(f"command for sku {command.sku!r} applied to state of {state.sku!r}")
    handler = HANDLERS.get(type(command))
    if handler is None:
        raise TypeError(f"{type(command).__name__} is not a SKU command")
    cs = Changeset(state, command, book)
    handler(cs, command)
    return cs.finish()


def reconcile(
    state: SkuState,
    old_book: ChannelBook,
    new_book: ChannelBook,
    cause: c.ChannelCommand,
) -> Outcome:
    """After a channel change: a new snapshot iff this SKU's per-channel values changed.

    The comparison includes which channels are listed, so adding a channel with ATS 0 or
    removing one is published too. Positions and lines are untouched: open lines keep their
    allocations and follow the new configuration only when next re-allocated.
    """
    if old_book.ats(state) == new_book.ats(state):
        return Outcome(state, [], [], None, ())
    new_state = replace(state, version=state.version + 1)
    return Outcome(new_state, [], [], None, (), source=(new_book, cause))


def apply_channel_command(book: ChannelBook, command: c.ChannelCommand) -> ChannelBook:
    """The partition's channel book after a channel command."""
    if isinstance(command, c.ConfigureChannel):
        return book.with_channel(
            Channel(
                command.channel_id,
                tuple(command.location_ids),
                command.safety_stock,
                command.buffer_percent,
                command.max_available,
                command.low_stock_threshold,
            )
        )
    return book.without(command.channel_id)
