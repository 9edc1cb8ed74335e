"""The Retry-After header (RFC 9110 10.2.3): delay-seconds or an HTTP-date."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait, 0.0 for a date in the past, None when absent or not understood.

    ``now`` must be timezone-aware (the HTTP-date is in GMT).
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():  # delay-seconds is 1*DIGIT: no sign, no fraction
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses as naive; HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
