"""Fixtures shared by every test: where Kafka and Redis are, and names no other test uses.

Each service is found once per session, in this order:

1. ``KAFKA_BOOTSTRAP_SERVERS`` / ``REDIS_URL`` from the environment (``make test`` sets them
   to the local platform unless you set them yourself). A variable that is set but whose
   service does not answer is an error, never silently replaced by another service.
2. The local platform when it is already running (``make up``): free, and evidently what the
   developer wants.
3. A Docker engine that answers a ping: testcontainers starts Kafka (KRaft) or Redis.
4. The local launcher, ``deploy/local/platformctl.py up`` (no Docker needed). What it starts
   here is stopped at the end of the session.

A test that needs a service and gets none fails under ``CI=true`` with the reasons; elsewhere
it is skipped with the same reasons.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from stocksignal.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PLATFORMCTL = REPO / "deploy" / "local" / "platformctl.py"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
# The same Kafka line as the local platform (deploy/local/kafka/pom.xml) and docker-compose.yml.
KAFKA_IMAGE = "apache/kafka:4.4.0"
REDIS_IMAGE = "redis:7.2"


class Unavailable(Exception):
    """One way of getting a service did not work; the message says why."""


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


# --- probes ----------------------------------------------------------------------------------


def _kafka_problem(bootstrap: str, timeout: float = 10.0) -> str | None:
    """None when a broker answers a metadata request, else what went wrong."""
    from confluent_kafka import KafkaException

    from stocksignal import bootstrap as composition
    from stocksignal.settings import Settings

    try:
        metadata = composition.make_admin(Settings(kafka_bootstrap_servers=bootstrap)).list_topics(
            timeout=timeout
        )
    except KafkaException as exc:
        return f"Kafka at {bootstrap} does not answer: {exc}"
    return None if metadata.brokers else f"Kafka at {bootstrap} lists no brokers"


def _redis_problem(url: str, timeout: float = 5.0) -> str | None:
    import redis

    from stocksignal import bootstrap as composition
    from stocksignal.settings import Settings

    try:
        composition.make_redis(
            Settings(redis_url=url), socket_timeout=timeout, socket_connect_timeout=timeout
        ).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} does not answer: {exc}"
    return None


def _wait_until_ready(problem: Callable[[str], str | None], address: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (error := problem(address)) is not None:
        if time.monotonic() > deadline:
            raise Unavailable(error)
        time.sleep(0.5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the local launcher ----------------------------------------------------------------------


def _platformctl(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PLATFORMCTL), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _local_addresses() -> dict[str, str]:
    """{"KAFKA_BOOTSTRAP_SERVERS": ..., "REDIS_URL": ...} of the local platform."""
    lines = _platformctl("env").stdout.splitlines()
    return dict(line.removeprefix("export ").split("=", 1) for line in lines)


# --- Docker ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _docker_problem() -> str | None:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception as exc:  # no engine, no socket, no permission: all mean "not Docker"
        return f"no Docker engine answers ({type(exc).__name__})"
    return None


def _kafka_container(stack: contextlib.ExitStack) -> str:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.docker_client import DockerClient

    # The broker advertises the address clients use, so the host port is chosen up front.
    host, port = DockerClient().host(), _free_port()
    settings = {
        "NODE_ID": "1",
        "PROCESS_ROLES": "broker,controller",
        "LISTENERS": f"PLAINTEXT://:{port},CONTROLLER://:9093",
        "ADVERTISED_LISTENERS": f"PLAINTEXT://{host}:{port}",
        "CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "AUTO_CREATE_TOPICS_ENABLE": "false",  # as the local platform: see platformctl.py
        "OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "TRANSACTIONS_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS": "5000",
    }
    container = DockerContainer(KAFKA_IMAGE).with_bind_ports(port, port)
    for key, value in settings.items():
        container.with_env(f"KAFKA_{key}", value)
    stack.enter_context(container)
    address = f"{host}:{port}"
    _wait_until_ready(_kafka_problem, address, timeout=120)
    return address


def _redis_container(stack: contextlib.ExitStack) -> str:
    from testcontainers.community.redis import RedisContainer

    container = stack.enter_context(RedisContainer(REDIS_IMAGE))
    return f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"


# --- choosing a source -----------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # as deploy/local/platformctl.py calls it
    env_var: str
    problem: Callable[[str], str | None]
    container: Callable[[contextlib.ExitStack], str]


KAFKA = ServiceSpec("kafka", "KAFKA_BOOTSTRAP_SERVERS", _kafka_problem, _kafka_container)
REDIS = ServiceSpec("redis", "REDIS_URL", _redis_problem, _redis_container)


def _from_running_local(spec: ServiceSpec, stack: contextlib.ExitStack) -> str:
    if _platformctl("status", spec.name).returncode != 0:
        raise Unavailable("the local platform is not running")
    return _local_addresses()[spec.env_var]


def _from_docker(spec: ServiceSpec, stack: contextlib.ExitStack) -> str:
    problem = _docker_problem()
    if problem:
        raise Unavailable(problem)
    try:
        return spec.container(stack)
    except Unavailable:
        raise
    except Exception as exc:  # image pull, engine or start-up errors all mean "try the next"
        raise Unavailable(f"testcontainers could not start {spec.name}: {exc}") from exc


def _from_launcher(spec: ServiceSpec, stack: contextlib.ExitStack) -> str:
    result = _platformctl("up", spec.name)
    if result.returncode != 0:
        raise Unavailable(
            f"deploy/local/platformctl.py up {spec.name} failed:\n{result.stderr.strip()}"
        )
    # Started by this session (it was not running at step 2): leave nothing of ours behind.
    stack.callback(_platformctl, "down", spec.name)
    return _local_addresses()[spec.env_var]


def _provide(spec: ServiceSpec, stack: contextlib.ExitStack) -> str:
    configured = os.environ.get(spec.env_var)
    if configured:
        problem = spec.problem(configured)
        if problem:
            pytest.fail(f"{spec.env_var} is set, but {problem}", pytrace=False)
        return configured
    reasons = []
    for source in (_from_running_local, _from_docker, _from_launcher):
        try:
            return source(spec, stack)
        except Unavailable as exc:
            reasons.append(f"{source.__name__.removeprefix('_from_')}: {exc}")
    _unavailable(f"no {spec.name} for the tests ({spec.env_var} unset); " + "; ".join(reasons))
    raise AssertionError("unreachable")  # _unavailable always raises


@pytest.fixture(scope="session")
def _service_stack() -> Iterator[contextlib.ExitStack]:
    """Owns whatever this session started (containers, launcher services) until it ends."""
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture(scope="session")
def kafka_bootstrap(_service_stack: contextlib.ExitStack) -> str:
    """``host:port`` of a Kafka broker that answers."""
    return _provide(KAFKA, _service_stack)


@pytest.fixture(scope="session")
def redis_url(_service_stack: contextlib.ExitStack) -> str:
    """``redis://`` URL of a Redis that answers."""
    return _provide(REDIS, _service_stack)


