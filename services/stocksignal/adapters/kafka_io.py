"""Kafka helpers the projector and the sync worker share: topic names, commits, lag."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin import NewTopic

from stocksignal.contract.topics import AVAILABILITY
from stocksignal.settings import Settings

log = logging.getLogger(__name__)


def availability_topic(settings: Settings) -> str:
    return settings.topic_prefix + AVAILABILITY


def next_offsets(messages: Iterable[Message]) -> dict[int, int]:
    """partition -> the offset to commit after ``messages`` (last offset + 1)."""
    offsets: dict[int, int] = {}
    for message in messages:
        offsets[message.partition()] = max(
            offsets.get(message.partition(), 0), message.offset() + 1
        )
    return offsets


def commit(consumer: Any, topic: str, offsets: dict[int, int]) -> bool:
    """Synchronous commit; False when the group moved on (the records come back to the owner)."""
    if not offsets:
        return True
    try:
        consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in sorted(offsets.items())],
            asynchronous=False,
        )
    except KafkaException as exc:
        # A rebalance between consume() and commit(): harmless, the new owner re-reads them.
        log.warning("commit of %s %s failed: %s", topic, offsets, exc)
        return False
    return True


def lag(consumer: Any, partitions: Iterable[TopicPartition]) -> dict[int, int]:
    """partition -> records between the position and the end, from cached watermarks (no I/O)."""
    result: dict[int, int] = {}
    parts = list(partitions)
    if not parts:
        return result
    for tp in consumer.position(parts):
        _, high = consumer.get_watermark_offsets(tp, cached=True)
        if high >= 0 and tp.offset >= 0:
            result[tp.partition] = max(0, high - tp.offset)
    return result


# Errors a healthy cluster returns for a moment (a new topic's leaders being elected, a
# broker restarting): retry them, never crash on them.
_TRANSIENT = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._WAIT_COORD,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR,
}


def is_transient(exc: KafkaException) -> bool:
    err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
    return err is not None and not err.fatal() and (err.retriable() or err.code() in _TRANSIENT)


def end_offsets(consumer: Any, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """partition -> end offset of every partition that has (or had) records."""
    metadata = consumer.list_topics(topic, timeout=timeout).topics[topic]
    if metadata.error is not None:
        raise KafkaException(metadata.error)
    ends = {}
    for partition in metadata.partitions:
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=timeout
        )
        if high > low:
            ends[partition] = high
    return ends


def ensure_topic(
    admin: Any, name: str, partitions: int, replication: int, timeout: float = 30.0
) -> None:
    """Create ``name`` unless it exists (the broker does not create topics on first use)."""
    future = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=replication)],
        operation_timeout=timeout,
    )[name]
    try:
        future.result(timeout)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
