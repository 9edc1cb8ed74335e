"""A connection check at start: metadata within a timeout, or a clear reason why not.

librdkafka retries a refused login or an untrusted certificate forever, so a process with a
wrong password would sit there looking healthy. :func:`check_kafka` asks for the cluster's
metadata in short slices, and between slices reads what librdkafka reported
(:mod:`.kafka_diagnosis`): a refusal stops it at once with :class:`AccessRefused`, silence until
the timeout is :class:`NoAnswer`. The CLI and the long-running services call it before they
start (``stocksignal.bootstrap.check_kafka``).
"""

from __future__ import annotations

import logging
import time

from stocksignal.security.errors import AccessRefused, NoAnswer
from stocksignal.security.kafka_diagnosis import Seen, context, diagnose
from stocksignal.settings import Settings

SLICE_S = 0.5  # how long one metadata request may wait before we look at what was reported


class _Collect(logging.Handler):
    """librdkafka's log lines (delivered to the ``logger`` on poll) into ``seen``."""

    def __init__(self, seen: Seen) -> None:
        super().__init__()
        self.seen = seen

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.lines.append(record.getMessage())


def _client(settings: Settings, seen: Seen):
    from confluent_kafka.admin import AdminClient

    from stocksignal.security.kafka import connection_properties

    # A private logger (not registered with logging): nothing reaches stderr, nothing leaks.
    logger = logging.Logger("stocksignal.kafka_probe")
    logger.addHandler(_Collect(seen))
    return AdminClient(
        {**connection_properties(settings), "error_cb": seen.error, "logger": logger}
    )


def check_kafka(settings: Settings, timeout: float = 10.0):
    """The cluster's metadata (``ClusterMetadata``); AccessRefused or NoAnswer otherwise."""
    from confluent_kafka import KafkaException

    seen = Seen()
    admin = _client(settings, seen)
    why = context(settings)
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            metadata = admin.list_topics(
                timeout=max(0.05, min(SLICE_S, deadline - time.monotonic()))
            )
            if metadata.brokers:
                return metadata
        except KafkaException as exc:
            last = exc.args[0].str() if exc.args else str(exc)
        admin.poll(0)  # serves error_cb and the logger
        refusal = diagnose(why, seen)
        if refusal:
            raise AccessRefused(f"Kafka at {settings.kafka_bootstrap_servers}: {refusal}")
        if time.monotonic() >= deadline:
            said = seen.lines[-1] if seen.lines else last
            raise NoAnswer(
                f"Kafka at {settings.kafka_bootstrap_servers} does not answer within {timeout:.0f}s"
                + (f" (last: {said})" if said else "")
            )
