"""Times as people write them, to epoch milliseconds: the one parser every command and API uses.

Accepted: epoch milliseconds (an int), an ISO 8601 time *with* a UTC offset
(``2026-01-01T14:00:00+01:00``, ``...Z``), ``"now"``, or an offset from now: ``"+15m"``,
``"-2h"``, ``"+30s"``, ``"+1d"``, ``"+500ms"``. A time without an offset is refused: it would
mean a different instant on every machine.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

_RELATIVE = re.compile(r"^([+-])\s*(\d+)\s*(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_timestamp(value: Any, now_ms: int) -> int:
    """Epoch milliseconds from the accepted spellings; ValueError says what is wrong."""
    if isinstance(value, bool):
        raise ValueError(f"expected a timestamp, got {value!r}")
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"expected epoch milliseconds or a time string, got {type(value).__name__}"
        )
    text = value.strip()
    if text.lower() == "now":
        return now_ms
    m = _RELATIVE.match(text)
    if m:
        sign = 1 if m.group(1) == "+" else -1
        return now_ms + sign * int(m.group(2)) * _UNIT_MS[m.group(3)]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a time: use epoch milliseconds, ISO 8601 with an offset, 'now' or '+15m'"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(
            f"{value!r} has no UTC offset: add 'Z' or '+01:00' (a time without one is ambiguous)"
        )
    return int(parsed.timestamp() * 1000)
