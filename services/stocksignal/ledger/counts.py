"""The inputs of inventory record accuracy, read from the topics (accuracy.py computes).

- **Counts**: the ``CountStock`` commands in the processor's command log
  (``stocksignal.commands.v1``, kept for the dedupe window plus a day) whose log time is in the
  window. Only commands the processor has applied count — those below its consumer group's
  committed offset (it commits them in the same transaction as their outputs); the others are
  reported as pending.
- **Corrections**: the ``CYCLE_COUNT`` movements of ``on_hand`` in ``inventory.movements.v1``
  caused by those counts.

Every partition of both topics is read from the window's start (``offsets_for_times``) to its
end, as committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from stocksignal import bootstrap
from stocksignal.contract import topics as catalogue
from stocksignal.ledger.accuracy import Correction, Count
from stocksignal.ledger.history import COMMANDS
from stocksignal.ledger.kafka import PartitionReader, committed_offsets
from stocksignal.settings import Settings

COUNT_COMMAND = b'"type":"CountStock"'


@dataclass
class CountsRead:
    counts: list[Count]
    corrections: list[Correction]
    pending: int  # counts in the window the processor has not applied yet


def read_counts(
    settings: Settings, since: int | None, until: int, locations: Iterable[str] = ()
) -> CountsRead:
    wanted = set(locations)
    with PartitionReader(settings) as reader:
        counts, pending = _counts(settings, reader, since, until, wanted)
        ids = {(c.sku, c.location_id, c.event_id) for c in counts}
        corrections = [m for m in _corrections(settings, reader, since) if m.key in ids]
    return CountsRead(counts, corrections, pending)


def _counts(
    settings: Settings, reader: PartitionReader, since: int | None, until: int, wanted: set[str]
) -> tuple[list[Count], int]:
    from stocksignal.processor import batches

    topic = settings.topic_prefix + COMMANDS
    partitions = reader.partitions(topic)
    applied = committed_offsets(settings, settings.app_id, topic, partitions)
    counts, pending = [], 0
    for p in partitions:
        for r in reader.range(topic, p, since, None):
            if r.value is None or COUNT_COMMAND not in r.value:
                continue
            for d in batches.decode(r.value):
                if d.get("type") != "CountStock" or not _within(d["logged_at"], since, until):
                    continue
                if wanted and d["location_id"] not in wanted:
                    continue
                if r.offset >= applied.get(p, 0):
                    pending += 1
                    continue
                counts.append(
                    Count(
                        d["sku"],
                        d["location_id"],
                        d["event_id"],
                        d["logged_at"],
                        d["counted_qty"],
                        d.get("source"),
                    )
                )
    return counts, pending


def _corrections(
    settings: Settings, reader: PartitionReader, since: int | None
) -> list[Correction]:
    topic = settings.topic_prefix + catalogue.MOVEMENTS
    codec = bootstrap.make_codec(settings)
    out = []
    for p in reader.partitions(topic):
        for r in reader.range(topic, p, since, None):
            if r.value is None:
                continue
            name, m = codec.decode(r.value)
            if name == "StockMoved" and m["reason"] == "CYCLE_COUNT" and m["bucket"] == "ON_HAND":
                out.append(
                    Correction(
                        m["sku"],
                        m["location_id"],
                        m["cause_event_id"],
                        m["delta"],
                        m["balance_after"],
                        m.get("reason_detail"),
                    )
                )
    return out


def _within(t: int, since: int | None, until: int) -> bool:
    return (since is None or t > since) and t <= until
