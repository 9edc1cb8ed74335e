"""The marketplace sync worker as a process, against real Kafka and Redis and a stub marketplace."""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict

import orjson
import pytest
from adapter_harness import Deployment, StubMarketplace, wait_until

from stocksignal import bootstrap
from stocksignal.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]
CHANNEL = "mkt"


def sync_env(dep: Deployment, stub: StubMarketplace, **overrides: str) -> dict[str, str]:
    settings = {
        "STOCKSIGNAL_MARKETPLACE_URL": stub.url,
        "STOCKSIGNAL_MARKETPLACE_ALLOW_HTTP": "true",  # the stub is plain HTTP (HTTPS: test_marketplace_tls.py)
        "STOCKSIGNAL_MARKETPLACE_RATE_PER_S": "50",
        "STOCKSIGNAL_MARKETPLACE_BURST": "5",
        "STOCKSIGNAL_MARKETPLACE_BATCH_SIZE": "50",
        "STOCKSIGNAL_MARKETPLACE_LINGER_MS": "50",
        "STOCKSIGNAL_MARKETPLACE_TIMEOUT_S": "1",
        "STOCKSIGNAL_MARKETPLACE_BACKOFF_BASE_MS": "50",
        "STOCKSIGNAL_MARKETPLACE_BACKOFF_MAX_MS": "500",
    }
    settings.update(overrides)
    return dep.env(**settings)


def start_sync(processes, dep, stub, **overrides):
    return processes(
        ["run", "marketplace-sync", "--channel", CHANNEL], sync_env(dep, stub, **overrides)
    )


def group(dep: Deployment) -> str:
    return f"{dep.prefix}-sync-{CHANNEL}"


def versions_by_sku(stub: StubMarketplace) -> dict[str, list[tuple[int, int]]]:
    seen: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for update in stub.accepted():
        seen[update["sku"]].append((update["version"], update["available"]))
    return seen


def assert_never_older_never_unchanged(stub: StubMarketplace) -> None:
    for sku, history in versions_by_sku(stub).items():
        versions = [v for v, _ in history]
        assert versions == sorted(set(versions)), (
            f"{sku}: versions pushed out of order or twice: {versions}"
        )
        values = [a for _, a in history]
        assert all(a != b for a, b in zip(values, values[1:])), (
            f"{sku}: an unchanged value was pushed: {values}"
        )


def test_every_final_value_arrives_despite_429_500_timeouts_and_drops(
    deployment, stub_marketplace, processes
):
    dep, stub = deployment, stub_marketplace
    dep.extra_env["STOCKSIGNAL_MARKETPLACE_GROUP"] = group(dep)
    stub.faults = ["429", "500", "slow", "drop", "429-date", "503-retry-after"]
    rng = random.Random(7)
    final = {}
    for i in range(120):
        sku = f"SKU-{i}"
        values = {v: rng.randrange(0, 6) for v in range(1, 5)}
        order = [1, 2, 3, 4, 4, 2]
        rng.shuffle(order)  # out of order and repeated, within the SKU's partition
        for version in order:
            dep.producer.send(sku, version, {"default": 99, CHANNEL: values[version]})
        final[sku] = values[4]
    dep.producer.flush()

    worker = start_sync(processes, dep, stub)
    wait_until(lambda: stub.values() == final, 60, "every SKU's last value at the marketplace")
    wait_until(lambda: dep.committed(group(dep)) == dep.end_offsets(), 30, "the commit to the end")
    assert stub.faults == [], "every injected fault was met"
    assert_never_older_never_unchanged(stub)

    received = stub.received()
    for i, request in enumerate(received[:-1]):
        if request.fault in ("429", "429-date", "503-retry-after"):
            # Retry-After: 1 s, or an HTTP-date 1-2 s ahead (whole seconds): honoured.
            waited = received[i + 1].at - request.at
            assert waited >= 0.9, f"retried {waited:.2f}s after {request.fault} asking for >= 1 s"
    assert worker.stop() == 0, worker.output()


