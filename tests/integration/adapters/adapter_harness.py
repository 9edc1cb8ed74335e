"""What the adapters' integration tests are made of: real Kafka, real Redis, real HTTP.

- :class:`Deployment`: a unique topic prefix and Redis key prefix, the availability topic
  (compacted, 3 partitions), the environment a subprocess needs, and a record producer.
- :class:`PrivateRedis`: a redis-server of the test's own, to kill and restart (empty, or with
  a stale RDB snapshot) without disturbing anyone else.
- :class:`StubMarketplace`: an aiohttp marketplace that records what it accepted and injects
  429/500/slow/dropped answers on demand.
- :class:`Process`: a ``stocksignal`` command run as a subprocess (to SIGKILL it).

The fixtures that build them are in conftest.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from aiohttp import web
from confluent_kafka import TopicPartition

from stocksignal import bootstrap
from stocksignal.contract import make_codec
from stocksignal.contract.examples import example
from stocksignal.contract.topics import AVAILABILITY
from stocksignal.settings import Settings

PARTITIONS = 3
# Tests kill consumers: their partitions must move in seconds, not Kafka's default 45 s.
SESSION_TIMEOUT_MS = 6000


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def availability(
    sku: str, version: int, channels: dict[str, int], on_hand: int = 10
) -> dict[str, Any]:
    record = example("AvailabilityChanged")
    record["sku"] = sku
    record["version"] = version
    record["channels"] = [{"channel_id": c, "available": a} for c, a in channels.items()]
    record["locations"][0]["on_hand"] = on_hand
    return record


class AvailabilityProducer:
    def __init__(self, settings: Settings, topic: str) -> None:
        self.topic = topic
        self.codec = make_codec("")
        self.producer = bootstrap.make_producer(settings)

    def send(self, sku: str, version: int, channels: dict[str, int], on_hand: int = 10) -> None:
        value = self.codec.encode(
            "AvailabilityChanged", availability(sku, version, channels, on_hand)
        )
        self.producer.produce(self.topic, key=sku.encode(), value=value)
        self.producer.poll(0)

    def send_raw(self, key: bytes, value: bytes | None) -> None:
        self.producer.produce(self.topic, key=key, value=value)

    def flush(self) -> None:
        assert self.producer.flush(30) == 0, "records still queued after 30 s"


@dataclass
class Deployment:
    prefix: str
    kafka: str
    redis_url: str
    topic: str
    metrics_port: int
    producer: AvailabilityProducer
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def redis_prefix(self) -> str:
        return self.prefix + ":"

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of a ``stocksignal`` subprocess of this deployment."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSIGNAL_")}
        env.update(
            {
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
                "REDIS_URL": self.redis_url,
                "STOCKSIGNAL_TOPIC_PREFIX": self.prefix + ".",
                "STOCKSIGNAL_REDIS_PREFIX": self.redis_prefix,
                "STOCKSIGNAL_PROJECTOR_GROUP": self.prefix + "-projector",
                "STOCKSIGNAL_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
                "STOCKSIGNAL_HEARTBEAT_INTERVAL_MS": "1000",
                "STOCKSIGNAL_METRICS_PORT": str(self.metrics_port),
                "PYTHONUNBUFFERED": "1",
                **self.extra_env,
                **overrides,
            }
        )
        return env

    def settings(self, **overrides: str) -> Settings:
        return Settings.from_env(self.env(**overrides))

    def redis(self) -> redis.Redis:
        return bootstrap.make_redis(self.settings(), decode_responses=True)

    def committed(self, group: str, topic: str | None = None) -> dict[int, int]:
        """partition -> committed offset of ``group`` (partitions without a commit left out)."""
        topic = topic or self.topic
        consumer = bootstrap.make_consumer(self.settings(), group)
        try:
            parts = consumer.committed(
                [TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10
            )
        finally:
            consumer.close()
        return {tp.partition: tp.offset for tp in parts if tp.offset >= 0}

    def end_offsets(self, topic: str | None = None) -> dict[int, int]:
        topic = topic or self.topic
        consumer = bootstrap.make_consumer(self.settings(), self.prefix + "-probe")
        try:
            ends = {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(PARTITIONS)
            }
        finally:
            consumer.close()
        return {p: high for p, high in ends.items() if high > 0}


def _make_deployment(
    unique_name, create_topic, kafka_bootstrap: str, redis_url: str, free_port
) -> Deployment:
    prefix = unique_name("ss")
    topic = create_topic(f"{prefix}.{AVAILABILITY}", PARTITIONS, {"cleanup.policy": "compact"})
    return Deployment(
        prefix,
        kafka_bootstrap,
        redis_url,
        topic,
        free_port(),
        AvailabilityProducer(Settings(kafka_bootstrap_servers=kafka_bootstrap), topic),
    )


# --- a Redis of the test's own ------------------------------------------------------------------


class PrivateRedis:
    """redis-server on a free port, data in ``workdir``; killed with SIGKILL, restarted at will."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # No automatic snapshots: a test takes one with SAVE when it wants a stale snapshot.
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--dbfilename",
                "dump.rdb",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        wait_until(lambda: self._answers(client), 10, f"redis-server on port {self.port}")

    @staticmethod
    def _answers(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)


