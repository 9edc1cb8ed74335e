"""Fixtures for running real processor workers against the session's Kafka."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from stocksignal.bench import harness
from stocksignal.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.fixture
def proc_settings(kafka_bootstrap: str, redis_url: str) -> Iterator[Settings]:
    """Settings of an isolated world: its own topics (prefix), group and small partition counts.

    Session timeouts are short so a killed worker's partitions move within seconds (the
    production default is Kafka's 45 s).
    """
    base = Settings(kafka_bootstrap_servers=kafka_bootstrap, redis_url=redis_url)
    s = harness.isolated_settings(
        base,
        input_partitions=3,
        command_partitions=4,
        output_partitions=3,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        expiry_tick_ms=200,
        log_level="INFO",
    )
    harness.create_topics(s)
    yield s
    harness.delete_topics(s)


@pytest.fixture
def workers(proc_settings: Settings, tmp_path: Path) -> Iterator[Callable[..., harness.Worker]]:
    """``workers("w1")`` starts a worker (waiting for /readyz); all are stopped at the end."""
    started: list[harness.Worker] = []

    def start(name: str = "w1", **overrides) -> harness.Worker:
        settings = replace(proc_settings, **overrides)
        w = harness.worker(settings, tmp_path, name).start()
        started.append(w)
        w.wait_ready()
        return w

    yield start
    for w in started:
        w.kill()


@pytest.fixture
def producer(proc_settings: Settings) -> harness.EventProducer:
    return harness.EventProducer(proc_settings)