def test_zero_crossings_go_first_and_a_restart_pushes_nothing_unchanged(
    deployment, stub_marketplace, processes
):
    dep, stub = deployment, stub_marketplace
    dep.extra_env["STOCKSIGNAL_MARKETPLACE_GROUP"] = group(dep)
    send = dep.producer.send
    for i in range(40):
        send(f"P-{i}", 1, {CHANNEL: 5})
    for i in range(5):
        send(f"Z-{i}", 1, {CHANNEL: 0})
    for i in range(3):
        send(f"R-{i}", 1, {CHANNEL: 5, "default": 5})
    send("N-0", 1, {"default": 5})  # never lists the channel
    dep.producer.flush()
    phase1 = (
        {f"P-{i}": (5, 1) for i in range(40)}
        | {f"Z-{i}": (0, 1) for i in range(5)}
        | {f"R-{i}": (5, 1) for i in range(3)}
    )

    first = start_sync(processes, dep, stub)
    wait_until(lambda: stub.latest() == phase1, 30, "the first values")
    wait_until(lambda: dep.committed(group(dep)) == dep.end_offsets(), 30, "the first commit")
    assert first.stop() == 0, first.output()
    pushed_before = len(stub.accepted())
    requests_before = len(stub.received())

    # While the worker is down: ordinary changes first, the zero-crossings last.
    for i in range(30):
        send(f"P-{i}", 2, {CHANNEL: 6})
    for i in range(35, 40):
        send(f"P-{i}", 2, {CHANNEL: 5})  # a new version, the same value: nothing to push
    send("N-0", 2, {"default": 4})  # still no value for the channel: nothing to withdraw
    for i in range(30, 35):
        send(f"P-{i}", 2, {CHANNEL: 0})  # to zero
    for i in range(5):
        send(f"Z-{i}", 2, {CHANNEL: 3})  # from zero
    for i in range(3):
        send(f"R-{i}", 2, {"default": 5})  # the channel was removed: withdraw with 0
    dep.producer.flush()
    crossing = (
        {f"P-{i}" for i in range(30, 35)}
        | {f"Z-{i}" for i in range(5)}
        | {f"R-{i}" for i in range(3)}
    )
    final = dict(phase1)
    final |= {f"P-{i}": (6, 2) for i in range(30)} | {f"P-{i}": (0, 2) for i in range(30, 35)}
    final |= {f"Z-{i}": (3, 2) for i in range(5)} | {f"R-{i}": (0, 2) for i in range(3)}

    # Slow enough that the order of requests matters: 2 requests/s, 10 updates each.
    second = start_sync(
        processes,
        dep,
        stub,
        STOCKSIGNAL_MARKETPLACE_RATE_PER_S="2",
        STOCKSIGNAL_MARKETPLACE_BURST="1",
        STOCKSIGNAL_MARKETPLACE_BATCH_SIZE="10",
    )
    wait_until(lambda: stub.latest() == final, 60, "the second values")
    wait_until(lambda: dep.committed(group(dep)) == dep.end_offsets(), 30, "the second commit")
    assert second.stop() == 0, second.output()

    pushed = stub.accepted()[pushed_before:]
    assert {u["sku"] for u in pushed[: len(crossing)]} == crossing, (
        "changes to and from 0 went first"
    )
    assert len(pushed) == 30 + len(crossing), (
        "unchanged values and the never-listed SKU were not pushed"
    )
    assert "N-0" not in {u["sku"] for u in stub.accepted()}
    assert_never_older_never_unchanged(stub)
    times = [r.at for r in stub.received()[requests_before:]]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps and min(gaps) >= 0.4, f"2 requests/s with a burst of 1, yet gaps of {gaps}"


def test_refused_updates_go_to_the_workers_own_dead_letter_topic(
    deployment, stub_marketplace, processes, kafka_admin
):
    dep, stub = deployment, stub_marketplace
    dep.extra_env["STOCKSIGNAL_MARKETPLACE_GROUP"] = group(dep)
    dlq = f"{dep.prefix}.stocksignal.marketplace-sync.dlq.v1"
    stub.reject = {"BAD-1", "BAD-2"}
    skus = [f"SKU-{i}" for i in range(38)] + ["BAD-1", "BAD-2"]
    for sku in skus:
        dep.producer.send(sku, 1, {CHANNEL: 7})
    dep.producer.flush()
    try:
        worker = start_sync(processes, dep, stub)
        good = {f"SKU-{i}": 7 for i in range(38)}
        wait_until(lambda: stub.values() == good, 30, "the accepted updates")
        wait_until(
            lambda: dep.committed(group(dep)) == dep.end_offsets(),
            30,
            "the commit past the refused ones",
        )
        letters = _read_all(dep.settings(), dlq, 2)
        assert worker.stop() == 0, worker.output()
    finally:
        kafka_admin.delete_topics([dlq])
    assert sorted(m.key() for m in letters) == [b"BAD-1", b"BAD-2"]
    for message in letters:
        headers = dict(message.headers())
        assert headers["dlq.reason"] == b"REJECTED"
        assert headers["dlq.status"] == b"422"
        assert headers["dlq.channel"] == CHANNEL.encode()
        value = orjson.loads(message.value())
        assert value["reason"] == "REJECTED" and value["status"] == 422
        assert value["payload"]["channel_id"] == CHANNEL
        assert value["payload"]["updates"] == [
            {"sku": message.key().decode(), "available": 7, "version": 1}
        ]


