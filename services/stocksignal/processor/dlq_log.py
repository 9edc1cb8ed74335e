"""One log line per dead-lettered record, at most ``burst`` lines per ``interval_s``.

A producer sending garbage can put thousands of records a second into the DLQ; the metric
``stocksignal_dlq_records_total{reason,topic}`` counts every one, and the log says *which*
records and why, without flooding: past the limit, lines are counted and the next line
logged says how many were left out. A line can repeat when a transaction is retried (the
record is routed again); the DLQ itself holds each record once per committed attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

LOG = logging.getLogger("stocksignal.processor.dlq")
KEY_SHOWN = 80
ERROR_SHOWN = 300


class DeadLetterLog:
    def __init__(
        self,
        logger: logging.Logger = LOG,
        burst: int = 10,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.burst = burst
        self.interval_s = interval_s
        self.clock = clock
        self._window_start = float("-inf")
        self._logged = 0
        self.suppressed = 0  # left out since the last line

    def dead_lettered(
        self, reason: str, topic: str, partition: int, offset: int, key: bytes | None, error: str
    ) -> None:
        now = self.clock()
        if now - self._window_start >= self.interval_s:
            self._window_start, self._logged = now, 0
        if self._logged >= self.burst:
            self.suppressed += 1
            return
        self._logged += 1
        more = (
            f" ({self.suppressed} more dead-lettered record(s) not logged before this one)"
            if self.suppressed
            else ""
        )
        self.suppressed = 0
        self.logger.warning(
            "dead-lettered %s[%d]@%d key=%s: %s: %s%s",
            topic,
            partition,
            offset,
            _key(key),
            reason,
            _cut(error, ERROR_SHOWN),
            more,
        )


def _key(key: bytes | None) -> str:
    if key is None:
        return "(none)"
    return repr(_cut(key.decode("utf-8", "replace"), KEY_SHOWN))


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n] + "..."
