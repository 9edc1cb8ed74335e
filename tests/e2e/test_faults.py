"""Exactly once, proven the way an operator breaks it: pauses, kills, simultaneous starts, a
broker restart, rebalances while holds come due, catch-ups after crashes (tests/e2e/faults.py).

Each case runs once here (seed 1); `make chaos` runs them all over several seeds.

broker-restart is back here since the three ways a broker restart broke it are fixed
(docs/processor.md, "Proving it": 26 runs of 26 passed with the fixes, 2 of 35 had failed
before them). A hanging transaction left by a broker restart is the risk that remains.
"""

from __future__ import annotations

import pytest

from tests.e2e import faults

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize("case", list(faults.CASES))
def test_fault_case(case, kafka_bootstrap, redis_url, tmp_path):
    from stocksignal.settings import Settings

    base = Settings(kafka_bootstrap_servers=kafka_bootstrap, redis_url=redis_url)
    report = faults.run_case(case, seed=1, base=base, workdir=tmp_path)
    assert report.ok, f"{case}: {report}"
