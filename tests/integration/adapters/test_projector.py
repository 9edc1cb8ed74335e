"""The Redis projector against a real Kafka and a real Redis (shared, or the test's own)."""

from __future__ import annotations

import random
import threading

import pytest
from adapter_harness import PrivateRedis, wait_until
from projector_harness import InProcessProjector, meta, projected, ready

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def channels_of(sku_index: int, version: int) -> dict[str, int]:
    """Version 4 of every third SKU no longer lists the "web" channel."""
    channels = {"default": version * 10 + sku_index % 7}
    if not (version == 4 and sku_index % 3 == 0):
        channels["web"] = version
    return channels


def test_newest_version_wins_whatever_the_delivery_order(deployment):
    dep = deployment
    rng = random.Random(5)
    with InProcessProjector(dep.settings()) as proj:
        # Readiness: the projector has looked at Redis (an empty topic: nothing to replay).
        wait_until(
            lambda: ready(dep.redis(), dep.redis_prefix),
            30,
            "the projector to claim the read model",
        )
        records = []
        for i in range(30):
            versions = [1, 2, 3, 4, 4, 2]  # repeats, like a processor re-sending after a crash
            rng.shuffle(versions)
            records += [(f"SKU-{i}", v) for v in versions]
        rng.shuffle(records)  # per SKU the order stays shuffled: each SKU has one partition
        newest: dict[str, int] = {}
        expected_writes = 0
        for sku, version in records:
            index = int(sku.split("-")[1])
            dep.producer.send(sku, version, channels_of(index, version))
            if version > newest.get(sku, 0):
                newest[sku] = version
                expected_writes += 1
        dep.producer.send_raw(b"SKU-junk", b"not avro")
        dep.producer.send_raw(b"SKU-gone", None)
        dep.producer.flush()

        client = dep.redis()
        expected = {f"SKU-{i}": (4, channels_of(i, 4)) for i in range(30)}
        wait_until(
            lambda: projected(client, dep.redis_prefix) == expected, 30, "every SKU at version 4"
        )
        wait_until(
            lambda: dep.committed(dep.prefix + "-projector") == dep.end_offsets(),
            30,
            "offsets committed up to the end",
        )
        assert proj.sample("stocksignal_projector_writes_total") == expected_writes
        assert (
            proj.sample("stocksignal_projector_stale_writes_refused_total")
            == len(records) - expected_writes
        )
        assert proj.sample("stocksignal_projector_skipped_records_total", reason="undecodable") == 1
        assert proj.sample("stocksignal_projector_skipped_records_total", reason="tombstone") == 1
        assert proj.sample("stocksignal_projector_rebuilds_total", reason="empty") == 1
        # SKU-0's version 4 no longer lists "web": the field is gone, not left over from version 3.
        assert "ch:web" not in client.hgetall(f"{dep.redis_prefix}avail:SKU-0")
        assert "ch:web" in client.hgetall(f"{dep.redis_prefix}avail:SKU-1")


def test_an_emptied_redis_is_noticed_while_running_and_rebuilt(
    private_deployment, private_redis: PrivateRedis
):
    dep = private_deployment
    with InProcessProjector(dep.settings()) as proj:
        for i in range(50):
            dep.producer.send(f"SKU-{i}", 1, {"default": i})
        dep.producer.flush()
        expected = {f"SKU-{i}": (1, {"default": i}) for i in range(50)}
        wait_until(
            lambda: projected(private_redis.client(), dep.redis_prefix) == expected,
            30,
            "the first projection",
        )

        private_redis.kill()
        private_redis.start()  # no persistence: back empty
        assert projected(private_redis.client(), dep.redis_prefix) == {}

        wait_until(
            lambda: projected(private_redis.client(), dep.redis_prefix) == expected,
            30,
            "the rebuild",
        )
        wait_until(
            lambda: ready(private_redis.client(), dep.redis_prefix), 30, "the rebuild to finish"
        )
        # One rebuild when the projector first met the empty Redis, one after the restart.
        assert proj.sample("stocksignal_projector_rebuilds_total", reason="empty") == 2


