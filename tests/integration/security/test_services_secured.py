"""The services as processes over the secured platform: Kafka over SASL_SSL (SCRAM) or mTLS,
Redis over TLS with a client certificate and the ACL user."""

from __future__ import annotations

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
from tests.support.processes import Service, all_alive
from tests.support.waits import http_get, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(240)]


def projected(settings: Settings, skus: list[str]) -> dict[str, int]:
    client = bootstrap.make_redis(settings, decode_responses=True)
    keys = Keys(settings.redis_prefix)
    found = {
        sku: availability_from_hash(sku, client.hgetall(keys.availability(sku))) for sku in skus
    }
    return {sku: a.version for sku, a in found.items() if a is not None}


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

    projector = Service.cli(
        s.to_env(), tmp_path / "projector.log", "run", "projector", "--metrics-port", "0"
    )
    api_port = free_port()
    api = Service.cli(s.to_env(), tmp_path / "api.log", "run", "api", "--port", str(api_port))
    try:
        assert wait_until(
            lambda: projected(s, skus) == {"MUG-1": 1, "MUG-2": 2, "MUG-3": 3} or None,
            60,
            "the projector to write every SKU to Redis",
            0.2,
            all_alive(projector),
        )
        status, body = wait_until(
            lambda: (
                (r := http_get(f"http://127.0.0.1:{api_port}/availability/MUG-3"))[0] == 200 and r
            ),
            30,
            "the API to answer",
            0.2,
            all_alive(api),
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
        wait_until(
            lambda: any(
                r.key == b"SEC-1" for r in read_all(s, s.topic_prefix + catalogue.AVAILABILITY)
            ),
            60,
            "the availability of SEC-1",
            0.2,
        )
    finally:
        worker.kill()
