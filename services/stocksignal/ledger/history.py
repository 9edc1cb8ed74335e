"""A SKU's stock as of a log time, and its movements over a window, read from the topics.

- **Buckets** come from the SKU's partition of ``inventory.movements.v1`` (the partition of the
  SKU's key, murmur2), read from its first retained record up to T (balances.py).
- **Channel configuration** comes from two places, each event once (book.py): the SKU's
  partition of the command log (``stocksignal.commands.v1``: every channel command the
  partition applied, in its order, for the command log's retention: the dedupe window plus a
  day, 8 days by default), and the compacted ``inventory.channels.v1`` (every channel's
  current configuration; older ones until compaction removes them). A change counts from the
  moment it reached the SKU's command partition.

Exact provided the movements topic's retention covers T (the answer is refused otherwise)
and, for the channels, that every configuration in force at T is still readable: written
within the command log's retention, or still on the channels topic. ``channel_history_from``
says from when the command log holds every change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from stocksignal import bootstrap
from stocksignal.contract import partition_for
from stocksignal.contract import topics as catalogue
from stocksignal.contract.keys import key_error
from stocksignal.domain import (
    ChannelBook,
    ConfigureChannel,
    RemoveChannel,
    command_from_dict,
    split,
    validate,
)
from stocksignal.ledger.balances import (
    Moved,
    Positions,
    balances_at,
    held_by_reference,
    in_window,
    net_change,
)
from stocksignal.ledger.book import ChannelChange, book_at, configured_at, merge
from stocksignal.ledger.kafka import CLOCK_SKEW_MS, PartitionReader, Span
from stocksignal.settings import Settings

COMMANDS = "stocksignal.commands.v1"  # the processor's command log (processor/topology.py)
CHANNEL_COMMANDS = (b'"type":"ConfigureChannel"', b'"type":"RemoveChannel"')


class NotRetained(Exception):
    """The ledger's retention no longer covers the time asked for."""


@dataclass(frozen=True)
class LedgerSpan:
    """Which part of the ledger an answer rests on."""

    topic: str
    partition: int
    first_offset: int
    first_at: int | None  # time of the partition's first retained record
    complete: bool  # nothing of the partition was deleted yet: the SKU's whole history

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "first_offset": self.first_offset,
            "first_record_at": self.first_at,
            "complete": self.complete,
        }


@dataclass(frozen=True)
class StockAt:
    sku: str
    at: int
    positions: Positions
    held: dict[str, dict[str, dict[str, int]]]
    book: ChannelBook
    configured_at: dict[str, int]
    ledger: LedgerSpan
    movements_up_to: int  # movements of the SKU published up to T
    channel_history_from: int | None  # None: the command log holds every channel change


@dataclass(frozen=True)
class Window:
    sku: str
    since: int
    until: int
    movements: list[Moved]
    net: Positions
    total: int
    ledger: LedgerSpan
    truncated: bool = field(default=False)


