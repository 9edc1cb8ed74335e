"""Apply one command from the command topic: load, skip if applied, decide, persist, publish.

The order of steps for one command at (partition, position) is the commit protocol (a
command's position is its record's offset and its index in the record, see batches.py):

1. **Load** the SKU's envelope (state, applied position, outbox) from the state table.
2. **Skip a replay.** ``position <= applied position`` means the state already holds this command
   (we crashed, or lost the partition, after persisting it). Re-persist the envelope and the
   marker (the changelog may lack them if only the local store got them), re-emit the
   command's outbox entry if it is still there, and stop.
3. **Drop a duplicate.** A dedupe marker for ``(sku, event_id)`` written by *another* position
   within the window means a producer or router repeat: no effect.
4. **Decide** with the pure core: ``apply(state, command, book)``.
5. **Persist** to the state table (local store + changelog, same partition, in this order):
   the dedupe marker, the history slot, then the envelope with the new state, this position and
   an outbox holding this command's records plus entries that may not be delivered yet.
6. **Publish** the records (ReservationDecided, StockMoved, AvailabilityChanged).
7. **Acknowledge**: the event's ticket completes when every record of steps 5-6 is in Kafka;
   only then does Faust get the ack, and only acked offsets are committed (delivery.py).

An outbox entry is dropped once its record's offset is below the partition's low watermark
(no record caused by that offset or an earlier one is still in flight): so after a crash, every command whose records might
be missing is either re-applied (state behind) or finds its entry in the outbox (state ahead).
Availability is re-emitted only if it is the SKU's current version, so the compacted topic
never goes backwards (design note 4).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import orjson

from stocksignal.domain import (
    ChannelBook,
    ChannelCommand,
    Outcome,
    SkuCommand,
    apply,
    apply_channel_command,
    command_from_dict,
    dedupe_key,
    reconcile,
    within_window,
)
from stocksignal.processor import batches
from stocksignal.processor.delivery import DeliveryTracker, Ticket
from stocksignal.processor.envelope import (
    BookEnvelope,
    Envelope,
    Marker,
    OutboxEntry,
    book_key,
    history_key,
    channel_marker_key,
    is_sku_key,
    marker_key,
    sku_key,
)
from stocksignal.processor.holds import HoldIndex
from stocksignal.processor.metrics import ProcessorMetrics
from stocksignal.processor.publisher import AVAILABILITY, Publisher
from stocksignal.processor.store import StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApplierConfig:
    command_topic: str
    dedupe_window_ms: int
    history_size: int
    cache_size: int = 100_000  # decoded envelopes kept per partition


class Applier:
    def __init__(
        self,
        config: ApplierConfig,
        store: StateStore,
        tracker: DeliveryTracker,
        publisher: Publisher,
        holds: HoldIndex,
        metrics: ProcessorMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.tracker = tracker
        self.publisher = publisher
        self.holds = holds
        self.metrics = metrics
        self.clock = clock
        self._books: dict[int, BookEnvelope] = {}
        self._cache: dict[int, dict[str, Envelope]] = {}
        self.log_time: dict[int, int] = {}  # partition -> newest command log time seen

    def handle_record(self, partition: int, offset: int, payload: bytes, ticket: Ticket) -> None:
        """Apply every command of one command-topic record, in order."""
        log_time = self.log_time.get(partition, 0)
        for index, d in enumerate(batches.decode(payload)):
            command = command_from_dict(d)
            pos = batches.position(offset, index)
            if command.logged_at > log_time:
                log_time = self.log_time[partition] = command.logged_at
            if isinstance(command, ChannelCommand):
                self._handle_channel(partition, pos, command, ticket)
            else:
                self._handle_sku(partition, pos, command, ticket)

    def forget(self, partition: int) -> None:
        """The partition was revoked: drop what is cached of it (recovery may change it)."""
        self._books.pop(partition, None)
        self._cache.pop(partition, None)

    # --- SKU commands ----------------------------------------------------------------------

    def _handle_sku(self, partition: int, pos: int, cmd: SkuCommand, ticket: Ticket) -> None:
        env = self._envelope(cmd.sku, partition)
        mkey = marker_key(dedupe_key(cmd))
        if env is not None and pos <= env.applied_pos:
            self._replay(partition, pos, cmd, env, mkey, ticket)
            return
        if self._is_duplicate(mkey, partition, pos, cmd.logged_at):
            self.metrics.bump(self.metrics.duplicates, cmd.event_type)
            return
        book = self._book(partition).book
        outcome = apply(env.state if env else None, cmd, book)
        self._persist_and_publish(partition, pos, cmd, env, outcome, ticket, mkey)
        self.metrics.bump(self.metrics.commands_applied, type(cmd).__name__)
        for note in outcome.notes:
            self.metrics.bump(self.metrics.notes, str(note))

    def _persist_and_publish(
        self,
        partition: int,
        pos: int,
        cmd: SkuCommand | ChannelCommand,
        env: Envelope | None,
        outcome: Outcome,
        ticket: Ticket,
        mkey: bytes | None,
    ) -> None:
        records = self.publisher.encode(outcome, published_at=int(self.clock() * 1000))
        outbox = self._undelivered(partition, env)
        if records:
            outbox.append(OutboxEntry(pos, records))
        history_seq = env.history_seq if env else 0
        sku = outcome.state.sku
        if mkey is not None:
            self.store.put(mkey, Marker(cmd.logged_at, pos).to_bytes(), partition)
        if outcome.movements:
            movements = [m.to_record() for m in outcome.movements]
            slot = history_seq % self.config.history_size
            self.store.put(history_key(sku, slot), orjson.dumps([pos, movements]), partition)
            history_seq += 1
        new_env = Envelope(outcome.state, pos, outbox, history_seq)
        self.store.put(sku_key(sku), new_env.to_bytes(), partition)
        self._remember(partition, sku, new_env)
        self.publisher.publish(records, ticket)
        self.holds.note(partition, outcome.state)
        self._guard(outcome)

    def _undelivered(self, partition: int, env: Envelope | None) -> list[OutboxEntry]:
        if env is None or not env.outbox:
            return []
        low = self.tracker.low_watermark(self.config.command_topic, partition)
        if low is None:
            return []
        return [e for e in env.outbox if batches.offset_of(e.pos) >= low]

    def _replay(
        self, partition: int, pos: int, cmd: SkuCommand, env: Envelope, mkey: bytes, ticket: Ticket
    ) -> None:
        self.metrics.replayed.inc()
        self.store.put(mkey, Marker(cmd.logged_at, pos).to_bytes(), partition)
        self.store.put(sku_key(cmd.sku), env.to_bytes(), partition)
        self._reemit(env, pos, ticket)
        self.holds.note(partition, env.state)

    def _reemit(self, env: Envelope, pos: int, ticket: Ticket) -> None:
        entry = env.entry(pos)
        if entry is None:
            return  # pruned: its records were delivered before the entry was dropped
        current = env.state.version
        records = [r for r in entry.records if r.kind != AVAILABILITY or r.version == current]
        self.publisher.publish(records, ticket)

    def _is_duplicate(self, mkey: bytes, partition: int, pos: int, logged_at: int) -> bool:
        raw = self.store.get(mkey, partition)
        if raw is None:
            return False
        marker = Marker.from_bytes(raw)
        # The same position is this very command (its marker landed, its state did not).
        return marker.pos != pos and within_window(
            marker.logged_at, logged_at, self.config.dedupe_window_ms
        )

    # --- channel commands (broadcast: one per partition) -----------------------------------

    def _handle_channel(self, partition: int, pos: int, cmd: ChannelCommand, ticket: Ticket) -> None:
        benv = self._book(partition)
        if pos <= benv.applied_pos:
            self.metrics.replayed.inc()
            self._reconcile_all(partition, pos, cmd, benv.book, benv.book, ticket)
            self.store.put(book_key(partition), benv.to_bytes(), partition)
            return
        mkey = channel_marker_key(partition, dedupe_key(cmd))
        if self._is_duplicate(mkey, partition, pos, cmd.logged_at):
            self.metrics.bump(self.metrics.duplicates, cmd.event_type)
            return
        new_book = apply_channel_command(benv.book, cmd)
        self._reconcile_all(partition, pos, cmd, benv.book, new_book, ticket)
        self.store.put(mkey, Marker(cmd.logged_at, pos).to_bytes(), partition)
        # Written last: a crash before this line replays the command, and SKUs already
        # reconciled are recognised by their applied position.
        new = BookEnvelope(new_book, pos)
        self.store.put(book_key(partition), new.to_bytes(), partition)
        self._books[partition] = new
        self.metrics.bump(self.metrics.commands_applied, type(cmd).__name__)

    def _reconcile_all(
        self,
        partition: int,
        pos: int,
        cmd: ChannelCommand,
        old: ChannelBook,
        new: ChannelBook,
        ticket: Ticket,
    ) -> None:
        for key, value in list(self.store.scan(partition)):
            if not is_sku_key(key):
                continue
            sku = key.decode()
            env = self._cache.get(partition, {}).get(sku) or Envelope.from_bytes(value)
            if env.applied_pos >= pos:
                # Reconciled before a crash: make sure its snapshot and state are out.
                self.store.put(key, value, partition)
                self._reemit(env, pos, ticket)
                continue
            outcome = reconcile(env.state, old, new, cmd)
            if outcome.availability is not None:
                self._persist_and_publish(partition, pos, cmd, env, outcome, ticket, None)

    # --- loading ---------------------------------------------------------------------------

    def _envelope(self, sku: str, partition: int) -> Envelope | None:
        """The SKU's envelope; decoded ones are kept (they are values, never mutated)."""
        cache = self._cache.get(partition)
        if cache is not None:
            env = cache.get(sku)
            if env is not None:
                return env
        raw = self.store.get(sku_key(sku), partition)
        if raw is None:
            return None
        env = Envelope.from_bytes(raw)
        self._remember(partition, sku, env)
        return env

    def _remember(self, partition: int, sku: str, env: Envelope) -> None:
        cache = self._cache.setdefault(partition, {})
        if len(cache) >= self.config.cache_size:
            # Evict the oldest tenth: cheap, and a best-seller is re-read at once.
            for old in list(cache)[: max(1, self.config.cache_size // 10)]:
                del cache[old]
        cache.pop(sku, None)
        cache[sku] = env

    def _book(self, partition: int) -> BookEnvelope:
        """The partition's channel book; cached, since only channel commands change it."""
        cached = self._books.get(partition)
        if cached is None:
            raw = self.store.get(book_key(partition), partition)
            cached = BookEnvelope.from_bytes(raw) if raw is not None else BookEnvelope(ChannelBook())
            self._books[partition] = cached
        return cached

    def _guard(self, outcome: Outcome) -> None:
        """Count (and log) any position that breaks the no-oversell invariant: must be 0."""
        if outcome.availability is None:
            return  # no bucket changed
        for location_id, p in outcome.state.positions.items():
            if p.reserved > p.on_hand or p.on_hand < 0 or p.reserved < p.picked or p.picked < 0:
                self.metrics.oversell_guard.inc()
                log.error("invariant broken for %s at %s: %s", outcome.state.sku, location_id, p)


def history(
    store: StateStore, env: Envelope, sku: str, partition: int, history_size: int, limit: int
) -> list[dict[str, Any]]:
    """The SKU's recent movements, newest first (from the history slots)."""
    entries = []
    first = max(0, env.history_seq - history_size)
    for seq in range(env.history_seq - 1, first - 1, -1):
        raw = store.get(history_key(sku, seq % history_size), partition)
        if raw is None:
            continue
        _, movements = orjson.loads(raw)
        entries.extend(reversed(movements))
        if len(entries) >= limit:
            break
    return entries[:limit]
