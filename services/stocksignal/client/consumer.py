"""``OutputConsumer``: read the processor's outputs, decoded, each output once.

A consumer group member (``read_committed``, offsets committed only when you call
:meth:`OutputConsumer.commit`), built by the composition root:
``OutputConsumer.from_settings(group_id="my-service", topics=[AVAILABILITY])``. Repeats are
dropped with a :class:`~stocksignal.client.RepeatFilter` (``repeats_dropped`` counts them).
A record that does not decode raises :class:`UndecodableOutput` naming its topic, partition
and offset; the consumer has moved past it, so the next call goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from stocksignal.client.errors import ClientError
from stocksignal.client.repeats import RepeatFilter
from stocksignal.contract import topics as catalogue
from stocksignal.contract.errors import CodecError


class UndecodableOutput(ClientError):
    """An output record that our codec cannot read (a newer schema than this client's?)."""

    def __init__(self, topic: str, partition: int, offset: int, reason: str) -> None:
        super().__init__(f"{topic}[{partition}]@{offset} does not decode: {reason}")
        self.topic, self.partition, self.offset = topic, partition, offset


@dataclass(frozen=True)
class Output:
    topic: str
    partition: int
    offset: int
    key: str | None
    record_name: str
    record: dict[str, Any]


def output_topics(names: Iterable[str], prefix: str = "") -> list[str]:
    """Full names of output topics given by their contract names; refuses any other topic."""
    outputs = {t.name for t in catalogue.list_topics(catalogue.Role.OUTPUT)}
    chosen = list(names)
    wrong = [n for n in chosen if n not in outputs]
    if wrong or not chosen:
        raise ValueError(
            f"not output topics: {wrong or 'none given'}; outputs are {', '.join(sorted(outputs))}"
        )
    return [prefix + n for n in chosen]


class OutputConsumer:
    def __init__(
        self, consumer: Any, codec: Any, topics: list[str], repeats: RepeatFilter | None = None
    ) -> None:
        """``consumer``: a confluent-kafka ``Consumer`` (use :meth:`from_settings`); it is
        subscribed to ``topics`` (full names) here."""
        self.consumer = consumer
        self.codec = codec
        self.topics = topics
        self.repeats = repeats if repeats is not None else RepeatFilter()
        self.repeats_dropped = 0
        consumer.subscribe(topics)

    @classmethod
    def from_settings(
        cls,
        settings: Any = None,
        *,
        group_id: str,
        topics: Iterable[str] = (catalogue.AVAILABILITY,),
        repeats: RepeatFilter | None = None,
        **consumer_overrides: Any,
    ) -> OutputConsumer:
        """Built by the composition root; ``topics`` by their contract names (the prefix is added)."""
        from stocksignal import bootstrap

        settings = bootstrap.settings_from_env() if settings is None else settings
        return bootstrap.make_output_consumer(
            settings, group_id, topics, repeats=repeats, **consumer_overrides
        )

    def poll(self, timeout: float = 1.0) -> Output | None:
        """The next output not seen before, or None when none came within ``timeout``."""
        from confluent_kafka import KafkaError, KafkaException

        msg = self.consumer.poll(timeout)
        while msg is not None:
            err = msg.error()
            if err is None:
                out = self._decode(msg)
                if self.repeats.is_new(out.record_name, out.record):
                    return out
                self.repeats_dropped += 1
            elif err.code() != KafkaError._PARTITION_EOF:
                raise KafkaException(err)
            msg = self.consumer.poll(0)
        return None

    def outputs(self, timeout: float = 1.0) -> Iterator[Output]:
        """Outputs as they come, until ``timeout`` passes without a new one."""
        while (out := self.poll(timeout)) is not None:
            yield out

    def _decode(self, msg: Any) -> Output:
        value, key = msg.value(), msg.key()
        if value is None:
            raise UndecodableOutput(
                msg.topic(), msg.partition(), msg.offset(), "no value (a tombstone)"
            )
        try:
            name, record = self.codec.decode(value)
        except CodecError as exc:
            raise UndecodableOutput(msg.topic(), msg.partition(), msg.offset(), str(exc)) from None
        return Output(
            msg.topic(),
            msg.partition(),
            msg.offset(),
            None if key is None else key.decode("utf-8", "replace"),
            name,
            record,
        )

    def commit(self) -> None:
        """Commit what was read so far (synchronously): a restart resumes after it."""
        from confluent_kafka import KafkaError, KafkaException

        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if (
                exc.args[0].code() != KafkaError._NO_OFFSET
            ):  # nothing read since the last commit: fine
                raise

    def close(self) -> None:
        self.consumer.close()

    def __enter__(self) -> OutputConsumer:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
