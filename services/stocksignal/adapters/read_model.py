"""The projector's writes: one pipeline round trip per batch, each write behind the version guard.

The same round trip reads INFO ``run_id`` and the meta hash *before* the writes, so every batch
also tells whether Redis restarted or was emptied (see :mod:`.rebuild`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stocksignal.adapters.keys import Keys
from stocksignal.adapters.lua import NEWER_FUNCTION, LuaScript, has_noscript
from stocksignal.adapters.rebuild import Meta
from stocksignal.adapters.snapshot import Snapshot

# KEYS[1]: the SKU's hash. ARGV[1]: version; ARGV[2..]: field, value pairs. Returns 1 if
# written, 0 if the stored version is the same or newer. The hash is replaced as a whole, so a
# channel the newer record no longer lists disappears. HSET in slices: unpack() of thousands of
# arguments would overflow Lua's stack.
WRITE_IF_NEWER = LuaScript(
    NEWER_FUNCTION
    + """
local current = redis.call('HGET', KEYS[1], 'version')
if current and not newer(ARGV[1], current) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'version', ARGV[1])
for i = 2, #ARGV, 200 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 199, #ARGV)))
end
return 1
"""
)


@dataclass(frozen=True)
class RedisView:
    """What one round trip saw of Redis itself."""

    run_id: str
    meta: Meta


@dataclass(frozen=True)
class BatchResult:
    view: RedisView
    written: int
    stale: int


class ReadModelWriter:
    def __init__(self, redis: Any, keys: Keys) -> None:
        self.redis = redis  # synchronous client, decode_responses=True
        self.keys = keys

    def look(self) -> RedisView:
        """INFO run_id and the meta hash, in one round trip (the idle check)."""
        return self.write([]).view

    def write(self, snapshots: Sequence[Snapshot]) -> BatchResult:
        replies = self._round_trip(snapshots)
        if has_noscript(replies[2:]):
            # Scripts were flushed (SCRIPT FLUSH or a restart): the writes did not happen.
            # Load and repeat; the guard makes the repeat harmless.
            self.redis.script_load(WRITE_IF_NEWER.source)
            replies = self._round_trip(snapshots)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        info, meta, writes = replies[0], replies[1], replies[2:]
        view = RedisView(str(info["run_id"]), Meta.from_hash(meta))
        written = sum(1 for w in writes if w == 1)
        return BatchResult(view, written, len(writes) - written)

    def _round_trip(self, snapshots: Sequence[Snapshot]) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.info("server")
        pipe.hgetall(self.keys.projector_meta)
        for snap in snapshots:
            args: list[Any] = [snap.version]
            for name, value in snap.fields.items():
                args += [name, value]
            WRITE_IF_NEWER.queue(pipe, [self.keys.availability(snap.sku)], args)
        return pipe.execute(raise_on_error=False)
