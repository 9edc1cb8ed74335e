"""DLQ records as ``stocksignal dlq`` sees them: parsed, selected, checked for a replay.

Pure (no Kafka): what the commands in cli/dlq.py read is turned into :class:`DlqEntry`;
:class:`Selection` says which ones an operator meant; :func:`recheck` judges a record with
today's rules exactly as the router does (docs/contract.md#bad-input-and-the-dlq), so a replay
does not send a record that would only be dead-lettered again; :func:`replay_target` refuses
any topic but an input topic (the processor is the only writer of its outputs:
docs/architecture.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from stocksignal.cli.kafka_read import Raw
from stocksignal.contract import topics as catalogue
from stocksignal.contract.dlq import (
    DLQ_ERROR,
    DLQ_HEADERS,
    DLQ_OFFSET,
    DLQ_PARTITION,
    DLQ_REASON,
    DLQ_TOPIC,
    DlqReason,
)
from stocksignal.contract.errors import CodecError
from stocksignal.contract.keys import key_error
from stocksignal.domain import ValidationError, validate

_REF = re.compile(r"^\s*(\d+)\s*@\s*(\d+)\s*$")
_RANGE = re.compile(r"^\s*(\d+)\s*@\s*(\d+)\s*(?:-\s*(\d*)\s*)?$")


@dataclass(frozen=True)
class DlqEntry:
    """One DLQ record: where it sits, why it is there, where it came from, what it holds."""

    raw: Raw
    record_name: str | None
    record: dict[str, Any] | None
    decode_error: str | None
    decode_reason: str | None = None  # the DLQ reason today's codec gives it

    @classmethod
    def of(cls, raw: Raw, codec: Any) -> DlqEntry:
        if raw.value is None:
            return cls(raw, None, None, "no value (null/tombstone)", str(DlqReason.DECODE_ERROR))
        try:
            name, record = codec.decode(raw.value)
        except CodecError as exc:
            return cls(raw, None, None, str(exc), str(exc.dlq_reason))
        return cls(raw, name, record, None)

    @property
    def ref(self) -> str:
        """``partition@offset`` in the DLQ: what ``dlq show`` and ``--offsets`` take."""
        return f"{self.raw.partition}@{self.raw.offset}"

    def header(self, name: str) -> str | None:
        for k, v in self.raw.headers:
            if k == name:
                return None if v is None else v.decode("utf-8", "replace")
        return None

    @property
    def reason(self) -> str:
        return self.header(DLQ_REASON) or "?"

    @property
    def error(self) -> str:
        return self.header(DLQ_ERROR) or ""

    @property
    def source_topic(self) -> str | None:
        return self.header(DLQ_TOPIC)

    @property
    def source(self) -> str:
        """``topic[partition]@offset`` the record was read from."""
        return f"{self.source_topic or '?'}[{self.header(DLQ_PARTITION) or '?'}]@{self.header(DLQ_OFFSET) or '?'}"

    @property
    def event_id(self) -> str | None:
        return None if self.record is None else self.record.get("event_id")

    @property
    def original_headers(self) -> list[tuple[str, bytes | None]]:
        """The headers the record had before it was dead-lettered (``dlq.*`` removed)."""
        return [(k, v) for k, v in self.raw.headers if k not in DLQ_HEADERS]

    def replay_order(self) -> tuple:
        """Source topic, partition, offset: a replay keeps each key's original order."""
        return (
            self.source_topic or "",
            _int(self.header(DLQ_PARTITION)),
            _int(self.header(DLQ_OFFSET)),
            self.raw.partition,
            self.raw.offset,
        )


def _int(text: str | None) -> int:
    try:
        return int(text or -1)
    except ValueError:
        return -1


def parse_ref(text: str) -> tuple[int, int]:
    """``"2@15"`` -> (2, 15); ValueError otherwise."""
    m = _REF.match(text)
    if not m:
        raise ValueError(f"{text!r} is not PARTITION@OFFSET (e.g. 2@15, as `dlq list` shows)")
    return int(m.group(1)), int(m.group(2))


