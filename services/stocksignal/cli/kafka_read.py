"""Reading topics from the command line: to their current end, and on as records arrive.

No consumer group is joined and nothing is committed: each reader assigns partitions itself
(a throwaway ``group.id`` is required by librdkafka but never used for offsets).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from stocksignal import bootstrap
from stocksignal.cli.common import (
    TopicsNotReadyError,
    Unavailable,
    kafka_client_overrides,
    require_kafka,
)
from stocksignal.settings import Settings


@dataclass(frozen=True)
class Raw:
    """One record as Kafka holds it."""

    topic: str
    partition: int
    offset: int
    timestamp: int  # epoch ms (the record's log time)
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()

    def header_text(self) -> dict[str, str]:
        return {k: (v or b"").decode("utf-8", "replace") for k, v in self.headers}


class TopicReader:
    """Reads one topic from given offsets: :meth:`to_end` for what is there, :meth:`follow` for
    what comes next."""

    def __init__(self, settings: Settings, topic: str, timeout: float = 10.0) -> None:
        from confluent_kafka import KafkaException

        require_kafka(settings, timeout)  # exit 3 or 5 at once, not a consumer that waits
        self.topic = topic
        self.timeout = timeout
        self.consumer = bootstrap.make_consumer(
            settings,
            f"stocksignal-cli-reader-{uuid.uuid4().hex[:12]}",
            **{"enable.partition.eof": True, **kafka_client_overrides()},
        )
        try:
            metadata = self.consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        except KafkaException as exc:
            self.close()
            raise Unavailable(
                f"Kafka at {settings.kafka_bootstrap_servers} does not answer: {exc}"
            ) from exc
        if metadata is None or metadata.error is not None or not metadata.partitions:
            self.close()
            prefix = (
                f" (STOCKSIGNAL_TOPIC_PREFIX={settings.topic_prefix!r})"
                if settings.topic_prefix
                else ""
            )
            raise TopicsNotReadyError(
                f"topic {topic} does not exist{prefix}; run `stocksignal topics create`"
            )
        self.partitions = sorted(metadata.partitions)

    def watermarks(self, partitions: Iterable[int] | None = None) -> dict[int, tuple[int, int]]:
        """partition -> (low, high). Retried while a partition has no leader yet (a topic
        created a moment ago)."""
        from confluent_kafka import KafkaException, TopicPartition

        parts = self.partitions if partitions is None else list(partitions)
        out = {}
        deadline = time.monotonic() + 30
        for p in parts:
            while True:
                try:
                    out[p] = self.consumer.get_watermark_offsets(
                        TopicPartition(self.topic, p), timeout=self.timeout
                    )
                    break
                except KafkaException as exc:
                    error = exc.args[0] if exc.args else None
                    code = error.code() if hasattr(error, "code") else None
                    if code not in _NO_LEADER_YET or time.monotonic() > deadline:
                        raise Unavailable(
                            f"cannot read the offsets of {self.topic}[{p}]: {exc}"
                        ) from exc
                    time.sleep(0.2)
        return out

    def assign(self, starts: dict[int, int]) -> None:
        from confluent_kafka import TopicPartition

        self.consumer.assign([TopicPartition(self.topic, p, o) for p, o in sorted(starts.items())])

    def to_end(
        self,
        starts: dict[int, int],
        ends: dict[int, int],
        on_progress: Callable[[int], None] | None = None,
        timeout: float = 120.0,
    ) -> Iterator[Raw]:
        """Records from ``starts`` up to (not including) ``ends``, per partition; assigns the
        partitions so that :meth:`follow` can go on from there."""
        self.assign(starts)
        pending = {p for p in starts if starts[p] < ends.get(p, 0)}
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"reading {self.topic} did not reach its end within {timeout:.0f}s"
                )
            for msg in self.consumer.consume(500, 0.5):
                p = msg.partition()
                if msg.error() is not None:
                    if _is_eof(msg) and msg.offset() >= ends.get(p, 0):
                        pending.discard(p)
                    continue
                if msg.offset() >= ends.get(p, 0):
                    pending.discard(p)
                    continue  # arrived after we looked: follow() shows it
                if on_progress is not None:
                    on_progress(1)
                yield _raw(msg)
                if msg.offset() >= ends[p] - 1:
                    pending.discard(p)

    def follow(
        self, stop: Callable[[], bool] = lambda: False, poll_s: float = 0.5
    ) -> Iterator[Raw]:
        """Records as they arrive, after whatever was read, until ``stop()``."""
        while not stop():
            for msg in self.consumer.consume(500, poll_s):
                if msg.error() is not None:
                    continue
                yield _raw(msg)

    def close(self) -> None:
        try:
            self.consumer.close()
        except Exception:  # closing a consumer that never connected: nothing to clean up
            pass

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read_all(settings: Settings, topic: str, partitions: Iterable[int] | None = None) -> list[Raw]:
    """Every record of ``topic`` (optionally of some partitions), from the beginning to the end."""
    with TopicReader(settings, topic) as reader:
        marks = reader.watermarks(partitions)
        return list(
            reader.to_end(
                {p: lo for p, (lo, _) in marks.items()}, {p: hi for p, (_, hi) in marks.items()}
            )
        )


def _no_leader_yet() -> frozenset:
    from confluent_kafka import KafkaError

    return frozenset(
        {
            KafkaError.NOT_LEADER_FOR_PARTITION,
            KafkaError.LEADER_NOT_AVAILABLE,
            KafkaError.UNKNOWN_TOPIC_OR_PART,
            KafkaError._UNKNOWN_PARTITION,
            KafkaError._TIMED_OUT,
        }
    )


_NO_LEADER_YET = _no_leader_yet()


def _is_eof(msg: Any) -> bool:
    from confluent_kafka import KafkaError

    return msg.error().code() == KafkaError._PARTITION_EOF


def _raw(msg: Any) -> Raw:
    _, ts = msg.timestamp()
    return Raw(
        msg.topic(),
        msg.partition(),
        msg.offset(),
        ts,
        msg.key(),
        msg.value(),
        tuple(msg.headers() or ()),
    )
