"""The partitioner agrees with Java's and librdkafka's murmur2 (their own test vectors); the
integration test tests/integration/test_partition_agreement.py checks it against librdkafka's
choices on a real broker."""

from __future__ import annotations

import random

import pytest

from stocksignal.contract.partitioning import confluent_producer_config, murmur2, partition_for

# Apache Kafka's UtilsTest.testMurmur2 (Java signed ints).
JAVA_VECTORS = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
]
# librdkafka's rdmurmur2.c unit test (the hash behind confluent-kafka's murmur2_random).
LIBRDKAFKA_VECTORS = [
    (b"kafka", 0xD067CF64),
    (b"giberish123456789", 0x8F552B0C),
    (b"1234", 0x9FC97B14),
    (b"234", 0xE7C009CA),
    (b"34", 0x873930DA),
    (b"4", 0x5A4B5CA1),
    (b"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424F1C),
    (b"reAmbleWillBeRemoved,ThePrePartThatIs", 0x4A62B377),
    (b"eAmbleWillBeRemoved,ThePrePartThatIs", 0xE0E4E09E),
    (b"AmbleWillBeRemoved,ThePrePartThatIs", 0x62B8B43F),
    (b"", 0x106E08D9),
]


@pytest.mark.parametrize("data, expected", JAVA_VECTORS)
def test_murmur2_matches_kafkas_java_vectors(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


@pytest.mark.parametrize("data, expected", LIBRDKAFKA_VECTORS)
def test_murmur2_matches_librdkafkas_vectors(data: bytes, expected: int) -> None:
    assert murmur2(data) & 0xFFFFFFFF == expected


def _java_partition(data: bytes, partitions: int) -> int:
    """Java's ``Utils.toPositive(Utils.murmur2(key)) % numPartitions``, written out."""
    return (murmur2(data) & 0x7FFFFFFF) % partitions


def test_str_and_utf8_bytes_keys_land_alike() -> None:
    rng = random.Random(7)
    alphabets = [
        "abcdefghijklmnopqrstuvwxyz0123456789-_",
        "äöüßéèçñøå",
        "日本語の商品コード",
        "🙂📦🚚",
    ]
    for _ in range(2000):
        key = "".join(rng.choice(rng.choice(alphabets)) for _ in range(rng.randint(0, 40)))
        partitions = rng.randint(1, 64)
        assert partition_for(key, partitions) == partition_for(key.encode("utf-8"), partitions)
        assert partition_for(key, partitions) == _java_partition(key.encode("utf-8"), partitions)


def test_keys_spread_over_partitions() -> None:
    counts = [0] * 12
    for i in range(12_000):
        counts[partition_for(f"SKU-{i:06d}", 12)] += 1
    assert min(counts) > 800, counts


def test_partition_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="partitions must be >= 1"):
        partition_for("sku", 0)


def test_confluent_producers_use_murmur2_random() -> None:
    config = confluent_producer_config({"bootstrap.servers": "127.0.0.1:9092", "acks": "all"})
    assert config == {
        "bootstrap.servers": "127.0.0.1:9092", "acks": "all", "partitioner": "murmur2_random"
    }  # fmt: skip
    assert confluent_producer_config() == {"partitioner": "murmur2_random"}
    with pytest.raises(ValueError, match="would place keys differently"):
        confluent_producer_config({"partitioner": "consistent_random"})
