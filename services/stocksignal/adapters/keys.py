"""Every Redis key the adapters use, in one place (the layout is documented in docs/adapters.md)."""

from __future__ import annotations

from dataclasses import dataclass

# Field names of an availability hash besides the per-channel ``ch:<channel_id>`` fields.
VERSION = "version"
LOCATIONS = "locations"
CHANNEL_FIELD_PREFIX = "ch:"
# The channel's stock level (IN_STOCK, LOW_STOCK, OUT_OF_STOCK) beside its ``ch:`` value.
LEVEL_FIELD_PREFIX = "lv:"
# Fields of the projector's meta hash.
META_RUN_ID = "run_id"
META_GENERATION = "generation"
META_REBUILD_PREFIX = "rebuild:"


def channel_field(channel_id: str) -> str:
    return CHANNEL_FIELD_PREFIX + channel_id


def level_field(channel_id: str) -> str:
    return LEVEL_FIELD_PREFIX + channel_id


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix (``STOCKSIGNAL_REDIS_PREFIX``)."""

    prefix: str = "stocksignal:"

    def availability(self, sku: str) -> str:
        """Hash: one SKU's availability snapshot (written by the projector only)."""
        return f"{self.prefix}avail:{sku}"

    @property
    def availability_pattern(self) -> str:
        return f"{self.prefix}avail:*"

    @property
    def projector_meta(self) -> str:
        """Hash: which Redis instance the read model was built in, and pending rebuilds."""
        return f"{self.prefix}projector:meta"

    def marketplace_acked(self, channel_id: str) -> str:
        """Hash: field sku -> "<version>:<available>" the marketplace last acknowledged."""
        return f"{self.prefix}marketplace:{channel_id}:acked"
