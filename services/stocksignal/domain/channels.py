"""Channels, the partition's channel book, and available-to-sell (docs/semantics.md, stock positions and channels)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .positions import Position

DEFAULT_CHANNEL = "default"


class HasPositions(Protocol):
    """A SKU's state, or the core's working copy of one."""

    @property
    def positions(self) -> Mapping[str, Position]: ...


@dataclass(frozen=True, slots=True)
class Channel:
    """A selling channel: locations in allocation priority order and a per-SKU safety stock."""

    channel_id: str
    location_ids: tuple[str, ...]
    safety_stock: int = 0

    def ats(self, positions: Mapping[str, Position]) -> int:
        total = 0
        for loc in self.location_ids:
            pos = positions.get(loc)
            if pos is not None:
                total += pos.sellable
        return max(0, total - self.safety_stock)

    def priority(self, location_id: str) -> int:
        """Rank of a location in this channel; locations outside it rank after all others."""
        try:
            return self.location_ids.index(location_id)
        except ValueError:
            return len(self.location_ids)

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "location_ids": list(self.location_ids),
            "safety_stock": self.safety_stock,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Channel:
        return cls(d["channel_id"], tuple(d["location_ids"]), d.get("safety_stock", 0))


def default_channel(positions: Mapping[str, Position]) -> Channel:
    """The built-in channel: every location the SKU has a position at, lexical order, no safety."""
    return Channel(DEFAULT_CHANNEL, tuple(sorted(positions)), 0)


@dataclass(frozen=True, slots=True)
class ChannelBook:
    """The configured channels of one command-topic partition (docs/processor.md#stages: channel commands reach every partition).

    Treated as immutable: ``with_channel``/``without`` return a new book, so a state decided
    under one book can never see a later configuration.
    """

    configured: Mapping[str, Channel] = field(default_factory=dict)

    def with_channel(self, channel: Channel) -> ChannelBook:
        configured = dict(self.configured)
        configured[channel.channel_id] = channel
        return ChannelBook(configured)

    def without(self, channel_id: str) -> ChannelBook:
        if channel_id not in self.configured:
            return self
        configured = dict(self.configured)
        del configured[channel_id]
        return ChannelBook(configured)

    def is_configured(self, channel_id: str) -> bool:
        return channel_id in self.configured

    def resolve(self, channel_id: str, state: HasPositions) -> Channel:
        """The channel an order of ``channel_id`` is decided with: configured, else ``default``."""
        channel = self.configured.get(channel_id)
        if channel is not None:
            return channel
        configured_default = self.configured.get(DEFAULT_CHANNEL)
        if configured_default is not None:
            return configured_default
        return default_channel(state.positions)

    def ats(self, state: HasPositions) -> dict[str, int]:
        """ATS of ``default`` and of every configured channel for one SKU."""
        positions = state.positions
        out = {DEFAULT_CHANNEL: self.resolve(DEFAULT_CHANNEL, state).ats(positions)}
        for channel_id, channel in self.configured.items():
            out[channel_id] = channel.ats(positions)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"channels": [self.configured[c].to_dict() for c in sorted(self.configured)]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChannelBook:
        return cls({c["channel_id"]: Channel.from_dict(c) for c in d.get("channels", [])})
