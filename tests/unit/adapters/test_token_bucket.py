"""The token bucket, on an injected clock."""

import asyncio

import pytest

from stocksignal.adapters.marketplace.token_bucket import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_a_burst_then_paces_at_the_rate():
    clock = Clock()
    bucket = TokenBucket(rate_per_s=4, burst=3, clock=clock)
    assert [bucket.try_take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_take() == pytest.approx(0.25)
    clock.now += 0.25
    assert bucket.try_take() == 0.0
    assert bucket.try_take() == pytest.approx(0.25)


def test_idle_time_refills_up_to_the_burst_only():
    clock = Clock()
    bucket = TokenBucket(rate_per_s=10, burst=2, clock=clock)
    bucket.try_take(), bucket.try_take()
    clock.now += 60  # a minute idle is still only 2 tokens
    assert [bucket.try_take() == 0.0 for _ in range(3)] == [True, True, False]


def test_a_refused_take_takes_nothing():
    clock = Clock()
    bucket = TokenBucket(rate_per_s=2, burst=1, clock=clock)
    bucket.try_take()
    assert bucket.try_take() == pytest.approx(0.5)
    clock.now += 0.2
    assert bucket.try_take() == pytest.approx(0.3)


def test_take_sleeps_exactly_until_a_token_is_due():
    clock = Clock()
    slept = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    bucket = TokenBucket(rate_per_s=5, burst=1, clock=clock)

    async def take_three() -> None:
        for _ in range(3):
            await bucket.take(sleep)

    asyncio.run(take_three())
    assert slept == [pytest.approx(0.2), pytest.approx(0.2)]


@pytest.mark.parametrize("rate, burst", [(0, 1), (-1, 1), (1, 0)])
def test_a_bucket_that_could_never_send_is_refused(rate, burst):
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)
