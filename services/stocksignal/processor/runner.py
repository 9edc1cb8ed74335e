"""Start a processor worker: check the topics, build the app, run it until stopped."""

from __future__ import annotations

import logging

from stocksignal import bootstrap
from stocksignal.processor.topic_admin import ensure_topics, verify_topics
from stocksignal.processor.topology import plan
from stocksignal.settings import Settings

log = logging.getLogger(__name__)


def create_topics(settings: Settings):
    """Create every topic of the plan that is missing (idempotent); returns the reports."""
    return ensure_topics(bootstrap.make_admin(settings), plan(settings), settings.replication_factor)


def build_processor(settings: Settings):
    from stocksignal.processor.app import Processor

    admin = bootstrap.make_admin(settings)
    topics = admin.list_topics(timeout=30).topics
    partitions = {name: len(t.partitions) for name, t in topics.items() if t.error is None}
    return Processor(settings, bootstrap.make_codec(settings), bootstrap.producer_config(settings), partitions)


def tune_gc() -> None:
    """Make the cyclic garbage collector cheap for a long-lived, allocation-heavy worker.

    The hot path allocates many short-lived objects (commands, outcomes, records) while the
    heap holds many long-lived ones (cached envelopes, Faust's and aiokafka's state); with
    CPython's default thresholds (700, 10, 10) full collections over that heap cost the
    worker ~40% of its throughput (measured: docs/performance.md). Our objects rarely form
    cycles, so collecting less often is safe: start-up objects are frozen out of collection
    and generation 0 is collected every 100,000 net allocations instead of 700.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def run_processor(settings: Settings) -> None:
    """Refuse to start when a topic is missing or mis-partitioned; else run a Faust worker."""
    import faust

    verify_topics(bootstrap.make_admin(settings), plan(settings))
    processor = build_processor(settings)
    tune_gc()
    worker = faust.Worker(
        processor.app,
        loglevel=settings.log_level,
        quiet=True,
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()
