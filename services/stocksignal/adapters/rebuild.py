"""Knowing whether Redis still holds what the committed Kafka offsets say it holds.

The projector's meta hash remembers the ``run_id`` (INFO server) of the Redis instance the
read model was built in. Redis picks a new run_id on every start, so a mismatch means Redis
restarted since: it is empty (no persistence) or holds a snapshot taken earlier (Debian's
default ``save`` rules), and either way older than the committed offsets. A missing meta hash
means Redis was emptied (FLUSHALL) or never built. In both cases the read model is rebuilt by
replaying the compacted availability topic from its beginning.

A rebuild is recorded *in Redis*, as one ``rebuild:<partition>`` marker per partition that
has records, holding the partition's end offset when the rebuild began. Whoever owns a
partition replays it from the beginning while its marker is there and clears it on reaching
that offset; a projector that crashes mid-rebuild finds the marker on restart and replays
again. Several projectors in one consumer group therefore rebuild their own partitions.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stocksignal.adapters.keys import META_GENERATION, META_REBUILD_PREFIX, META_RUN_ID, Keys
from stocksignal.adapters.lua import LuaScript

# KEYS[1]: meta hash. ARGV: run_id, new generation, started_at, then partition, end offset...
# Only the first projector to see a new run_id starts a rebuild; the others join it.
CLAIM = LuaScript("""
if redis.call('HGET', KEYS[1], 'run_id') == ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'run_id', ARGV[1], 'generation', ARGV[2], 'rebuild_started_at', ARGV[3])
for i = 4, #ARGV, 2 do
  redis.call('HSET', KEYS[1], 'rebuild:' .. ARGV[i], ARGV[i + 1])
end
return 1
""")

# KEYS[1]: meta hash. ARGV: generation, partition. A marker of a newer rebuild stays.
FINISH = LuaScript("""
if redis.call('HGET', KEYS[1], 'generation') ~= ARGV[1] then return 0 end
return redis.call('HDEL', KEYS[1], 'rebuild:' .. ARGV[2])
""")


@dataclass(frozen=True)
class Meta:
    run_id: str | None = None
    generation: str | None = None
    # partition -> end offset it must be replayed to
    rebuilding: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_hash(cls, raw: Mapping[str, str]) -> Meta:
        rebuilding = {
            int(name[len(META_REBUILD_PREFIX) :]): int(value)
            for name, value in raw.items()
            if name.startswith(META_REBUILD_PREFIX)
        }
        return cls(raw.get(META_RUN_ID), raw.get(META_GENERATION), rebuilding)


def rebuild_reason(meta: Meta, run_id: str) -> str | None:
    """Why the read model must be rebuilt ("empty" or "restarted"), or None."""
    if meta.run_id is None:
        return "empty"
    if meta.run_id != run_id:
        return "restarted"
    return None


def claim_rebuild(redis: Any, keys: Keys, run_id: str, end_offsets: Mapping[int, int]) -> bool:
    """Record a rebuild of every partition with records; False if another projector did."""
    args: list[Any] = [run_id, uuid.uuid4().hex, int(time.time() * 1000)]
    for partition, end in sorted(end_offsets.items()):
        args += [partition, end]
    return bool(CLAIM.call(redis, [keys.projector_meta], args))


def finish_partition(redis: Any, keys: Keys, generation: str, partition: int) -> None:
    FINISH.call(redis, [keys.projector_meta], [generation, partition])


def read_meta(redis: Any, keys: Keys) -> Meta:
    return Meta.from_hash(redis.hgetall(keys.projector_meta))


def is_rebuilding(raw_meta: Mapping[str, str]) -> bool:
    """True while the read model is not (yet) complete: never built, or a rebuild is running."""
    meta = Meta.from_hash(raw_meta)
    return meta.run_id is None or bool(meta.rebuilding)
