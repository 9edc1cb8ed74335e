"""The API's reads from the read model: one Redis round trip per request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stocksignal.adapters.keys import (
    CHANNEL_FIELD_PREFIX,
    VERSION,
    Keys,
    channel_field,
    level_field,
)
from stocksignal.adapters.rebuild import is_rebuilding
from stocksignal.adapters.snapshot import Availability, availability_from_hash


@dataclass(frozen=True)
class ChannelValue:
    """One SKU on one channel. ``version`` None: unknown SKU; ``available`` None: unknown channel."""

    sku: str
    channel: str
    version: int | None
    available: int | None
    level: str | None = None  # the channel's stock level; None from a read model before v1.1


class AvailabilityReader:
    def __init__(self, redis: Any, keys: Keys) -> None:
        self.redis = redis  # asyncio client, decode_responses=True
        self.keys = keys

    async def channel_value(self, sku: str, channel: str) -> ChannelValue:
        version, available, level = await self.redis.hmget(
            self.keys.availability(sku), VERSION, channel_field(channel), level_field(channel)
        )
        return _channel_value(sku, channel, version, available, level)

    async def everything(self, sku: str) -> Availability | None:
        return availability_from_hash(sku, await self.redis.hgetall(self.keys.availability(sku)))

    async def channel_values(self, skus: Sequence[str], channel: str) -> list[ChannelValue]:
        pipe = self.redis.pipeline(transaction=False)
        for sku in skus:
            pipe.hmget(
                self.keys.availability(sku), VERSION, channel_field(channel), level_field(channel)
            )
        replies = await pipe.execute()
        return [_channel_value(sku, channel, v, a, lv) for sku, (v, a, lv) in zip(skus, replies)]

    async def everythings(self, skus: Sequence[str]) -> list[Availability | None]:
        pipe = self.redis.pipeline(transaction=False)
        for sku in skus:
            pipe.hgetall(self.keys.availability(sku))
        replies = await pipe.execute()
        return [availability_from_hash(sku, raw) for sku, raw in zip(skus, replies)]

    async def known_channels(self, sku: str) -> list[str]:
        fields = await self.redis.hkeys(self.keys.availability(sku))
        return sorted(
            f[len(CHANNEL_FIELD_PREFIX) :] for f in fields if f.startswith(CHANNEL_FIELD_PREFIX)
        )

    async def rebuilding(self) -> bool:
        """True while a missing SKU may only be missing because the read model is incomplete."""
        return is_rebuilding(await self.redis.hgetall(self.keys.projector_meta))

    async def ping(self) -> bool:
        return bool(await self.redis.ping())


def _channel_value(
    sku: str, channel: str, version: Any, available: Any, level: Any = None
) -> ChannelValue:
    return ChannelValue(
        sku,
        channel,
        None if version is None else int(version),
        None if available is None else int(available),
        None if available is None else level,
    )
