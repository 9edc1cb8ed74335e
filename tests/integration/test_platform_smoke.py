"""The platform the tests run on is real: Kafka keeps order and honours transactions, Redis answers.

These run against whatever tests/conftest.py found (your KAFKA_BOOTSTRAP_SERVERS / REDIS_URL, the
local platform or containers), so they also tell you quickly that an environment is usable.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

import pytest
import redis
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

RECORDS = 10_000
PARTITIONS = 3


def _consume(consumer: Consumer, expected: int, timeout: float = 60.0) -> list[Message]:
    """Up to `expected` records, then one more short poll so that extra records are seen too."""
    deadline = time.monotonic() + timeout
    messages: list[Message] = []
    while len(messages) < expected and time.monotonic() < deadline:
        messages.extend(consumer.consume(num_messages=1000, timeout=0.5))
    messages.extend(consumer.consume(num_messages=1000, timeout=1.0))
    for message in messages:
        if message.error():
            raise KafkaException(message.error())
    return messages


def test_ten_thousand_records_come_back_once_each_in_partition_order(
    kafka_bootstrap: str, create_topic: Callable[..., str], topic_name: str, group_id: str
) -> None:
    create_topic(topic_name, partitions=PARTITIONS)
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True, "linger.ms": 5}
    )
    failures = []

    def on_delivery(err, _message) -> None:
        if err is not None:
            failures.append(err)

    for seq in range(RECORDS):
        producer.produce(
            topic_name,
            key=f"sku-{seq % 50}".encode(),
            value=str(seq).encode(),
            on_delivery=on_delivery,
        )
        producer.poll(0)
    assert producer.flush(30) == 0, "records still queued after 30 s"
    assert failures == []

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": group_id,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic_name])
        messages = _consume(consumer, RECORDS)
        consumer.commit(asynchronous=False)
        committed = consumer.committed(
            [TopicPartition(topic_name, p) for p in range(PARTITIONS)], timeout=10
        )
    finally:
        consumer.close()

    sequences = sorted(int(m.value()) for m in messages)
    assert sequences == list(range(RECORDS)), "every record exactly once"

    by_partition: dict[int, list[Message]] = defaultdict(list)
    partitions_of_key: dict[bytes, set[int]] = defaultdict(set)
    for message in messages:
        by_partition[message.partition()].append(message)
        partitions_of_key[message.key()].add(message.partition())
    assert sorted(by_partition) == list(range(PARTITIONS)), "keys spread over every partition"
    assert all(len(parts) == 1 for parts in partitions_of_key.values()), (
        "a key stays on one partition"
    )
    for partition, records in by_partition.items():
        seqs = [int(m.value()) for m in records]
        assert seqs == sorted(seqs), f"partition {partition} returned records out of produce order"
        assert [m.offset() for m in records] == list(range(len(records)))

    assert {tp.partition: tp.offset for tp in committed} == {
        p: len(records) for p, records in by_partition.items()
    }, "the group's committed offsets are the end of each partition"


def _read_partition(
    bootstrap: str, topic: str, group: str, isolation: str, expected: int
) -> list[str]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "isolation.level": isolation,
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        return [m.value().decode() for m in _consume(consumer, expected, timeout=30)]
    finally:
        consumer.close()


def test_aborted_transaction_is_invisible_to_read_committed_consumers(
    kafka_bootstrap: str,
    create_topic: Callable[..., str],
    topic_name: str,
    unique_name: Callable[[str], str],
) -> None:
    create_topic(topic_name, partitions=1)
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "transactional.id": unique_name("txn")}
    )
    producer.init_transactions(30)
    aborted = [f"aborted-{i}" for i in range(5)]
    committed = [f"committed-{i}" for i in range(5)]

    producer.begin_transaction()
    for value in aborted:
        producer.produce(topic_name, value=value.encode())
    producer.flush(30)  # the aborted records really reach the log before the abort
    producer.abort_transaction(30)
    producer.begin_transaction()
    for value in committed:
        producer.produce(topic_name, value=value.encode())
    producer.commit_transaction(30)

    assert (
        _read_partition(kafka_bootstrap, topic_name, unique_name("rc"), "read_committed", 5)
        == committed
    )
    # The same log read without isolation shows the aborted records were written: the test
    # above passes because of the transaction markers, not because nothing was sent.
    assert _read_partition(
        kafka_bootstrap, topic_name, unique_name("ru"), "read_uncommitted", 10
    ) == (aborted + committed)


# Redis's Lua runs atomically: the read model's "write only if the version is newer" needs it.
SET_IF_NEWER = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'ats', ARGV[2])
return 1
"""


def test_redis_round_trip_and_atomic_script(
    redis_url: str, unique_name: Callable[[str], str]
) -> None:
    client = redis.Redis.from_url(redis_url)
    key = unique_name("availability")
    try:
        assert client.set(key, "7", px=60_000)
        assert client.get(key) == b"7"
        assert client.delete(key) == 1

        set_if_newer = client.register_script(SET_IF_NEWER)
        assert set_if_newer(keys=[key], args=[2, 5]) == 1
        assert set_if_newer(keys=[key], args=[1, 9]) == 0, "an older version must not overwrite"
        assert client.hgetall(key) == {b"version": b"2", b"ats": b"5"}
    finally:
        client.delete(key)