def _read_all(settings: Settings, topic: str, expected: int) -> list:
    consumer = bootstrap.make_consumer(settings, topic + "-reader")
    consumer.subscribe([topic])
    messages: list = []
    try:
        wait_until(
            lambda: (
                messages.extend(m for m in consumer.consume(10, 0.2) if not m.error())
                or len(messages) >= expected
            ),
            30,
            f"{expected} records on {topic}",
        )
    finally:
        consumer.close()
    return messages


def test_the_worker_process_survives_sigkill(deployment, stub_marketplace, processes):
    dep, stub = deployment, stub_marketplace
    dep.extra_env["STOCKSIGNAL_MARKETPLACE_GROUP"] = group(dep)
    stub.delay_s = 0.02
    skus, versions, batch = 150, 8, 10

    def value(i: int, version: int) -> int:
        return (version + i) % 4

    def produce() -> None:
        for version in range(1, versions + 1):
            for i in range(skus):
                dep.producer.send(f"SKU-{i}", version, {CHANNEL: value(i, version)})
            dep.producer.flush()

    # Throttled (10 requests/s of 10 updates), so that it dies with work pending and in flight.
    first = start_sync(
        processes,
        dep,
        stub,
        STOCKSIGNAL_MARKETPLACE_RATE_PER_S="10",
        STOCKSIGNAL_MARKETPLACE_BURST="1",
        STOCKSIGNAL_MARKETPLACE_BATCH_SIZE=str(batch),
    )
    producer = threading.Thread(target=produce)
    producer.start()
    wait_until(lambda: len(stub.accepted()) >= 60, 60, "a part of the stream at the marketplace")
    first.kill9()
    final = {f"SKU-{i}": value(i, versions) for i in range(skus)}
    assert stub.values() != final, "killed mid-stream"
    producer.join(60)

    second = start_sync(
        processes,
        dep,
        stub,
        STOCKSIGNAL_MARKETPLACE_RATE_PER_S="100",
        STOCKSIGNAL_MARKETPLACE_BATCH_SIZE=str(batch),
    )
    wait_until(lambda: stub.values() == final, 90, "every SKU's last value after the restart")
    wait_until(lambda: dep.committed(group(dep)) == dep.end_offsets(), 30, "the commit to the end")
    assert second.stop() == 0, second.output()

    repeats = Counter((u["sku"], u["version"]) for u in stub.accepted())
    twice = [key for key, n in repeats.items() if n > 1]
    # Only the request in flight when the process died can be pushed again: acknowledged by the
    # marketplace, but not yet remembered in Redis.
    assert len(twice) <= batch, f"{len(twice)} updates pushed twice: {twice[:10]}"
    for sku, history in versions_by_sku(stub).items():
        pushed = [v for v, _ in history]
        assert pushed == sorted(pushed), f"{sku}: an older value overwrote a newer one: {pushed}"


def test_a_refused_credential_stops_the_worker_without_committing(
    deployment, stub_marketplace, processes
):
    dep, stub = deployment, stub_marketplace
    dep.extra_env["STOCKSIGNAL_MARKETPLACE_GROUP"] = group(dep)
    stub.status = 401
    for i in range(5):
        dep.producer.send(f"SKU-{i}", 1, {CHANNEL: 3})
    dep.producer.flush()
    worker = start_sync(processes, dep, stub)
    wait_until(lambda: not worker.alive(), 60, "the worker to stop")
    assert worker.popen.returncode == 2, worker.output()
    assert "credentials" in worker.output()
    # At most "the first record is still to do" (offset 0): the values go out after the fix.
    assert all(offset == 0 for offset in dep.committed(group(dep)).values()), dep.committed(
        group(dep)
    )
