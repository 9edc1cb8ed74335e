"""A token bucket: ``rate`` requests per second on average, at most ``burst`` at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(
                f"rate must be > 0 and burst >= 1, got rate={rate_per_s}, burst={burst}"
            )
        self.rate = rate_per_s
        self.burst = float(burst)
        self.clock = clock
        self.tokens = float(burst)  # a fresh worker may send a burst at once
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def try_take(self) -> float:
        """Take a token and return 0.0, or take nothing and return the seconds until one is due."""
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    async def take(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        while (wait := self.try_take()) > 0:
            await sleep(wait)
