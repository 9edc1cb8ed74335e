"""The operator page's view of the DLQ: dead letters newest first, by reason, a page at a time.

Read from ``inventory.dlq.v1`` itself (``read_committed``: the processor writes its DLQ copies
in its transactions, so an aborted copy never shows), outside any consumer group, in an
executor of its own so that the page's event loop keeps answering meanwhile. The DLQ is not
kept per SKU, so any worker answers for all of it; nothing is forwarded.

Paging is by a cursor of one offset per partition ("read below these"), not by time: record
times of different writers are not ordered, and a cursor can neither skip nor repeat a record
across pages (:func:`take`).
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stocksignal.contract.dlq import DLQ_ERROR, DLQ_OFFSET, DLQ_PARTITION, DLQ_REASON, DLQ_TOPIC

if TYPE_CHECKING:
    from stocksignal.ledger.kafka import LedgerClients

MAX_PAGE = 200


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class DeadLetter:
    partition: int  # where the copy is, in the DLQ
    offset: int
    timestamp: int
    key: str | None
    reason: str
    error: str
    source_topic: str
    source_partition: str
    source_offset: str
    record_name: str | None  # what the value decodes to, when it does (an UNKNOWN_SCHEMA does not)
    event_id: str | None


@dataclass(frozen=True)
class DlqPage:
    topic: str
    letters: list[DeadLetter]
    scanned: int  # records read for this page (a reason filter shows fewer)
    total: int  # offsets the topic retains: records and transaction markers
    older: dict[int, int] | None  # the cursor of the next page; None: this was the oldest
    by_reason: Mapping[str, int] = field(default_factory=dict)


def parse_cursor(text: str | None) -> dict[int, int] | None:
    """``"0:120,1:98"`` -> {0: 120, 1: 98}; None for no cursor (the newest page)."""
    if not text:
        return None
    cursor = {}
    for part in text.split(","):
        p, sep, o = part.partition(":")
        if not sep or not p.strip().isdigit() or not o.strip().isdigit():
            raise BadCursor(f"before: {text!r} is not partition:offset[,partition:offset...]")
        cursor[int(p)] = int(o)
    return cursor


def format_cursor(cursor: Mapping[int, int]) -> str:
    return ",".join(f"{p}:{o}" for p, o in sorted(cursor.items()))


def _text(headers: Mapping[str, bytes | None], name: str) -> str:
    return (headers.get(name) or b"").decode("utf-8", "replace")


def letter(partition: int, record: Any, decode: Any) -> DeadLetter:
    """One DLQ record as the page shows it: the ``dlq.*`` headers of docs/contract.md and,
    where the value decodes, its record type and event id."""
    headers = dict(record.headers)
    name = event_id = None
    if record.value is not None:
        try:
            name, body = decode(record.value)
            event_id = body.get("event_id") if isinstance(body, dict) else None
        except Exception:  # DECODE_ERROR and UNKNOWN_SCHEMA records are there because they do not
            name = None
    key = record.key.decode("utf-8", "replace") if record.key is not None else None
    return DeadLetter(
        partition,
        record.offset,
        record.timestamp,
        key,
        _text(headers, DLQ_REASON) or "?",
        _text(headers, DLQ_ERROR),
        _text(headers, DLQ_TOPIC),
        _text(headers, DLQ_PARTITION),
        _text(headers, DLQ_OFFSET),
        name,
        event_id,
    )


def take(
    windows: Mapping[int, tuple[int, list[DeadLetter]]],
    size: int,
    reason: str | None,
    low: Mapping[int, int],
) -> tuple[list[DeadLetter], dict[int, int] | None]:
    """The newest ``size`` letters (matching ``reason``) of the partitions' windows, and the
    next page's cursor.

    ``windows``: partition -> (the window's first offset, its letters in offset order). Each
    partition is taken from its highest offset down (merged across partitions by time), so
    what a page shows of a partition is the top of its window: the next cursor is the offset
    of the lowest one shown, or, when none was, of the highest matching one left, and every
    record is shown on exactly one page."""

    def matching(letters: list[DeadLetter]) -> list[DeadLetter]:
        return [d for d in reversed(letters) if not reason or d.reason == reason]

    merged = heapq.merge(
        *(matching(letters) for _, letters in windows.values()),
        key=lambda d: (d.timestamp, -d.partition),
        reverse=True,
    )
    shown = list(itertools.islice(merged, size))
    shown_ids = {(d.partition, d.offset) for d in shown}
    cursor = {}
    for p, (start, letters) in windows.items():
        left = [d for d in matching(letters) if (p, d.offset) not in shown_ids]
        cursor[p] = left[0].offset + 1 if left else start
    older = cursor if any(cursor[p] > low.get(p, 0) for p in cursor) else None
    return shown, older


class DeadLetters:
    """Pages of the DLQ for the operator's page; one read at a time per worker."""

    def __init__(self, clients: LedgerClients, topic: str, codec: Any) -> None:
        self.clients = clients  # the ledger's readers' clients (bootstrap.ledger_clients)
        self.topic = topic
        self.codec = codec
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="dlq-view")

    def page(self, before: Mapping[int, int] | None, size: int, reason: str | None) -> DlqPage:
        from stocksignal.ledger.kafka import PartitionReader

        with PartitionReader(self.clients) as reader:
            windows, low, total = {}, {}, 0
            for p in reader.partitions(self.topic):
                span = reader.span(self.topic, p)
                low[p] = span.low
                total += span.high - span.low
                stop = min(span.high, max(span.low, (before or {}).get(p, span.high)))
                start = max(span.low, stop - size)
                records = reader.read(self.topic, p, start, stop)
                windows[p] = (start, [letter(p, r, self.codec.decode) for r in records])
        shown, older = take(windows, size, reason, low)
        scanned = sum(len(letters) for _, letters in windows.values())
        return DlqPage(
            self.topic, shown, scanned, total, older, dict(Counter(d.reason for d in shown))
        )


def reasons() -> Iterable[str]:
    from stocksignal.contract.dlq import DlqReason

    return [r.value for r in DlqReason]