# --- names and topics ------------------------------------------------------------------------


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``unique_name("orders")`` -> a topic/group/key name no other test or run uses.

    Names carry the test's name (to find a test's topics on a shared broker) and a random
    suffix (so tests run in any order, repeatedly, against the same broker).
    """
    test = re.sub(r"[^A-Za-z0-9-]+", "-", request.node.name).strip("-")[:60]

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{test}-{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def topic_name(unique_name: Callable[[str], str]) -> str:
    return unique_name("topic")


@pytest.fixture
def group_id(unique_name: Callable[[str], str]) -> str:
    return unique_name("group")


class KafkaAdmin:
    """Creates topics and waits until every partition has a leader, so a test can produce at once.

    The broker does not create topics on first use (see deploy/local/platformctl.py), so tests
    create theirs here. ``settings``: a bootstrap address, or Settings (a secured cluster's);
    the client is built by stocksignal.bootstrap like every other.
    """

    def __init__(self, settings: str | Settings) -> None:
        from stocksignal import bootstrap as composition
        from stocksignal.settings import Settings

        if isinstance(settings, str):
            settings = Settings(kafka_bootstrap_servers=settings)
        self.client = composition.make_admin(settings)

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        config: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> str:
        from confluent_kafka.admin import NewTopic

        # replication_factor=-1: the cluster's default.replication.factor (1 on a single broker).
        topic = NewTopic(
            name, num_partitions=partitions, replication_factor=-1, config=config or {}
        )
        self.client.create_topics([topic], operation_timeout=timeout)[name].result(timeout)
        self.wait_for_topic(name, partitions, timeout)
        return name

    def wait_for_topic(self, name: str, partitions: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready(name, partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {name} has no leader for all {partitions} partitions")
            time.sleep(0.1)

    def _ready(self, name: str, partitions: int) -> bool:
        topic = self.client.list_topics(topic=name, timeout=5).topics.get(name)
        return (
            topic is not None
            and topic.error is None
            and len(topic.partitions) == partitions
            and all(p.error is None and p.leader >= 0 for p in topic.partitions.values())
        )

    def delete_topics(self, names: list[str], timeout: float = 30.0) -> None:
        if names:
            for future in self.client.delete_topics(names, operation_timeout=timeout).values():
                future.result(timeout)


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> KafkaAdmin:
    return KafkaAdmin(kafka_bootstrap)


@pytest.fixture
def create_topic(kafka_admin: KafkaAdmin) -> Iterator[Callable[..., str]]:
    """``create_topic(name, partitions=3)``: created now, deleted when the test ends."""
    created: list[str] = []

    def create(name: str, partitions: int = 1, config: dict[str, str] | None = None) -> str:
        created.append(kafka_admin.create_topic(name, partitions, config))
        return name

    yield create
    kafka_admin.delete_topics(created)


@pytest.fixture
def free_port() -> Callable[[], int]:
    """A TCP port nothing listens on right now (for throwaway servers)."""
    return _free_port
