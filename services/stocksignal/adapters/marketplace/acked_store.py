"""What the marketplace last acknowledged per SKU, remembered in Redis (value and version).

One hash per channel, field = SKU, value = "<version>:<available>". Written behind a version
guard, so a late or repeated acknowledgement never replaces a newer one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stocksignal.adapters.keys import Keys
from stocksignal.adapters.lua import NEWER_FUNCTION, LuaScript
from stocksignal.adapters.marketplace.coalescer import Known
from stocksignal.adapters.marketplace.payload import Update

# KEYS[1]: the channel's hash. ARGV: sku, version, available, sku, version, available, ...
REMEMBER = LuaScript(
    NEWER_FUNCTION
    + """
local written = 0
for i = 1, #ARGV, 3 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  local version = current and string.match(current, '^(-?%d+):')
  if not version or newer(ARGV[i + 1], version) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1] .. ':' .. ARGV[i + 2])
    written = written + 1
  end
end
return written
"""
)


def parse_known(raw: str | None) -> Known | None:
    if raw is None:
        return None
    version, available = raw.split(":", 1)
    return Known(int(available), int(version))


class AckedStore:
    def __init__(self, redis: Any, keys: Keys, channel_id: str) -> None:
        self.redis = redis  # asyncio client, decode_responses=True
        self.key = keys.marketplace_acked(channel_id)

    async def load(self, skus: Sequence[str]) -> dict[str, Known | None]:
        if not skus:
            return {}
        values = await self.redis.hmget(self.key, list(skus))
        return {sku: parse_known(raw) for sku, raw in zip(skus, values)}

    async def remember(self, updates: Sequence[Update]) -> int:
        args: list[Any] = []
        for u in updates:
            args += [u.sku, u.version, u.available]
        return int(await REMEMBER.acall(self.redis, [self.key], args)) if args else 0
