"""Reading what a processor run wrote, and what an independent model says it should have.

The model is the domain's :class:`PartitionModel`, one per command-topic partition, fed with
the command log exactly as Kafka holds it (duplicates from crashed routers included): the
log is the only source of truth, so "what one clean run gives" is what a clean pass over
this log gives. Transactions, stores, restores, the runtime's tasks: none of the processor's
machinery is in the model, which is the point.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from stocksignal import bootstrap
from stocksignal.bench import invariants
from stocksignal.contract import topics as catalogue
from stocksignal.domain import PartitionModel, command_from_dict
from stocksignal.processor import batches
from stocksignal.processor.topology import COMMANDS
from stocksignal.settings import Settings


def _consumer(settings: Settings, **overrides) -> Consumer:
    return bootstrap.make_consumer(settings, "e2e-reader", **overrides)


def read_topic(settings: Settings, base: str) -> list[tuple[int, int, Any, bytes | None, list]]:
    """Every committed record of a topic: (partition, offset, key, value, headers)."""
    return [
        (r.partition, r.offset, r.key, r.value, r.headers) for r in read_records(settings, base)
    ]


@dataclass(frozen=True)
class Rec:
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list


def read_records(settings: Settings, base: str) -> list[Rec]:
    """Every committed record of a topic, from the beginning to its end as read_committed
    sees it: a transaction marker ends each transaction, so the end is found by the
    consumer's end-of-partition event, not by record offsets."""
    topic = settings.topic_prefix + base
    c = _consumer(settings, **{"enable.partition.eof": True})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        assign = []
        for p in parts:
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                assign.append(TopicPartition(topic, p, low))
        out: list[Rec] = []
        if not assign:
            return out
        c.assign(assign)
        done: set[int] = set()
        deadline = time.monotonic() + 120
        while len(done) < len(assign):
            assert time.monotonic() < deadline, f"reading {topic}: no end after 120 s"
            for m in c.consume(1000, 1.0):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        done.add(m.partition())
                    continue
                out.append(
                    Rec(
                        m.partition(),
                        m.offset(),
                        m.timestamp()[1],
                        m.key(),
                        m.value(),
                        m.headers() or [],
                    )
                )
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        c.close()


def decoded(settings: Settings, base: str) -> list[dict]:
    codec = bootstrap.make_codec(settings)
    return [codec.decode(v).record for _, _, _, v, _ in read_topic(settings, base)]


@dataclass
class Published:
    decisions: dict[str, dict] = field(default_factory=dict)
    movements: dict[str, dict] = field(default_factory=dict)
    latest: dict[str, dict] = field(default_factory=dict)  # sku -> newest availability
    snapshots: list[dict] = field(default_factory=list)
    repeats: int = 0

    @classmethod
    def read(cls, settings: Settings) -> Published:
        pub = cls()
        for d in decoded(settings, catalogue.RESERVATIONS):
            pub._keep(pub.decisions, d["decision_id"], d)
        for m in decoded(settings, catalogue.MOVEMENTS):
            pub._keep(pub.movements, m["movement_id"], m)
        for a in decoded(settings, catalogue.AVAILABILITY):
            pub.snapshots.append(a)
            old = pub.latest.get(a["sku"])
            if old is None or a["version"] >= old["version"]:
                pub.latest[a["sku"]] = a
        return pub

    def _keep(self, into: dict, key: str, record: dict) -> None:
        old = into.get(key)
        if old is not None:
            self.repeats += 1
            # A repeat must be the very same record: same id, same content.
            assert old == record, f"id {key} published with different content:\n{old}\n{record}"
        into[key] = record


@dataclass
class Expected:
    decisions: dict[str, dict] = field(default_factory=dict)
    movements: dict[str, dict] = field(default_factory=dict)
    latest: dict[str, dict] = field(default_factory=dict)
    models: dict[int, PartitionModel] = field(default_factory=dict)
    commands: int = 0


def command_log(settings: Settings) -> dict[int, list]:
    """Per partition, the commands in log order."""
    log: dict[int, list] = defaultdict(list)
    for p, _offset, _k, value, _h in read_topic(settings, COMMANDS):
        for d in batches.decode(value):
            log[p].append(command_from_dict(d))
    return log


