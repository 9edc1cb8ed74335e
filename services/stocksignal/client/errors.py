"""The client's exceptions: each says what to fix, and nothing was sent when one is raised."""

from __future__ import annotations

from collections.abc import Sequence


class ClientError(Exception):
    """Base of everything :mod:`stocksignal.client` raises on purpose."""


class InvalidEvent(ClientError, ValueError):
    """An event breaks the contract (docs/contract.md#rules-of-an-input-record): the same rules the
    processor applies, so it would only have gone to the DLQ. ``problems`` lists each as
    ``path: what``; nothing was sent."""

    def __init__(
        self, message: str, *, record_name: str | None = None, problems: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.record_name = record_name
        self.problems = list(problems) or [message]


class TopicMissing(ClientError):
    """The event's topic does not exist on the cluster (``stocksignal topics create`` makes it)."""


class KafkaUnavailable(ClientError):
    """Kafka did not answer a metadata request in time (nothing was sent)."""


class DeliveryFailed(ClientError):
    """The broker did not take the event (after librdkafka's retries)."""

    def __init__(
        self,
        message: str,
        *,
        reason: str = "",
        event_id: str | None = None,
        retriable: bool = False,
    ) -> None:
        super().__init__(message)
        self.reason = reason or message  # the broker's or librdkafka's words
        self.event_id = event_id
        self.retriable = retriable


class Undelivered(ClientError):
    """``close()`` gave up: events were still waiting for the broker's acknowledgement."""

    def __init__(self, count: int, timeout: float) -> None:
        super().__init__(f"{count} event(s) not delivered within {timeout:g}s: is Kafka up?")
        self.count = count