def test_a_redis_back_with_a_stale_snapshot_is_rebuilt(
    private_deployment, private_redis: PrivateRedis
):
    dep = private_deployment
    v1 = {f"SKU-{i}": (1, {"default": i, "web": i}) for i in range(40)}
    v2 = {f"SKU-{i}": (2, {"default": i + 100}) for i in range(40)}  # "web" removed in v2
    with InProcessProjector(dep.settings()):
        for sku, (version, channels) in v1.items():
            dep.producer.send(sku, version, channels)
        dep.producer.flush()
        wait_until(
            lambda: projected(private_redis.client(), dep.redis_prefix) == v1, 30, "version 1"
        )
        private_redis.client().save()  # the snapshot a Debian-configured Redis would come back with
        for sku, (version, channels) in v2.items():
            dep.producer.send(sku, version, channels)
        dep.producer.flush()
        wait_until(
            lambda: projected(private_redis.client(), dep.redis_prefix) == v2, 30, "version 2"
        )
        committed = dep.committed(dep.prefix + "-projector")

    private_redis.kill()
    private_redis.start()
    stale = private_redis.client()
    assert projected(stale, dep.redis_prefix) == v1, "Redis came back with the old snapshot"
    assert "run_id" in meta(stale, dep.redis_prefix), "the snapshot even holds the meta hash"
    assert committed == dep.end_offsets(), "Kafka says everything was projected"

    with InProcessProjector(dep.settings()) as proj:
        wait_until(
            lambda: projected(private_redis.client(), dep.redis_prefix) == v2,
            30,
            "the rebuild to version 2",
        )
        wait_until(
            lambda: ready(private_redis.client(), dep.redis_prefix), 30, "the rebuild to finish"
        )
        assert proj.sample("stocksignal_projector_rebuilds_total", reason="restarted") == 1


def test_offsets_wait_for_redis_to_acknowledge(private_deployment, private_redis: PrivateRedis):
    dep = private_deployment
    group = dep.prefix + "-projector"
    with InProcessProjector(dep.settings()) as proj:
        for i in range(20):
            dep.producer.send(f"SKU-{i}", 1, {"default": i})
        dep.producer.flush()
        wait_until(lambda: dep.committed(group) == dep.end_offsets(), 30, "the first commit")
        before = dep.committed(group)

        private_redis.kill()
        for i in range(20):
            dep.producer.send(f"SKU-{i}", 2, {"default": i + 1})
        dep.producer.flush()
        wait_until(
            lambda: proj.sample("stocksignal_projector_redis_errors_total") >= 2,
            30,
            "the projector to fail writing to the dead Redis",
        )
        assert dep.committed(group) == before, "nothing committed that Redis did not acknowledge"

        private_redis.start()
        expected = {f"SKU-{i}": (2, {"default": i + 1}) for i in range(20)}
        wait_until(
            lambda: projected(private_redis.client(), dep.redis_prefix) == expected,
            30,
            "the catch-up",
        )
        wait_until(
            lambda: dep.committed(group) == dep.end_offsets(), 30, "the commit after the catch-up"
        )


def test_the_projector_process_survives_sigkill(deployment, processes):
    dep = deployment
    skus, versions = 300, 10
    first = processes(["run", "projector"], dep.env())
    wait_until(
        lambda: ready(dep.redis(), dep.redis_prefix), 30, "the projector to claim the read model"
    )

    def produce() -> None:
        for version in range(1, versions + 1):
            for i in range(skus):
                dep.producer.send(f"SKU-{i}", version, {"default": version, "web": i})
            dep.producer.flush()

    producer = threading.Thread(target=produce)
    producer.start()
    wait_until(
        lambda: len(projected(dep.redis(), dep.redis_prefix)) >= skus // 2,
        30,
        "a part of the stream",
    )
    first.kill9()
    producer.join(60)

    second = processes(["run", "projector"], dep.env())
    expected = {f"SKU-{i}": (versions, {"default": versions, "web": i}) for i in range(skus)}
    wait_until(
        lambda: projected(dep.redis(), dep.redis_prefix) == expected,
        60,
        "every SKU at its last version",
    )
    wait_until(
        lambda: dep.committed(dep.prefix + "-projector") == dep.end_offsets(),
        30,
        "the commit to the end",
    )
    assert second.alive(), second.output()
    assert "rebuilding" not in second.output(), "Redis kept its data: no rebuild was needed"