class LedgerHistory:
    """Reads for the inspection API; one at a time per worker (``executor``), off its event loop."""

    def __init__(self, settings: Settings, threads: int = 1) -> None:
        self.settings = settings
        self.codec = bootstrap.make_codec(settings)
        self.movements_topic = settings.topic_prefix + catalogue.MOVEMENTS
        self.commands_topic = settings.topic_prefix + COMMANDS
        self.channels_topic = settings.topic_prefix + catalogue.CHANNELS
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="ledger-history")

    def stock_at(
        self, sku: str, at: int, current: Mapping[str, Mapping[str, int]] | None = None
    ) -> StockAt:
        """The SKU's buckets and channel book at log time ``at``; ``current``: its positions now
        (used only where retention has deleted the start of the ledger)."""
        with PartitionReader(self.settings) as reader:
            ledger, moves = self._movements(reader, sku, at)
            changes, history_from = self._channel_changes(reader, sku, at)
        return StockAt(
            sku=sku,
            at=at,
            positions=balances_at(moves, at, complete=ledger.complete, current=current),
            held=held_by_reference(moves, at),
            book=book_at(changes, at),
            configured_at=configured_at(changes, at),
            ledger=ledger,
            movements_up_to=sum(1 for m in moves if m.logged_at <= at),
            channel_history_from=history_from,
        )

    def window(self, sku: str, since: int, until: int, limit: int) -> Window:
        """The SKU's movements published in ``(since, until]``, oldest first (at most ``limit``)."""
        with PartitionReader(self.settings) as reader:
            partition = partition_for(sku, len(reader.partitions(self.movements_topic)))
            ledger = self._span(reader, partition)
            records = reader.range(self.movements_topic, partition, since, until, sku.encode())
            moves = in_window(self._decoded(records, sku), since, until)
        return Window(
            sku,
            since,
            until,
            moves[:limit],
            net_change(moves),
            len(moves),
            ledger,
            len(moves) > limit,
        )

    # --- reading ------------------------------------------------------------------------

    def _span(self, reader: PartitionReader, partition: int) -> LedgerSpan:
        span: Span = reader.span(self.movements_topic, partition)
        return LedgerSpan(self.movements_topic, partition, span.low, span.first_at, span.low == 0)

    def _movements(
        self, reader: PartitionReader, sku: str, at: int
    ) -> tuple[LedgerSpan, list[Moved]]:
        partition = partition_for(sku, len(reader.partitions(self.movements_topic)))
        ledger = self._span(reader, partition)
        if not ledger.complete and (ledger.first_at is None or at < ledger.first_at):
            raise NotRetained(
                f"the ledger no longer covers that time: retention has deleted the start of "
                f"{self.movements_topic}[{partition}], whose first record is from {ledger.first_at} (epoch ms)"
            )
        # A whole ledger is read up to T; a truncated one to its end, for the buckets that only
        # moved after T (their balance before it is in their first movement).
        stop = (
            reader.offset_at(self.movements_topic, partition, at + CLOCK_SKEW_MS)
            if ledger.complete
            else None
        )
        records = reader.read(
            self.movements_topic, partition, ledger.first_offset, stop, sku.encode()
        )
        return ledger, self._decoded(records, sku)

    def _decoded(self, records: Iterator, sku: str) -> list[Moved]:
        key = sku.encode()
        out = []
        for r in records:
            if r.key != key or r.value is None:
                continue
            name, record = self.codec.decode(r.value)
            if name == "StockMoved" and record["sku"] == sku:
                out.append(Moved(r.timestamp, r.offset, record))
        return out

    def _channel_changes(
        self, reader: PartitionReader, sku: str, at: int
    ) -> tuple[list[ChannelChange], int | None]:
        from stocksignal.processor import batches

        partition = partition_for(sku, len(reader.partitions(self.commands_topic)))
        span = reader.span(self.commands_topic, partition)
        stop = reader.offset_at(self.commands_topic, partition, at + CLOCK_SKEW_MS)
        from_log = []
        for r in reader.read(self.commands_topic, partition, span.low, stop):
            if r.value is None or not any(marker in r.value for marker in CHANNEL_COMMANDS):
                continue
            for d in batches.decode(r.value):
                if d.get("type") in ("ConfigureChannel", "RemoveChannel"):
                    from_log.append(ChannelChange(r.timestamp, command_from_dict(d)))
        history_from = None if span.low == 0 else span.first_at
        return merge(from_log, self._channels_topic(reader)), history_from

    def _channels_topic(self, reader: PartitionReader) -> list[ChannelChange]:
        """Every channel event still on the compacted topic that the processor would apply."""
        out = []
        for partition in reader.partitions(self.channels_topic):
            span = reader.span(self.channels_topic, partition)
            for r in reader.read(self.channels_topic, partition, span.low):
                command = self._channel_command(r)
                if command is not None:
                    out.append(ChannelChange(r.timestamp, command))
        return out

    def _channel_command(self, r) -> ConfigureChannel | RemoveChannel | None:
        """The command the router makes of a channels record; None for what it dead-letters."""
        if r.value is None:
            return None  # a tombstone configures nothing (the processor ignores it)
        try:
            name, record = self.codec.decode(r.value)
            validate(name, record)
        except Exception:  # undecodable, unknown or invalid: the processor sends it to the DLQ
            return None
        if key_error(catalogue.CHANNELS, name, record, r.key) is not None:
            return None
        (command,) = split(name, record, logged_at=r.timestamp)
        return command if isinstance(command, (ConfigureChannel, RemoveChannel)) else None
