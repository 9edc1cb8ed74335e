"""A channel's available-to-sell written out as the computation that made it (docs/cli.md#sku).

Shared by ``stocksignal sku`` and the operator's page, so that both show the same formula for
the same answer of the inspection API: it reads the API's JSON (a channel's ``available``,
``locations``, ``safety_stock``, ``buffer_percent``, ``max_available`` and the positions'
``sellable``), it computes nothing the processor did not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RULE = (
    "available = min(⌊max(0, Σ sellable over the channel's locations − safety_stock) × (100 − buffer)%⌋, cap);  "
    "sellable = max(0, on_hand − reserved)"
)


def channel_rule(channel: Mapping[str, Any], positions: Mapping[str, Mapping[str, int]]) -> str:
    """The channel's number as its computation: ``max(0, WH-BER 2 + WH-HAM 8 − 2) = 8``; with a
    buffer ``⌊max(0, …) × 80%⌋ = 6``, with a cap ``min(⌊…⌋, cap 5) = 5`` (docs/cli.md#sku).
    A channel without a buffer or a cap prints the v1 formula."""
    terms = [f"{loc} {positions.get(loc, {}).get('sellable', 0)}" for loc in channel["locations"]]
    total = " + ".join(terms) if terms else "0"
    formula = f"max(0, {total} − {channel['safety_stock']})"
    buffer_percent = channel.get("buffer_percent", 0)
    if buffer_percent:
        formula = f"⌊{formula} × {100 - buffer_percent}%⌋"
    cap = channel.get("max_available")
    if cap is not None:
        formula = f"min({formula}, cap {cap})"
    return f"{formula} = {channel['available']}"
