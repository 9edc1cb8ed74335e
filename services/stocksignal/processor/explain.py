"""``GET /skus/{sku}``'s answer: everything that makes up a SKU's availability, as JSON.

Apart from the server (web.py) because the as-of answer (inspection_history.py) has the
same shape: both build on this module, which imports neither.
"""

from __future__ import annotations

from typing import Any

from stocksignal.domain import BUCKET_FIELDS, ChannelBook, SkuState
from stocksignal.processor.envelope import Envelope


def positions_of(state: SkuState) -> dict[str, dict[str, int]]:
    return {
        loc: {name: getattr(p, name) for name in BUCKET_FIELDS.values()}
        for loc, p in state.positions.items()
    }


def _channel_view(book: ChannelBook, state: SkuState, channel_id: str, ats: int) -> dict[str, Any]:
    """One channel's number and the rules that made it (docs/semantics.md#channel-rules)."""
    channel = book.resolve(channel_id, state)
    return {
        "available": ats,
        "locations": list(channel.location_ids),
        "safety_stock": channel.safety_stock,
        "buffer_percent": channel.buffer_percent,
        "max_available": channel.max_available,
        "low_stock_threshold": channel.low_stock_threshold,
        # The level of the last published snapshot (None before the first one): what the
        # stock-levels feed last said, not a level of this number if it is not published yet.
        "level": state.levels.get(channel_id),
        "configured": book.is_configured(channel_id),
    }


def explain(state: SkuState, book: ChannelBook, env: Envelope, partition: int) -> dict[str, Any]:
    """Everything that makes up the SKU's availability, as JSON."""
    positions = {}
    for location_id, p in sorted(state.positions.items()):
        buckets = {name: getattr(p, name) for name in BUCKET_FIELDS.values()}
        buckets["sellable"] = p.sellable
        positions[location_id] = buckets
    reservations = [
        {
            "order_id": order_id,
            "channel_id": line.channel_id,
            "qty_requested": line.qty,
            "qty_reserved": line.reserved,
            "qty_shipped": line.shipped,
            "allocations": dict(sorted(line.alloc.items())),
            "picked": dict(sorted(line.picked.items())),
            "hold_expires_at": line.hold_expires_at,
            "hold": line.is_hold,
            "reservation_seq": line.seq,
        }
        for order_id, line in sorted(state.lines.items(), key=lambda kv: kv[1].seq)
    ]
    channels = {
        channel_id: _channel_view(book, state, channel_id, ats)
        for channel_id, ats in sorted(book.ats(state).items())
    }
    return {
        "sku": state.sku,
        "version": state.version,
        "partition": partition,
        "applied_position": env.applied_pos,
        "channels": channels,
        "positions": positions,
        "open_reservations": reservations,
        "inbound_by_reference": {loc: dict(refs) for loc, refs in sorted(state.inbound.items())},
        "transfers_in_flight": {
            tid: {"from": t.from_location_id, "to": t.to_location_id, "qty": t.qty}
            for tid, t in sorted(state.transfers.items())
        },
        "rule": "available = min(floor(max(0, sum(on_hand - reserved over the channel's locations) - safety_stock)"
        " * (100 - buffer_percent) / 100), max_available)",
    }
