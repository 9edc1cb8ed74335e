"""Every topic the processor reads or writes, with the partitions and configs it needs.

The plan is derived from the contract's catalogue plus the processor's own internal topic; the
``topics create`` command creates it and the processor checks it before starting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stocksignal.contract import topics as catalogue
from stocksignal.settings import Settings

COMMANDS = "stocksignal.commands.v1"
DAY_MS = 24 * 3600 * 1000
# The processor's two stores and the changelog topic each is restored from.
STOCK_STORE = "stock"
ORDERS_STORE = "orders"
# How long a changelog keeps a tombstone: a local store whose checkpoint is older than this
# may have missed a deletion that compaction has since removed, so it is wiped (store.py).
CHANGELOG_DELETE_RETENTION_MS = DAY_MS


@dataclass(frozen=True)
class TopicPlan:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    # Whether the processor insists on exactly this partition count: state is co-partitioned
    # with the command topic, and the orders table with the orders topic.
    strict_partitions: bool = True


def topic_name(settings: Settings, base: str) -> str:
    """The real name of a topic: the contract's name behind an optional prefix (tests)."""
    return settings.topic_prefix + base


def changelog_topic(settings: Settings, store: str) -> str:
    """The compacted topic a store is restored from: ``<prefix><app_id>-<store>-changelog``."""
    return f"{settings.topic_prefix}{settings.app_id}-{store}-changelog"


def _compacted() -> dict[str, str]:
    return {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}


def _changelog() -> dict[str, str]:
    return {**_compacted(), "delete.retention.ms": str(CHANGELOG_DELETE_RETENTION_MS)}


def _retained(days: int) -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(days * DAY_MS)}


def plan(settings: Settings) -> list[TopicPlan]:
    """All topics, in a stable order: inputs, internal commands, changelogs, outputs, DLQ."""
    plans: list[TopicPlan] = []
    for t in catalogue.list_topics():
        if t.role is catalogue.Role.INPUT:
            config = _compacted() if t.compacted else _retained(7)
            plans.append(TopicPlan(topic_name(settings, t.name), settings.input_partitions, config))
    # The command log must outlive the dedupe window so a replay can see what it dedupes.
    command_days = max(8, settings.dedupe_window_ms // DAY_MS + 1)
    plans.append(
        TopicPlan(
            topic_name(settings, COMMANDS), settings.command_partitions, _retained(command_days)
        )
    )
    # A store partition is restored from the same partition number of its changelog, so the
    # changelogs have exactly the partitions of the topics whose state they keep.
    plans.append(
        TopicPlan(changelog_topic(settings, STOCK_STORE), settings.command_partitions, _changelog())
    )
    plans.append(
        TopicPlan(changelog_topic(settings, ORDERS_STORE), settings.input_partitions, _changelog())
    )
    for t in catalogue.list_topics():
        if t.role is catalogue.Role.OUTPUT:
            config = _compacted() if t.compacted else _retained(7)
            plans.append(
                TopicPlan(topic_name(settings, t.name), settings.output_partitions, config, False)
            )
    plans.append(
        TopicPlan(
            topic_name(settings, catalogue.DLQ), settings.output_partitions, _retained(14), False
        )
    )
    return plans
