"""One partitioner everywhere: Kafka's murmur2 on the UTF-8 key bytes.

``partition_for`` equals Java's default partitioner for keyed records and librdkafka's
``murmur2_random`` partitioner. librdkafka's *default* is ``consistent_random`` (CRC32), which
disagrees, so every confluent-kafka producer we build takes :func:`confluent_producer_config`.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

SEED = 0x9747B28C
M = 0x5BD1E995
MASK32 = 0xFFFFFFFF

CONFLUENT_PARTITIONER = "murmur2_random"

_words = struct.Struct("<I")


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2``: MurmurHash2, 32-bit, seed 0x9747b28c; a signed int like Java's."""
    length = len(data)
    h = (SEED ^ length) & MASK32
    tail = length & ~3
    for (k,) in _words.iter_unpack(data[:tail]):
        k = (k * M) & MASK32
        k ^= k >> 24
        k = (k * M) & MASK32
        h = ((h * M) & MASK32) ^ k
    rest = length & 3
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * M) & MASK32
    h ^= h >> 13
    h = (h * M) & MASK32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(key: bytes | str, partitions: int) -> int:
    """The partition of a non-null key: ``(murmur2(key) & 0x7fffffff) % partitions``."""
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    data = key.encode("utf-8") if isinstance(key, str) else key
    return (murmur2(data) & 0x7FFFFFFF) % partitions


def confluent_producer_config(base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A confluent-kafka producer config that partitions like everything else here."""
    config = dict(base or {})
    chosen = config.setdefault("partitioner", CONFLUENT_PARTITIONER)
    if chosen != CONFLUENT_PARTITIONER:
        raise ValueError(
            f"partitioner {chosen!r} would place keys differently from Java clients and the processor; "
            f"use {CONFLUENT_PARTITIONER!r}"
        )
    return config
