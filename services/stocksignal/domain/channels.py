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
    """A selling channel: locations in allocation priority order, a per-SKU safety stock, and
    the v1.1 rules (docs/semantics.md#channel-rules): a buffer held back as a percentage, a
    cap on what is offered, and the threshold below which the channel runs low.

    The defaults (no buffer, no cap, threshold 0) give exactly the v1 number.
    """

    channel_id: str
    location_ids: tuple[str, ...]
    safety_stock: int = 0
    buffer_percent: int = 0
    max_available: int | None = None
    low_stock_threshold: int = 0

    def raw(self, positions: Mapping[str, Position]) -> int:
        """Sellable over the channel's locations minus safety stock (may be negative)."""
        total = 0
        for loc in self.location_ids:
            pos = positions.get(loc)
            if pos is not None:
                total += pos.sellable
        return total - self.safety_stock

    def ats(self, positions: Mapping[str, Position]) -> int:
        return self.ats_of_raw(self.raw(positions))

    def ats_of_raw(self, raw: int) -> int:
        """The contract's formula after ``raw`` (docs/semantics.md#channel-rules). Integer arithmetic: floor of
        a non-negative product, so no float can round a unit up."""
        available = max(0, raw)
        if self.buffer_percent:
            available = available * (100 - self.buffer_percent) // 100
        if self.max_available is not None and available > self.max_available:
            available = self.max_available
        return available

    def priority(self, location_id: str) -> int:
        """Rank of a location in this channel; locations outside it rank after all others."""
        try:
            return self.location_ids.index(location_id)
        except ValueError:
            return len(self.location_ids)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "channel_id": self.channel_id,
            "location_ids": list(self.location_ids),
            "safety_stock": self.safety_stock,
        }
        # Only rules that differ from the defaults: a book stored before v1.1 and one stored
        # after with default rules are the same bytes.
        if self.buffer_percent:
            d["buffer_percent"] = self.buffer_percent
        if self.max_available is not None:
            d["max_available"] = self.max_available
        if self.low_stock_threshold:
            d["low_stock_threshold"] = self.low_stock_threshold
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Channel:
        return cls(
            d["channel_id"],
            tuple(d["location_ids"]),
            d.get("safety_stock", 0),
            d.get("buffer_percent", 0),
            d.get("max_available"),
            d.get("low_stock_threshold", 0),
        )


def default_channel(positions: Mapping[str, Position]) -> Channel:
    """The built-in channel: every location the SKU has a position at, lexical order, no
    safety stock, no buffer, no cap, low-stock threshold 0."""
    return Channel(DEFAULT_CHANNEL, tuple(sorted(positions)), 0)


@dataclass(frozen=True, slots=True)
class ChannelBook:
    """The configured channels of one command-topic partition (channel commands reach every
    partition: docs/processor.md#stages).

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
