"""Exponential backoff with full jitter, on an injected random source."""

import pytest

from stocksignal.adapters.marketplace.backoff import Backoff


def test_ceilings_double_from_the_base_up_to_the_cap():
    backoff = Backoff(base_s=0.2, cap_s=3.0)
    assert [backoff.ceiling(n) for n in range(6)] == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.0, 3.0])
    assert backoff.ceiling(10_000) == 3.0


def test_the_delay_is_uniform_between_zero_and_the_ceiling():
    assert Backoff(0.5, 10, rng=lambda: 0.0).delay(3) == 0.0
    assert Backoff(0.5, 10, rng=lambda: 0.5).delay(3) == pytest.approx(2.0)
    assert Backoff(0.5, 10, rng=lambda: 0.999).delay(3) == pytest.approx(3.996)


def test_real_randomness_stays_within_the_ceiling():
    backoff = Backoff(0.1, 1.0)
    delays = [backoff.delay(2) for _ in range(500)]
    assert all(0 <= d <= 0.4 for d in delays)
    assert len(set(delays)) > 100, "jittered, not a fixed schedule"


@pytest.mark.parametrize("base, cap", [(0, 1), (2, 1), (-1, 5)])
def test_nonsense_bounds_are_refused(base, cap):
    with pytest.raises(ValueError):
        Backoff(base, cap)
