"""Exponential backoff with full jitter: the delay before retry n is uniform in [0, min(cap, base*2^n)].

Full jitter spreads the retries of many clients that failed together (a marketplace outage)
instead of having them return in lock-step.
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    def __init__(
        self, base_s: float, cap_s: float, rng: Callable[[], float] = random.random
    ) -> None:
        if base_s <= 0 or cap_s < base_s:
            raise ValueError(f"need 0 < base <= cap, got base={base_s}, cap={cap_s}")
        self.base = base_s
        self.cap = cap_s
        self.rng = rng

    def ceiling(self, attempt: int) -> float:
        """The largest delay of retry ``attempt`` (0 for the first retry)."""
        if attempt >= 64:  # 2**attempt would only overflow into the cap anyway
            return self.cap
        return min(self.cap, self.base * 2**attempt)

    def delay(self, attempt: int) -> float:
        return self.rng() * self.ceiling(attempt)