def expected_from_log(settings: Settings) -> Expected:
    exp = Expected()
    for partition, commands in command_log(settings).items():
        model = exp.models[partition] = PartitionModel(settings.dedupe_window_ms)
        for cmd in commands:
            exp.commands += 1
            for outcome in model.handle(cmd):
                for d in outcome.decisions:
                    exp.decisions[d.decision_id] = d.to_record()
                for m in outcome.movements:
                    exp.movements[m.movement_id] = m.to_record()
                if outcome.availability is not None:
                    exp.latest[outcome.state.sku] = outcome.availability.to_record()
    return exp


def without_published_at(snapshot: dict) -> dict:
    return {k: v for k, v in snapshot.items() if k != "published_at"}


def assert_matches_model(pub: Published, exp: Expected) -> None:
    """Nothing lost, nothing doubled, nothing different; and the ledger explains every number."""
    missing = exp.decisions.keys() - pub.decisions.keys()
    extra = pub.decisions.keys() - exp.decisions.keys()
    assert not missing and not extra, f"decisions: {len(missing)} missing, {len(extra)} unexpected"
    for k, d in exp.decisions.items():
        assert pub.decisions[k] == d, f"decision {k} differs:\n{pub.decisions[k]}\n{d}"
    missing = exp.movements.keys() - pub.movements.keys()
    extra = pub.movements.keys() - exp.movements.keys()
    assert not missing and not extra, f"movements: {len(missing)} missing, {len(extra)} unexpected"
    for k, m in exp.movements.items():
        assert pub.movements[k] == m, f"movement {k} differs"
    assert pub.latest.keys() == exp.latest.keys(), "SKUs with availability differ"
    for sku, snap in exp.latest.items():
        assert without_published_at(pub.latest[sku]) == without_published_at(snap), (
            f"availability of {sku} differs:\n{pub.latest[sku]}\n{snap}"
        )
    assert_ledger_explains(pub)
    assert_never_oversold(pub)


def assert_ledger_explains(pub: Published) -> None:
    """For every (sku, location, bucket): the sum of movement deltas equals the final balance."""
    problems = invariants.ledger_problems(pub.movements.values(), pub.latest)
    assert not problems, problems[:5]


def assert_never_oversold(pub: Published) -> None:
    problems = invariants.oversell_problems(pub.snapshots)
    assert not problems, problems[:5]


def wait_quiescent(
    settings: Settings, group: str, timeout: float = 180.0, stable_for: float = 3.0
) -> None:
    """Until the processor's committed offsets reach the end of every input and the command
    topic, and stay there for ``stable_for`` seconds (timers may still append commands)."""
    from stocksignal.processor.topology import plan

    admin = bootstrap.make_admin(settings)
    topics = [
        p.name
        for p in plan(settings)
        if not p.name.endswith(
            (
                "availability.v1",
                "reservations.v1",
                "movements.v1",
                "stock-levels.v1",
                "order-decisions.v1",
                "dlq.v1",
                "-changelog",
            )
        )
    ]
    c = _consumer(settings)
    deadline = time.monotonic() + timeout
    caught_up_since = None
    last = None
    try:
        while time.monotonic() < deadline:
            lag, ends = _lag(admin, c, group, topics)
            if lag == 0 and ends == last:
                caught_up_since = caught_up_since or time.monotonic()
                if time.monotonic() - caught_up_since >= stable_for:
                    return
            else:
                caught_up_since = None
            last = ends
            time.sleep(0.5)
        raise TimeoutError(f"processor still lagging by {lag} records after {timeout}s")
    finally:
        c.close()


def _lag(admin, c: Consumer, group: str, topics: list[str]) -> tuple[int, tuple]:
    from confluent_kafka import ConsumerGroupTopicPartitions

    tps = []
    ends = []
    for t in topics:
        for p in c.list_topics(t, timeout=10).topics[t].partitions:
            tps.append(TopicPartition(t, p))
    committed = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, tps)])[
        group
    ].result(10)
    lag = 0
    for tp in committed.topic_partitions:
        _, high = c.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)
        ends.append(high)
        done = tp.offset if tp.offset >= 0 else 0
        lag += max(0, high - done)
    return lag, tuple(ends)
