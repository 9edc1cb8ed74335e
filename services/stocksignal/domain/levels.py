"""Stock-level signals (contract 10.2, docs/semantics.md#stock-level-signals).

A level is a function of one channel's published availability and its low-stock threshold.
Changes are computed against the levels of the *last published* snapshot, kept in the SKU's
state (``SkuState.levels``), never against the previous command's: a processor publishes only
the newest snapshot of a SKU per flush (coalescing), and a level record must describe a change
a reader of the availability topic can see, with that snapshot's version. The model, which
publishes every snapshot, calls the same function for each of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .channels import ChannelBook
from .outputs import StockLevelChanged
from .state import SkuState
from .symbols import StockLevel


def level_of(available: int, low_stock_threshold: int) -> StockLevel:
    if available <= 0:
        return StockLevel.OUT_OF_STOCK
    if available <= low_stock_threshold:
        return StockLevel.LOW_STOCK
    return StockLevel.IN_STOCK


def level_changes(
    state: SkuState, book: ChannelBook, snapshot: Mapping[str, Any]
) -> tuple[dict[str, str], list[StockLevelChanged]]:
    """The levels after publishing ``snapshot`` (an AvailabilityChanged record of ``state``)
    and one StockLevelChanged per channel whose level differs from the published one.

    Channels missing from the snapshot (removed) are forgotten: configured again later, such a
    channel is seen for the first time again (``previous_level`` null). Records come in the
    snapshot's channel order, so a replay gives the same records in the same order.
    """
    published = state.levels
    levels: dict[str, str] = {}
    changes: list[StockLevelChanged] = []
    for ch in snapshot["channels"]:
        channel_id, available = ch["channel_id"], ch["available"]
        level = level_of(available, book.resolve(channel_id, state).low_stock_threshold)
        levels[channel_id] = level
        previous = published.get(channel_id)
        if previous != level:
            changes.append(
                StockLevelChanged(
                    snapshot["sku"],
                    channel_id,
                    level,
                    previous,
                    available,
                    snapshot["version"],
                    snapshot["cause_event_id"],
                    snapshot["occurred_at"],
                )
            )
    return levels, changes


def publish_levels(
    state: SkuState, book: ChannelBook, snapshot: Mapping[str, Any]
) -> tuple[SkuState, list[StockLevelChanged]]:
    """``state`` after ``snapshot`` is published (the same object when no level changed), and
    the level records to publish with it."""
    levels, changes = level_changes(state, book, snapshot)
    if levels == state.levels:
        return state, changes
    return replace(state, levels=levels), changes
