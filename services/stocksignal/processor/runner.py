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


def run_processor(settings: Settings) -> None:
    """Refuse to start when a topic is missing or mis-partitioned; else run a Faust worker."""
    import faust

    verify_topics(bootstrap.make_admin(settings), plan(settings))
    processor = build_processor(settings)
    worker = faust.Worker(
        processor.app,
        loglevel=settings.log_level,
        quiet=True,
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()
