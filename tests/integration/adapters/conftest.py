"""Fixtures of the adapters' integration tests (the classes are in adapter_harness.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which puts no test directory on sys.path; the
# test modules here import their harness by name.
sys.path.insert(0, str(Path(__file__).parent))

from adapter_harness import (  # noqa: E402
    Deployment,
    PrivateRedis,
    Process,
    StubMarketplace,
    _make_deployment,
)


@pytest.fixture
def deployment(
    unique_name, create_topic, kafka_bootstrap: str, redis_url: str, free_port
) -> Iterator[Deployment]:
    """A deployment on the shared Redis; its keys are deleted afterwards."""
    dep = _make_deployment(unique_name, create_topic, kafka_bootstrap, redis_url, free_port)
    yield dep
    client = dep.redis()
    keys = list(client.scan_iter(match=dep.redis_prefix + "*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def private_redis(free_port, tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port(), tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def private_deployment(
    unique_name, create_topic, kafka_bootstrap: str, private_redis: PrivateRedis, free_port
) -> Deployment:
    """A deployment whose Redis is the test's own ``private_redis``."""
    return _make_deployment(
        unique_name, create_topic, kafka_bootstrap, private_redis.url, free_port
    )


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    """``start(args, env)``: a running ``stocksignal`` command, SIGKILLed at the end if still up."""
    started: list[Process] = []

    def start(args: list[str], env: dict[str, str]) -> Process:
        process = Process(args, env, tmp_path / f"{args[-1] if args else 'cli'}-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        if process.alive():
            process.kill9()


@pytest.fixture
def stub_marketplace(free_port) -> Iterator[StubMarketplace]:
    stub = StubMarketplace(free_port())
    stub.start()
    yield stub
    stub.stop()
