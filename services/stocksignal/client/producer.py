"""``EventProducer``: send input events to their topics, checked, keyed, partitioned and framed.

Built from :class:`~stocksignal.settings.Settings` by the composition root
(``EventProducer.from_settings()`` calls ``stocksignal.bootstrap.make_event_producer``): the
same Kafka security settings, framing and idempotent producer as every stocksignal process.

- **Partition**: ``partition_for(key, partitions)`` from ``stocksignal.contract`` — Kafka's
  murmur2, the partitioner of Java clients and of the processor — computed here and given to
  librdkafka explicitly, so a producer built with another partitioner cannot misplace an
  event. Partition counts are read once per topic (they never change: docs/operations.md).
- **Delivery**: ``send`` returns a :class:`Delivery` (a future) at once; its ``result()``
  waits for the broker's acknowledgement and returns :class:`Delivered` (topic, partition,
  offset) or raises :class:`DeliveryFailed`. ``on_delivery`` callbacks run from ``poll``,
  ``flush`` and ``send`` in the caller's thread, as librdkafka's do.
- A bad event raises :class:`InvalidEvent` from ``send``, before anything is queued.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from stocksignal.client.encoder import EventEncoder, Prepared
from stocksignal.client.errors import DeliveryFailed, KafkaUnavailable, TopicMissing, Undelivered
from stocksignal.client.events import InputEvent
from stocksignal.contract import partition_for

Headers = Iterable[tuple[str, bytes | str | None]] | Mapping[str, bytes | str | None]


@dataclass(frozen=True)
class Delivered:
    """Where the broker stored an event."""

    record_name: str
    event_id: str
    topic: str
    partition: int
    offset: int
    key: str


class Delivery:
    """The pending acknowledgement of one event: a :class:`concurrent.futures.Future` of
    :class:`Delivered` whose ``result()`` serves the producer's callbacks while it waits."""

    def __init__(self, producer: EventProducer, prepared: Prepared, partition: int) -> None:
        self.record_name = prepared.record_name
        self.event_id = prepared.event_id
        self.topic = prepared.topic
        self.key = prepared.key
        self.partition = partition
        self.future: Future[Delivered] = Future()
        self._producer = producer

    def done(self) -> bool:
        return self.future.done()

    def result(self, timeout: float | None = 30.0) -> Delivered:
        """Wait (polling the producer) until the broker acknowledged the event; raises
        :class:`DeliveryFailed`, or ``TimeoutError`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.future.done():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(
                    f"{self.record_name} {self.event_id}: no acknowledgement within {timeout:g}s"
                )
            self._producer.poll(0.1 if left is None else min(0.1, left))
        return self.future.result()

    def exception(self) -> BaseException | None:
        """The failure once done (None: delivered); call when :meth:`done`."""
        return self.future.exception(timeout=0)

    def _settle(self, err: Any, msg: Any) -> None:
        if err is not None:
            retriable = bool(getattr(err, "retriable", lambda: False)())
            self.future.set_exception(
                DeliveryFailed(
                    f"{self.record_name} {self.event_id} to {self.topic}: not delivered: {err.str()}",
                    reason=err.str(),
                    event_id=self.event_id,
                    retriable=retriable,
                )
            )
        else:
            self.future.set_result(
                Delivered(
                    self.record_name,
                    self.event_id,
                    msg.topic(),
                    msg.partition(),
                    msg.offset(),
                    self.key,
                )
            )


class EventProducer:
    def __init__(
        self,
        producer: Any,
        encoder: EventEncoder,
        *,
        metadata_timeout: float = 10.0,
        queue_timeout: float = 60.0,
    ) -> None:
        """``producer``: a confluent-kafka ``Producer`` (use :meth:`from_settings`)."""
        self.producer = producer
        self.encoder = encoder
        self.metadata_timeout = metadata_timeout
        self.queue_timeout = queue_timeout
        self._partitions: dict[str, int] = {}

    @classmethod
    def from_settings(
        cls, settings: Any = None, *, source: str | None = None, **producer_overrides: Any
    ) -> EventProducer:
        """Built by the composition root from ``settings`` (default: read from the environment)."""
        from stocksignal import bootstrap

        settings = bootstrap.settings_from_env() if settings is None else settings
        return bootstrap.make_event_producer(settings, source=source, **producer_overrides)

    def send(
        self,
        event: InputEvent | str,
        record: Mapping[str, Any] | None = None,
        *,
        headers: Headers | None = None,
        on_delivery: Callable[[Delivery], None] | None = None,
    ) -> Delivery:
        """Check, encode and queue one event: ``send(OrderPlaced(...))`` or
        ``send("OrderPlaced", {...})``. Raises :class:`InvalidEvent` (nothing queued) or
        :class:`TopicMissing`."""
        prepared = self.encoder.prepare(event, record)
        return self.send_prepared(prepared, headers=headers, on_delivery=on_delivery)

    def send_prepared(
        self,
        prepared: Prepared,
        *,
        headers: Headers | None = None,
        on_delivery: Callable[[Delivery], None] | None = None,
    ) -> Delivery:
        partition = partition_for(prepared.key, self.partitions(prepared.topic))
        delivery = Delivery(self, prepared, partition)

        def delivered(err: Any, msg: Any) -> None:
            delivery._settle(err, msg)
            if on_delivery is not None:
                on_delivery(delivery)

        self._produce(prepared, partition, _headers(headers), delivered)
        return delivery

    def _produce(
        self, prepared: Prepared, partition: int, headers: list | None, delivered: Callable
    ) -> None:
        deadline = time.monotonic() + self.queue_timeout
        while True:
            try:
                self.producer.produce(
                    prepared.topic,
                    prepared.value,
                    prepared.key.encode(),
                    partition=partition,
                    headers=headers,
                    on_delivery=delivered,
                )
                break
            except BufferError:  # librdkafka's queue is full: let deliveries drain it
                if time.monotonic() > deadline:
                    raise
                self.producer.poll(0.1)
        self.producer.poll(0)

    def partitions(self, topic: str) -> int:
        """The partition count of ``topic``, read once; :class:`TopicMissing` when it does not exist."""
        count = self._partitions.get(topic)
        if count is None:
            count = self._partitions[topic] = self._read_partitions(topic)
        return count

    def _read_partitions(self, topic: str) -> int:
        from confluent_kafka import KafkaException

        # The whole cluster's metadata, not the topic's: asking for one topic by name lets a
        # broker with auto.create.topics.enable create it, with whatever partition count it has.
        try:
            topics = self.producer.list_topics(timeout=self.metadata_timeout).topics
        except KafkaException as exc:
            raise KafkaUnavailable(
                f"Kafka does not answer ({exc.args[0].str() if exc.args else exc}); "
                "is KAFKA_BOOTSTRAP_SERVERS right?"
            ) from None
        meta = topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            prefix = self.encoder.topic_prefix
            where = f" (STOCKSIGNAL_TOPIC_PREFIX={prefix!r})" if prefix else ""
            raise TopicMissing(
                f"topic {topic} does not exist{where}; `stocksignal topics create` creates it"
            )
        return len(meta.partitions)

    def poll(self, timeout: float = 0) -> int:
        """Serve delivery callbacks; returns how many ran."""
        return self.producer.poll(timeout)

    def flush(self, timeout: float = 30.0) -> int:
        """Wait until every queued event is acknowledged (or ``timeout``); returns how many are left."""
        return self.producer.flush(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Flush; :class:`Undelivered` if events are still waiting after ``timeout``."""
        left = self.flush(timeout)
        if left:
            raise Undelivered(left, timeout)

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.flush(5.0)  # already failing: deliver what can be, report the first error


def _headers(headers: Headers | None) -> list[tuple[str, bytes | None]] | None:
    if headers is None:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(k, v.encode() if isinstance(v, str) else v) for k, v in items]
