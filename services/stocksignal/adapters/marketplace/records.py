"""From an AvailabilityChanged or a StockLevelChanged record to one channel's value. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChannelChange:
    sku: str
    version: int
    available: int
    withdrawn: bool  # the record no longer lists the channel: 0, to withdraw what was pushed


def channel_change(record: Mapping[str, Any], channel_id: str) -> ChannelChange:
    for entry in record["channels"]:
        if entry["channel_id"] == channel_id:
            return ChannelChange(record["sku"], record["version"], entry["available"], False)
    return ChannelChange(record["sku"], record["version"], 0, True)


def level_change(record: Mapping[str, Any], channel_id: str) -> ChannelChange | None:
    """The channel's value at a change of its stock level (push mode ``levels``); None for a
    record of another channel. Its version is the snapshot's: the acknowledged-version guard
    works as for availability records."""
    if record["channel_id"] != channel_id:
        return None
    return ChannelChange(record["sku"], record["version"], record["available"], False)
