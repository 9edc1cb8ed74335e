"""Create the topic plan idempotently, and check it before the processor starts."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from stocksignal.processor.topology import TopicPlan


class TopicsNotReady(RuntimeError):
    """A topic the processor needs is missing or has the wrong partition count."""


@dataclass(frozen=True)
class TopicReport:
    name: str
    action: str  # created | exists | mismatch
    detail: str = ""


def _existing(admin, timeout: float) -> dict[str, int]:
    metadata = admin.list_topics(timeout=timeout)
    return {name: len(t.partitions) for name, t in metadata.topics.items() if t.error is None}


def ensure_topics(
    admin, plans: Iterable[TopicPlan], replication: int = 1, timeout: float = 30.0
) -> list[TopicReport]:
    """Create every missing topic; report existing ones and partition-count mismatches.

    Running it twice is harmless: existing topics are left as they are (a wrong partition
    count is reported, never "fixed": repartitioning would move SKUs between partitions).
    """
    from confluent_kafka.admin import NewTopic

    plans = list(plans)
    existing = _existing(admin, timeout)
    reports: list[TopicReport] = []
    to_create = []
    for p in plans:
        if p.name not in existing:
            to_create.append(NewTopic(p.name, p.partitions, replication, config=dict(p.config)))
        elif existing[p.name] != p.partitions and p.strict_partitions:
            reports.append(
                TopicReport(
                    p.name, "mismatch", f"has {existing[p.name]} partitions, needs {p.partitions}"
                )
            )
        else:
            reports.append(TopicReport(p.name, "exists", f"{existing[p.name]} partitions"))
    if to_create:
        futures = admin.create_topics(to_create, operation_timeout=timeout)
        for name, future in futures.items():
            reports.append(_creation_report(name, future, timeout))
        _await_metadata(admin, {t.topic for t in to_create}, timeout)
    order = {p.name: i for i, p in enumerate(plans)}
    return sorted(reports, key=lambda r: order[r.name])


def _await_metadata(admin, names: set[str], timeout: float) -> None:
    """Wait until the created topics are in the broker's metadata. CreateTopics answers once
    the controller has committed them; brokers learn of them a moment later (seconds on a
    busy cluster), and a processor started right after `topics create` would find them
    missing and refuse to start."""
    deadline = time.monotonic() + timeout
    while True:
        missing = names - set(_existing(admin, timeout))
        if not missing:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"created, but not yet in the cluster's metadata after {timeout:.0f} s: "
                f"{', '.join(sorted(missing))}"
            )
        time.sleep(0.2)


def _creation_report(name: str, future, timeout: float) -> TopicReport:
    from confluent_kafka import KafkaError, KafkaException

    try:
        future.result(timeout)
    except KafkaException as exc:
        # Another `topics create` raced us: the topic exists, which is what we wanted.
        if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return TopicReport(name, "exists", "created concurrently")
        raise
    return TopicReport(name, "created")


def verify_topics(admin, plans: Iterable[TopicPlan], timeout: float = 30.0) -> None:
    """Raise :class:`TopicsNotReady` naming every missing or mis-partitioned topic."""
    existing = _existing(admin, timeout)
    problems = []
    for p in plans:
        if p.name not in existing:
            problems.append(f"  {p.name}: missing")
        elif p.strict_partitions and existing[p.name] != p.partitions:
            problems.append(f"  {p.name}: has {existing[p.name]} partitions, needs {p.partitions}")
    if problems:
        raise TopicsNotReady(
            "the processor cannot start, topics are not as it needs them:\n"
            + "\n".join(problems)
            + "\nrun `stocksignal topics create` (same settings) to create missing topics; a wrong"
            " partition count needs a new topic or matching STOCKSIGNAL_*_PARTITIONS settings."
        )


def topic_ids(admin, names: Iterable[str], timeout: float = 30.0) -> dict[str, str]:
    """Each topic's id: a local store's checkpoint names it, so a topic deleted and created
    again under the same name never passes for the one the store was restored from."""
    from confluent_kafka import TopicCollection

    futures = admin.describe_topics(TopicCollection(list(names)), request_timeout=timeout)
    return {name: str(f.result(timeout).topic_id) for name, f in futures.items()}


def partition_counts(admin, timeout: float = 30.0) -> dict[str, int]:
    return _existing(admin, timeout)
