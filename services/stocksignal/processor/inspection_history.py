"""The inspection API's answers for the past: ``GET /skus/{sku}?at=T`` and
``GET /skus/{sku}/movements?since=T1&until=T2`` (docs/processor.md, "Inspection API").

The reading is :mod:`stocksignal.ledger.history` (Kafka, ``read_committed``), run in the
history's own executor so that the aiohttp loop keeps answering meanwhile; one read at a time
per worker. The as-of answer has the shape of ``GET /skus/{sku}`` where the ledger can say it
(buckets, channels with their rule) and says what it rests on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from stocksignal.domain import Position, SkuState
from stocksignal.ledger.history import StockAt, Window
from stocksignal.times import parse_timestamp

MAX_WINDOW_MOVEMENTS = 10_000
FUTURE_SLACK_MS = 1000  # "now" on a client a little ahead of this worker's clock


class BadTime(ValueError):
    pass


def time_param(query: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    """A time query parameter: epoch ms, ISO 8601 with an offset, 'now' or relative ('-2h')."""
    text = query.get(name)
    if text is None:
        return default
    now = int(time.time() * 1000)
    try:
        value = int(text) if text.strip().isdigit() else parse_timestamp(text, now)
    except ValueError as exc:
        raise BadTime(f"{name}: {exc}") from None
    if value > now + FUTURE_SLACK_MS:
        raise BadTime(f"{name}: {text!r} is in the future; the ledger only knows the past")
    return value


def stock_at_json(result: StockAt, partition: int) -> dict[str, Any]:
    """``GET /skus/{sku}`` as of ``result.at``: buckets and channels from the ledger."""
    from stocksignal.processor.envelope import Envelope
    from stocksignal.processor.web import explain

    state = SkuState(
        result.sku, positions={loc: Position(**b) for loc, b in result.positions.items()}
    )
    answer = explain(state, result.book, Envelope(state), partition)
    # What the ledger does not carry: versions, the lines' channels and holds, transfers.
    for key in ("version", "applied_position", "open_reservations", "transfers_in_flight"):
        answer.pop(key, None)
    for view in answer.get("channels", {}).values():
        view.pop(
            "level", None
        )  # the level last *published*: the stock-levels feed says it, not the ledger
    answer.update(
        {
            "at": result.at,
            "reserved_by_order": result.held["reserved"],
            "picked_by_order": result.held["picked"],
            "inbound_by_reference": result.held["inbound"],
            "channels_configured_at": result.configured_at,
            "movements_up_to_at": result.movements_up_to,
            "ledger": result.ledger.to_json(),
            "channel_history_from": result.channel_history_from,
        }
    )
    return answer


def window_json(result: Window) -> dict[str, Any]:
    return {
        "sku": result.sku,
        "since": result.since,
        "until": result.until,
        "movements": [{**m.record, "logged_at": m.logged_at} for m in result.movements],
        "newest_first": False,
        "total": result.total,
        "truncated": result.truncated,
        "net_change": result.net,
        "ledger": result.ledger.to_json(),
    }