# --- stocksignal as a subprocess ---------------------------------------------------------------


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args = args
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "stocksignal.cli.main", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def kill9(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None


def metric(port: int, name: str, labels: str = "") -> float:
    """A sample of a process's /metrics (0.0 when absent or not served yet)."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return 0.0
    wanted = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# --- the stub marketplace ------------------------------------------------------------------------


@dataclass
class Received:
    """One request the stub answered (accepted or not)."""

    at: float  # time.monotonic() when it arrived (a slow request is logged when it ends)
    status: int | None  # None: connection dropped
    fault: str
    updates: list[dict[str, Any]]
    idempotency_key: str | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class StubMarketplace:
    """An HTTP marketplace on loopback, in a thread of its own.

    ``faults`` is consumed one per request, front first: "429" (Retry-After: 1), "429-date"
    (Retry-After as an HTTP-date 2 s ahead), "500", "503-retry-after", "slow" (answers after
    ``slow_s``, beyond the client's timeout), "drop" (closes the connection). An empty list
    accepts. ``reject`` refuses, with 422, any request containing one of its SKUs. ``status``
    answers every request with that status. Updates are *accepted* only when the answer is 2xx
    and the client still listens (a timed-out request counts as never applied).
    """

    def __init__(self, port: int, slow_s: float = 2.0, ssl_context: Any = None) -> None:
        self.port = port
        self.ssl_context = ssl_context  # an ssl.SSLContext: serve HTTPS
        self.slow_s = slow_s
        self.faults: list[str] = []
        self.reject: set[str] = set()
        self.status: int | None = None
        self.delay_s = 0.0
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}/stock"

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/stock", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(
            self._runner, "127.0.0.1", self.port, ssl_context=self.ssl_context
        ).start()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        raw = await request.read()
        body = orjson.loads(raw)
        seen = (dict(request.headers), raw)
        with self.lock:
            fault = self.faults.pop(0) if self.faults else ""
        updates = body["updates"]
        key = request.headers.get("Idempotency-Key")
        status, headers = 200, {}
        if fault == "drop":
            self._log(arrived, None, fault, [], key, seen)
            request.transport.close()
            return web.Response(status=200)  # never reaches the client
        if fault == "slow":
            await asyncio.sleep(self.slow_s)
            if request.transport is None or request.transport.is_closing():
                self._log(arrived, None, fault, [], key, seen)
                return web.Response(status=200)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if fault == "429":
            status, headers = 429, {"Retry-After": "1"}
        elif fault == "429-date":
            when = time.time() + 2
            status, headers = (
                429,
                {"Retry-After": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(when))},
            )
        elif fault == "500":
            status = 500
        elif fault == "503-retry-after":
            status, headers = 503, {"Retry-After": "1"}
        elif self.status is not None:
            status = self.status
        elif self.reject & {u["sku"] for u in updates}:
            status = 422
        accepted = updates if 200 <= status < 300 else []
        self._log(arrived, status, fault, accepted, key, seen)
        return web.json_response({"accepted": len(accepted)}, status=status, headers=headers)

    def _log(
        self,
        arrived: float,
        status: int | None,
        fault: str,
        accepted: list[dict[str, Any]],
        key: str | None,
        seen: tuple[dict[str, str], bytes],
    ) -> None:
        headers, raw = seen
        with self.lock:
            self.requests.append(Received(arrived, status, fault, accepted, key, headers, raw))

    # --- what the tests look at ----------------------------------------------------------

    def accepted(self) -> list[dict[str, Any]]:
        """Every accepted update, in the order accepted."""
        with self.lock:
            return [u for r in self.requests for u in r.updates]

    def latest(self) -> dict[str, tuple[int, int]]:
        """sku -> (available, version) of the last accepted update."""
        return {u["sku"]: (u["available"], u["version"]) for u in self.accepted()}

    def values(self) -> dict[str, int]:
        """sku -> the available the marketplace shows (an unchanged value keeps its old version)."""
        return {sku: available for sku, (available, _) in self.latest().items()}

    def received(self) -> list[Received]:
        """Every request, in the order they arrived."""
        with self.lock:
            return sorted(self.requests, key=lambda r: r.at)


# --- checking answers against the OpenAPI document ---------------------------------------------


def schema_errors(
    instance: Any, schema: dict[str, Any], document: dict[str, Any], path: str = "$"
) -> list[str]:
    """Where ``instance`` breaks ``schema`` (the subset of OpenAPI 3.0 schemas the API uses)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return schema_errors(instance, document["components"]["schemas"][name], document, path)
    if "oneOf" in schema:
        matching = [s for s in schema["oneOf"] if not schema_errors(instance, s, document, path)]
        return [] if len(matching) == 1 else [f"{path}: matches {len(matching)} of oneOf"]
    if instance is None:
        return [] if schema.get("nullable") else [f"{path}: null"]
    kinds = {"object": dict, "array": list, "string": str, "integer": int}
    kind = schema.get("type")
    if kind in kinds and (not isinstance(instance, kinds[kind]) or isinstance(instance, bool)):
        return [f"{path}: expected {kind}, got {type(instance).__name__}"]
    errors = []
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path}: {instance!r} not in {schema['enum']}")
    if "minimum" in schema and instance < schema["minimum"]:
        errors.append(f"{path}: {instance} < {schema['minimum']}")
    if isinstance(instance, dict):
        errors += [
            f"{path}: missing {name}" for name in schema.get("required", []) if name not in instance
        ]
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, value in instance.items():
            if name in properties:
                errors += schema_errors(value, properties[name], document, f"{path}.{name}")
            elif extra is False:
                errors.append(f"{path}: unexpected {name}")
            elif isinstance(extra, dict):
                errors += schema_errors(value, extra, document, f"{path}.{name}")
    if isinstance(instance, list):
        for i, item in enumerate(instance):
            errors += schema_errors(item, schema.get("items", {}), document, f"{path}[{i}]")
    return errors


def response_schema(
    document: dict[str, Any], path: str, method: str, status: int
) -> dict[str, Any]:
    response = document["paths"][path][method]["responses"][str(status)]
    return response["content"]["application/json"]["schema"]
