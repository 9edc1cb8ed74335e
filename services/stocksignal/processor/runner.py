"""Start a processor worker: check the topics, build it, run it until stopped."""

from __future__ import annotations

import logging
import os
import signal
import threading

from stocksignal import bootstrap
from stocksignal.processor.topic_admin import ensure_topics
from stocksignal.processor.topology import plan
from stocksignal.settings import Settings

log = logging.getLogger(__name__)

# Exit code of a worker that stopped because processing failed (a bug or a corrupt record):
# its transaction was aborted, so a restart resumes from the last commit; if it fails again,
# the log says where.
EXIT_PROCESSING_FAILED = 70
# Kafka refused the credentials or a certificate (docs/cli.md, exit codes).
EXIT_REFUSED = 5


def create_topics(settings: Settings):
    """Create every topic of the plan that is missing (idempotent); returns the reports."""
    return ensure_topics(
        bootstrap.make_admin(settings), plan(settings), settings.replication_factor
    )


def tune_gc() -> None:
    """Make the cyclic garbage collector cheap for a long-lived, allocation-heavy worker.

    The hot path allocates many short-lived objects (commands, outcomes, records) while the
    heap holds many long-lived ones (cached states); with CPython's default thresholds
    (700, 10, 10) full collections over that heap cost a large share of the worker's time
    (docs/performance.md). Our objects rarely form cycles, so collecting less often is safe:
    start-up objects are frozen out of collection and generation 0 is collected every 100,000
    net allocations instead of 700.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_processor(settings: Settings) -> None:
    """Refuse to start when a topic is missing or mis-partitioned; else run until SIGTERM.

    A processing error ends the process with exit code 70 after its transaction aborted.
    """
    from stocksignal.processor.runtime import ProcessingError
    from stocksignal.security.errors import AccessRefused

    configure_logging(settings.log_level)
    try:
        # librdkafka retries a refused login forever: find out now, with a sentence that
        # names the setting to check (docs/operations.md, "What a refusal says").
        bootstrap.check_kafka(settings)
    except AccessRefused as exc:
        log.critical("%s", exc)
        logging.shutdown()
        os._exit(EXIT_REFUSED)
    worker = bootstrap.build_processor(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    tune_gc()
    try:
        worker.run(stop.is_set)
    except ProcessingError:
        log.critical(
            "processing failed; the transaction was aborted, a restart resumes from the last commit",
            exc_info=True,
        )
        logging.shutdown()
        os._exit(EXIT_PROCESSING_FAILED)
