"""Fixtures of the CLI's integration tests: an isolated topic prefix on the session's Kafka."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stocksignal.bench import harness
from stocksignal.cli.main import main
from stocksignal.settings import Settings


@pytest.fixture
def cli_settings(kafka_bootstrap: str, redis_url: str) -> Iterator[Settings]:
    """A world of its own (topic prefix, app id), small partition counts; no topics yet.
    Whatever topics the test made are deleted after it."""
    base = Settings(kafka_bootstrap_servers=kafka_bootstrap, redis_url=redis_url)
    s = harness.isolated_settings(
        base,
        input_partitions=3,
        command_partitions=4,
        output_partitions=3,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    yield s
    harness.delete_topics(s)


@pytest.fixture
def cli(cli_settings: Settings) -> Callable[..., Result]:
    """``cli("tail", "movements", env={...})``: the command run in-process with the settings' env."""

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        full_env = {**cli_settings.to_env(), **(env or {})}
        return CliRunner().invoke(
            main, list(args), env=full_env, input=input, catch_exceptions=False
        )

    return invoke


@pytest.fixture
def with_topics(cli_settings: Settings, cli) -> Settings:
    result = cli("topics", "create")
    assert result.exit_code == 0, result.output
    return cli_settings


@pytest.fixture
def processor(with_topics: Settings, tmp_path: Path) -> Iterator[harness.Worker]:
    """A processor worker started as ``stocksignal run processor``, ready."""
    settings = replace(with_topics, state_dir=str(tmp_path / "state"), web_port=harness.free_port())
    worker = harness.Worker(settings, tmp_path / "processor.log")
    env = {**os.environ, **settings.to_env(), "PYTHONUNBUFFERED": "1"}
    log = open(worker.log_path, "ab")
    worker.proc = subprocess.Popen(
        [sys.executable, "-m", "stocksignal.cli.main", "run", "processor"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker.wait_ready()
    yield worker
    worker.stop()
