"""Lua scripts run with EVALSHA, falling back to loading them when Redis answers NOSCRIPT.

A script is the atomic unit of the version guards: Redis runs it without interleaving other
commands, so "write only if newer" cannot race another writer. Scripts loaded with SCRIPT LOAD
vanish when Redis restarts, hence the fallback.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError

# Compares two canonical decimal integers (as Python's str(int) writes them) without going
# through Lua numbers, which are doubles and lose precision above 2^53 (versions are longs).
NEWER_FUNCTION = """
local function newer(a, b)
  if a == b then return false end
  local a_neg, b_neg = string.sub(a, 1, 1) == '-', string.sub(b, 1, 1) == '-'
  if a_neg ~= b_neg then return b_neg end
  local da = a_neg and string.sub(a, 2) or a
  local db = b_neg and string.sub(b, 2) or b
  local longer
  if #da ~= #db then longer = #da > #db else longer = da > db end
  if a_neg then return not longer end
  return longer
end
"""


class LuaScript:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def call(self, client: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run once on a synchronous client."""
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, len(keys), *keys, *args)

    async def acall(self, client: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run once on an asyncio client."""
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha, len(keys), *keys, *args)

    def queue(self, pipe: Any, keys: Sequence[str], args: Sequence[Any]) -> None:
        """Add an EVALSHA to a pipeline; the caller checks the replies with :func:`has_noscript`."""
        pipe.evalsha(self.sha, len(keys), *keys, *args)


def has_noscript(replies: Sequence[Any]) -> bool:
    return any(isinstance(reply, NoScriptError) for reply in replies)
