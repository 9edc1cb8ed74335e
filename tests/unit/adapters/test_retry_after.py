"""Retry-After: delay-seconds and HTTP-dates (RFC 9110 10.2.3)."""

from datetime import UTC, datetime

import pytest

from stocksignal.adapters.marketplace.retry_after import parse_retry_after

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "header, seconds",
    [
        ("0", 0.0),
        ("7", 7.0),
        (" 120 ", 120.0),
        ("Sat, 28 Nov 2026 12:00:30 GMT", 30.0),  # IMF-fixdate
        ("Saturday, 28-Nov-26 12:01:00 GMT", 60.0),  # obsolete RFC 850 form
        ("Sat Nov 28 12:00:05 2026", 5.0),  # obsolete asctime form (no zone: GMT)
        ("Sat, 28 Nov 2026 11:59:00 GMT", 0.0),  # in the past: retry now
    ],
)
def test_understood_values(header, seconds):
    assert parse_retry_after(header, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("header", [None, "", "-5", "1.5", "soon", "Sat, 99 Nov 2026 12:00:00 GMT"])
def test_values_not_understood_give_none(header):
    assert parse_retry_after(header, NOW) is None
