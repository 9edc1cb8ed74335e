"""Waiting on a worker's metrics, for the CLI's integration tests."""

from __future__ import annotations

import time


def wait_metric(worker, metric: str, target: float, timeout: float = 60.0) -> None:
    """Until a worker's counter reaches ``target`` (NaN, no answer from it, is not there yet)."""
    deadline = time.monotonic() + timeout
    while not worker.metric(metric) >= target:
        assert time.monotonic() < deadline, f"{metric} < {target}:\n{worker.tail()}"
        time.sleep(0.2)
