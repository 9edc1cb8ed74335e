"""The services as processes over the secured platform: Kafka over SASL_SSL (SCRAM) or mTLS,
Redis over TLS with a client certificate and the ACL user."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from stocksignal import bootstrap
from stocksignal.adapters.keys import Keys
from stocksignal.adapters.snapshot import availability_from_hash
from stocksignal.bench import harness
from stocksignal.bench.workload import Event
from stocksignal.cli.kafka_read import read_all
from stocksignal.contract import topics as catalogue
from stocksignal.contract.examples import example
from stocksignal.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(240)]


class Service:
    """``stocksignal run ...`` as a process with the settings' environment."""

    def __init__(self, settings: Settings, log: Path, *args: str) -> None:
        self.log = log
        env = {**os.environ, **settings.to_env(), "PYTHONUNBUFFERED": "1"}
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stocksignal.cli.main", "run", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def alive(self) -> None:
        assert self.proc.poll() is None, (
            f"exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def wait_for(check, timeout: float, what: str, *alive: Service):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        for service in alive:
            service.alive()
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)
    return found


def projected(settings: Settings, skus: list[str]) -> dict[str, int]:
    client = bootstrap.make_redis(settings, decode_responses=True)
    keys = Keys(settings.redis_prefix)
    found = {
        sku: availability_from_hash(sku, client.hgetall(keys.availability(sku))) for sku in skus
    }
    return {sku: a.version for sku, a in found.items() if a is not None}


def get_json(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except (urllib.error.URLError, ConnectionError):
        return 0, None


def test_the_projector_and_the_api_over_secured_kafka_and_redis(
    secured: Settings, tmp_path: Path, free_port
):
    s = secured
    harness.create_topics(s)
    codec, producer = bootstrap.make_codec(s), bootstrap.make_producer(s)
    skus = ["MUG-1", "MUG-2", "MUG-3"]
    for version, sku in enumerate(skus, start=1):
        record = {
            **example("AvailabilityChanged"),
            "sku": sku,
            "version": version,
            "channels": [{"channel_id": "default", "available": 10 + version}],
        }
        producer.produce(
            s.topic_prefix + catalogue.AVAILABILITY,
            codec.encode("AvailabilityChanged", record),
            sku.encode(),
        )
    assert producer.flush(30) == 0
    del producer

    projector = Service(s, tmp_path / "projector.log", "projector", "--metrics-port", "0")
    api_port = free_port()
    api = Service(s, tmp_path / "api.log", "api", "--port", str(api_port))
    try:
        assert wait_for(
            lambda: projected(s, skus) == {"MUG-1": 1, "MUG-2": 2, "MUG-3": 3} or None,
            60,
            "the projector to write every SKU to Redis",
            projector,
        )
        status, body = wait_for(
            lambda: (r := get_json(f"http://127.0.0.1:{api_port}/availability/MUG-3"))[0] and r,
            30,
            "the API to answer",
            api,
        )
        assert status == 200 and body["sku"] == "MUG-3" and body["version"] == 3
        assert body["channels"] == {"default": 13}
    finally:
        api.stop()
        stopped = projector.stop()
    assert stopped == 0, projector.log.read_text()[-3000:]


def test_a_processor_worker_decides_over_the_secured_listener(secured: Settings, tmp_path: Path):
    s = secured
    harness.create_topics(s)
    worker = harness.worker(s, tmp_path).start()
    try:
        worker.wait_ready(timeout=90)
        events = harness.EventProducer(s)
        events.send(Event("StockReceived", {**example("StockReceived"), "sku": "SEC-1", "qty": 4}))
        events.flush()
        wait_for(
            lambda: any(
                r.key == b"SEC-1" for r in read_all(s, s.topic_prefix + catalogue.AVAILABILITY)
            ),
            60,
            "the availability of SEC-1",
        )
    finally:
        worker.kill()
