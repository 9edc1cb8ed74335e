"""What a marketplace answer means for the updates in the request."""

from datetime import UTC, datetime

import pytest

from stocksignal.adapters.marketplace.client import Outcome, classify

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def outcome(status, headers=None, cap=600.0):
    return classify(status, headers or {}, "body", NOW, cap)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_acknowledges(status):
    assert outcome(status).outcome is Outcome.OK


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_429_408_and_5xx_are_retried(status):
    assert outcome(status).outcome is Outcome.TRANSIENT


@pytest.mark.parametrize("status", [400, 404, 409, 413, 422])
def test_other_4xx_are_permanent(status):
    assert outcome(status).outcome is Outcome.PERMANENT


@pytest.mark.parametrize("status", [401, 403, 407])
def test_credential_refusals_stop_the_worker(status):
    assert outcome(status).outcome is Outcome.FATAL


def test_retry_after_is_honoured_in_seconds_and_as_a_date_and_capped():
    assert outcome(429, {"Retry-After": "3"}).retry_after_s == 3.0
    assert outcome(503, {"Retry-After": "Sat, 28 Nov 2026 12:00:10 GMT"}).retry_after_s == 10.0
    assert outcome(429, {"Retry-After": "86400"}, cap=600).retry_after_s == 600.0
    assert outcome(429).retry_after_s is None
    assert outcome(400, {"Retry-After": "3"}).retry_after_s is None


def test_the_detail_is_capped():
    assert len(classify(500, {}, "x" * 10_000, NOW, 1).detail) == 4096