def parse_range(text: str) -> tuple[int, int, int | None]:
    """``"2@15"``, ``"2@15-20"`` (both included) or ``"2@15-"`` (to the end) -> (partition, first, last)."""
    m = _RANGE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not PARTITION@FIRST[-LAST] (e.g. 2@15, 2@15-20 or 2@15-)")
    partition, first = int(m.group(1)), int(m.group(2))
    if m.group(3) is None:
        return partition, first, first
    last = int(m.group(3)) if m.group(3) else None
    if last is not None and last < first:
        raise ValueError(f"{text!r}: the last offset is before the first")
    return partition, first, last


@dataclass(frozen=True)
class Selection:
    """Which DLQ records: every given criterion must hold (several values of one: any of them)."""

    reasons: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()  # contract names or full names
    event_ids: frozenset[str] = frozenset()
    ranges: tuple[tuple[int, int, int | None], ...] = ()
    since: int | None = None  # DLQ log time, epoch ms, inclusive
    until: int | None = None
    prefix: str = ""

    @property
    def narrowed(self) -> bool:
        return bool(
            self.reasons
            or self.topics
            or self.event_ids
            or self.ranges
            or self.since is not None
            or self.until is not None
        )

    def matches(self, entry: DlqEntry) -> bool:
        if self.reasons and entry.reason not in self.reasons:
            return False
        if self.topics and not (
            {entry.source_topic} & (self.topics | {self.prefix + t for t in self.topics})
        ):
            return False
        if self.event_ids and entry.event_id not in self.event_ids:
            return False
        if self.ranges and not any(
            p == entry.raw.partition
            and first <= entry.raw.offset
            and (last is None or entry.raw.offset <= last)
            for p, first, last in self.ranges
        ):
            return False
        if self.since is not None and entry.raw.timestamp < self.since:
            return False
        if self.until is not None and entry.raw.timestamp > self.until:
            return False
        return True


def reasons() -> list[str]:
    return [str(r) for r in DlqReason]


def replay_target(entry: DlqEntry, prefix: str) -> tuple[str | None, str | None]:
    """(full topic, contract topic) to replay ``entry`` to, or (None, why not)."""
    topic = entry.source_topic
    if not topic:
        return None, "no dlq.topic header: where it came from is unknown"
    inputs = {prefix + t.name: t.name for t in catalogue.list_topics(catalogue.Role.INPUT)}
    base = inputs.get(topic)
    if base is None:
        where = f" with STOCKSIGNAL_TOPIC_PREFIX={prefix!r}" if prefix else ""
        return None, (
            f"{topic} is not an input topic{where}: a replay writes only to input topics, never to the "
            "processor's outputs"
        )
    return topic, base


def recheck(entry: DlqEntry, base_topic: str) -> tuple[str, str] | None:
    """None when today's rules accept the record (the processor would apply it), else
    (dlq reason, error) as the router would dead-letter it again."""
    if entry.record_name is None or entry.record is None:
        return entry.decode_reason or str(
            DlqReason.DECODE_ERROR
        ), entry.decode_error or "does not decode"
    carried = catalogue.topic(base_topic).records
    if entry.record_name not in carried:
        return str(
            DlqReason.VALIDATION_ERROR
        ), f"record: {entry.record_name} does not belong on {base_topic}"
    try:
        validate(entry.record_name, entry.record)
    except ValidationError as exc:
        return str(DlqReason.VALIDATION_ERROR), str(exc)
    problem = key_error(base_topic, entry.record_name, entry.record, entry.raw.key)
    if problem is not None:
        return str(DlqReason.VALIDATION_ERROR), problem
    return None


@dataclass
class ReplayPlan:
    """What a replay will send, and what it leaves out with the reason."""

    send: list[tuple[DlqEntry, str]] = field(default_factory=list)  # (entry, target topic)
    refused: list[tuple[DlqEntry, str]] = field(default_factory=list)  # not replayable at all
    failing: list[tuple[DlqEntry, str]] = field(
        default_factory=list
    )  # would be dead-lettered again


def plan_replay(entries: Iterable[DlqEntry], prefix: str, force: bool = False) -> ReplayPlan:
    plan = ReplayPlan()
    for entry in sorted(entries, key=DlqEntry.replay_order):
        topic, base = replay_target(entry, prefix)
        if topic is None or base is None:
            plan.refused.append((entry, base or ""))
            continue
        again = recheck(entry, base)
        if again is not None and not force:
            plan.failing.append((entry, f"{again[0]}: {again[1]}"))
            continue
        plan.send.append((entry, topic))
    return plan
