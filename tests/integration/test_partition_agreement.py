"""One partitioner everywhere (docs/contract.md#partitioning), checked against a real broker.

The router computes command partitions with ``partition_for``, and so do the inspection API
(which worker owns a SKU) and the timers; producers of the input topics use librdkafka's
``murmur2_random``. Here librdkafka chooses the partitions itself and we compare.
"""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from stocksignal.contract import confluent_producer_config, partition_for

pytestmark = pytest.mark.integration

KEYS = [f"SKU-{i:05d}" for i in range(500)] + ["Ünïcødé-ß", "a", "x" * 128, "LAMP-OAK", "MUG-BLUE"]


@pytest.mark.parametrize("partitions", [3, 6, 7])
def test_librdkafka_murmur2_random_lands_where_partition_for_says(
    kafka_bootstrap, create_topic, topic_name, partitions
):
    topic = create_topic(f"{topic_name}-{partitions}", partitions)
    landed: dict[str, int] = {}
    producer = Producer(confluent_producer_config({"bootstrap.servers": kafka_bootstrap}))
    for key in KEYS:
        producer.produce(
            topic,
            b"v",
            key.encode(),
            on_delivery=lambda err, msg: landed.__setitem__(msg.key().decode(), msg.partition()),
        )
    assert producer.flush(30) == 0
    assert landed == {k: partition_for(k, partitions) for k in KEYS}
