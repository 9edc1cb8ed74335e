"""Apply the commands of one command-topic partition: load, skip, dedupe, decide, write.

For one command at (partition, position) — a position is the record's offset and the
command's index in it (batches.py) — in this order:

1. **Load** the SKU's envelope (state and applied position) from the partition's store.
2. **Skip what is applied.** ``position <= applied position``: the state already holds this
   command. Under transactions this happens only when a command record is read again after
   a commit that fell inside it (a channel change reconciles its partition over several
   transactions, see :class:`Reconcile`).
3. **Drop a duplicate.** A dedupe marker for ``(sku, event_id)`` written by *another*
   position within the window means a producer sent the event twice: no effect.
4. **Decide** with the pure core: ``apply(state, command, book)``.
5. **Write**, into the open transaction: the dedupe marker, a history slot, the hold index
   key, the envelope; the decisions and movements are produced at once, the availability
   snapshot is held until the commit (the newest per SKU wins).

Nothing here commits: the runtime commits the transaction with the consumed offsets, and
only then do the writes reach the local store (store.py).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

import orjson

from stocksignal.domain import (
    ChannelBook,
    ChannelCommand,
    CountStock,
    SkuCommand,
    SkuState,
    apply,
    apply_channel_command,
    command_from_dict,
    dedupe_key,
    reconcile,
    within_window,
)
from stocksignal.processor import batches
from stocksignal.processor.envelope import (
    BookEnvelope,
    Envelope,
    Marker,
    book_key,
    channel_marker_key,
    history_key,
    is_sku_key,
    marker_key,
    sku_key,
)
from stocksignal.processor.holds import HoldIndex
from stocksignal.processor.metrics import ProcessorMetrics
from stocksignal.processor.publisher import Publisher
from stocksignal.processor.sagas import REPLIES
from stocksignal.processor.store import PartitionStore

log = logging.getLogger(__name__)

RECONCILE_SLICE = 2000  # SKUs a channel change reconciles per step


@dataclass(frozen=True)
class ApplierConfig:
    dedupe_window_ms: int
    history_size: int
    cache_mb: int = 64


class EnvelopeCache:
    """Decoded envelopes of recently used SKUs, bounded in (estimated) bytes for the worker.

    A decoded state costs several times its JSON (Python objects); the estimate below was
    measured on the bench mix (docs/processor.md, "Memory"). Values are never mutated, so a
    cached envelope is safe to share; it is dropped whenever its transaction may not commit.
    """

    OBJECT_FACTOR = 6
    OVERHEAD = 400

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple[int, str], tuple[Envelope, int]] = OrderedDict()

    def get(self, partition: int, sku: str) -> Envelope | None:
        found = self._entries.get((partition, sku))
        if found is None:
            return None
        self._entries.move_to_end((partition, sku))
        return found[0]

    def put(self, partition: int, sku: str, env: Envelope, raw_len: int) -> None:
        key = (partition, sku)
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        size = self.OVERHEAD + self.OBJECT_FACTOR * raw_len
        self._entries[key] = (env, size)
        self.bytes += size
        while self.bytes > self.max_bytes and self._entries:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.bytes -= dropped

    def drop_partition(self, partition: int) -> None:
        for key in [k for k in self._entries if k[0] == partition]:
            self.bytes -= self._entries.pop(key)[1]

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class Reconcile:
    """A channel change being applied to every SKU of a partition, a slice per step."""

    pos: int
    command: ChannelCommand
    old: ChannelBook
    new: ChannelBook
    cursor: bytes = b"\x01"  # SKU keys are printable: everything from here on


@dataclass
class PartitionState:
    """What the applier keeps of one command partition while it is assigned."""

    store: PartitionStore
    holds: HoldIndex
    book: BookEnvelope
    log_time: int = 0
    reconcile: Reconcile | None = None
    catalog: Any = None  # the partition's catalogue, read when first needed (bundles.py)

    @classmethod
    def load(cls, store: PartitionStore) -> PartitionState:
        raw = store.get(book_key(store.partition))
        book = BookEnvelope.from_bytes(raw) if raw is not None else BookEnvelope(ChannelBook())
        return cls(store, HoldIndex.load(store), book)


@dataclass
class RecordCursor:
    """A command record being applied: its commands and how far we got."""

    offset: int
    commands: list[dict[str, Any]]
    index: int = 0
    done: bool = field(default=False)


class Applier:
    def __init__(
        self,
        config: ApplierConfig,
        publisher: Publisher,
        metrics: ProcessorMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.publisher = publisher
        self.metrics = metrics
        self.clock = clock
        self.cache = EnvelopeCache(config.cache_mb << 20)
        publisher.on_levels = self._levels_published
        self.bundles = None  # bundles.install: catalogue, bundle availability (docs/processor.md)
        self.sagas = None  # sagas.install: whole-order decisions

    def advance(self, ps: PartitionState, cursor: RecordCursor) -> None:
        """Apply the record's commands from where the cursor stands; returns when the record
        is done, or when a channel change has reconciled one slice (call again)."""
        partition = ps.store.partition
        if ps.reconcile is not None:
            if not self._reconcile_slice(ps):
                return
            cursor.index += 1
        commands = cursor.commands
        while cursor.index < len(commands):
            command = command_from_dict(commands[cursor.index])
            pos = batches.position(cursor.offset, cursor.index)
            if command.logged_at > ps.log_time:
                ps.log_time = command.logged_at
            if isinstance(command, ChannelCommand):
                if self._start_channel(ps, pos, command) and not self._reconcile_slice(ps):
                    return
            elif self.bundles is None:
                self._apply_sku(ps, partition, pos, cast(SkuCommand, command))
            elif self.bundles.handles(command):
                self.bundles.apply(ps, pos, command)
            elif self.sagas is not None and self.sagas.handles(command):
                self.sagas.apply(ps, pos, command)
            elif self.sagas is not None and self.sagas.redirect(ps, command):
                pass
            elif not self.bundles.refuses(ps, pos, command):
                if (
                    self._apply_sku(ps, partition, pos, cast(SkuCommand, command))
                    and self.sagas is not None
                    and isinstance(command, REPLIES)
                ):
                    self.sagas.reply(ps, command, self.envelope(ps.store, command.sku))
            cursor.index += 1
        cursor.done = True

    # --- SKU commands ----------------------------------------------------------------------

    def _apply_sku(self, ps: PartitionState, partition: int, pos: int, cmd: SkuCommand) -> bool:
        """False when the state already holds the command (it was applied and committed)."""
        env = self.envelope(ps.store, cmd.sku)
        if env is not None and pos <= env.applied_pos:
            self.metrics.replayed.inc()
            return False
        mkey = marker_key(dedupe_key(cmd))
        if self._is_duplicate(ps.store, mkey, pos, cmd.logged_at):
            self.metrics.bump(self.metrics.duplicates, cmd.event_type)
            return True
        before = env.state if env else None
        outcome = apply(before, cmd, ps.book.book)
        ps.store.put(mkey, Marker(cmd.logged_at, pos).to_bytes())
        self._write(ps, partition, pos, env, outcome)
        self.metrics.bump(self.metrics.commands_applied, type(cmd).__name__)
        for note in outcome.notes:
            self.metrics.bump(self.metrics.notes, str(note))
        if type(cmd) is CountStock:  # inventory record accuracy (docs/operations.md)
            self.metrics.counted(cmd.location_id, outcome.movements)
        return True

    def _write(
        self, ps: PartitionState, partition: int, pos: int, env: Envelope | None, outcome
    ) -> None:
        store = ps.store
        state = outcome.state
        history_seq = env.history_seq if env else 0
        movements = None
        if outcome.movements:
            movements = [m.to_record() for m in outcome.movements]
            slot = history_seq % self.config.history_size
            store.put(history_key(state.sku, slot), orjson.dumps([pos, movements]))
            history_seq += 1
        new_env = Envelope(state, pos, history_seq)
        raw = new_env.to_bytes()
        store.put(sku_key(state.sku), raw)
        self.cache.put(partition, state.sku, new_env, len(raw))
        ps.holds.note(store, env.state if env else None, state)
        self.publisher.publish(outcome, int(self.clock() * 1000), movements, ps)
        if movements:
            self._guard(state, {m["location_id"] for m in movements})

    def _levels_published(self, ps: object, published: SkuState) -> None:
        """The publisher produced a snapshot whose stock levels differ from the SKU's last
        published ones: keep the new levels in the SKU's envelope, in the same transaction as
        the level records, so a restore or a replay compares with what readers saw.

        The envelope may be newer than the published state (a later command changed lines
        only): only its levels are replaced; its applied position stays."""
        assert isinstance(ps, PartitionState)
        store, partition = ps.store, ps.store.partition
        env = self.envelope(store, published.sku)
        assert env is not None and env.state.version == published.version
        new_env = Envelope(
            replace(env.state, levels=published.levels), env.applied_pos, env.history_seq
        )
        raw = new_env.to_bytes()
        store.put(sku_key(published.sku), raw)
        self.cache.put(partition, published.sku, new_env, len(raw))

    def _is_duplicate(self, store: PartitionStore, mkey: bytes, pos: int, logged_at: int) -> bool:
        raw = store.get(mkey)
        if raw is None:
            return False
        marker = Marker.from_bytes(raw)
        # The same position is this very command (read again after a failure).
        return marker.pos != pos and within_window(
            marker.logged_at, logged_at, self.config.dedupe_window_ms
        )

    # --- channel commands (broadcast: one per partition) -----------------------------------

    def _start_channel(self, ps: PartitionState, pos: int, cmd: ChannelCommand) -> bool:
        """Begin reconciling a channel change; False when it is applied or a duplicate."""
        if pos <= ps.book.applied_pos:
            self.metrics.replayed.inc()
            return False
        mkey = channel_marker_key(ps.store.partition, dedupe_key(cmd))
        if self._is_duplicate(ps.store, mkey, pos, cmd.logged_at):
            self.metrics.bump(self.metrics.duplicates, cmd.event_type)
            return False
        ps.reconcile = Reconcile(pos, cmd, ps.book.book, apply_channel_command(ps.book.book, cmd))
        return True

    def _reconcile_slice(self, ps: PartitionState) -> bool:
        """Republish one slice of SKUs under the new configuration; True when all are done
        (then the book itself is written, last: a failure before that re-runs the change, and
        SKUs already reconciled are known by their applied position)."""
        rec = ps.reconcile
        assert rec is not None
        store, partition = ps.store, ps.store.partition
        items = store.scan(b"", rec.cursor, RECONCILE_SLICE + 1)
        for key, raw in items[:RECONCILE_SLICE]:
            if not is_sku_key(key) or Envelope.applied_pos_of(raw) >= rec.pos:
                continue
            env = self.envelope(store, key.decode())
            assert env is not None
            outcome = reconcile(env.state, rec.old, rec.new, rec.command)
            if outcome.changed:
                self._write(ps, partition, rec.pos, env, outcome)
        if len(items) > RECONCILE_SLICE:
            rec.cursor = items[RECONCILE_SLICE][0]
            return False
        mkey = channel_marker_key(partition, dedupe_key(rec.command))
        store.put(mkey, Marker(rec.command.logged_at, rec.pos).to_bytes())
        ps.book = BookEnvelope(rec.new, rec.pos)
        store.put(book_key(partition), ps.book.to_bytes())
        ps.reconcile = None
        self.metrics.bump(self.metrics.commands_applied, type(rec.command).__name__)
        return True

    # --- loading ---------------------------------------------------------------------------

    def envelope(self, store: PartitionStore, sku: str) -> Envelope | None:
        """The SKU's envelope, the open transaction's writes included."""
        partition = store.partition
        env = self.cache.get(partition, sku)
        if env is not None:
            return env
        raw = store.get(sku_key(sku))
        if raw is None:
            return None
        env = Envelope.from_bytes(raw)
        self.cache.put(partition, sku, env, len(raw))
        return env

    def _guard(self, state: SkuState, locations: set[str]) -> None:
        """Count (and log) any position this command moved that breaks the no-oversell
        invariant: must stay 0 (the core guarantees it; this watches the guarantee)."""
        positions = state.positions
        for location_id in locations:
            p = positions.get(location_id)
            if p is None:
                continue
            if p.reserved > p.on_hand or p.on_hand < 0 or p.reserved < p.picked or p.picked < 0:
                self.metrics.oversell_guard.inc()
                log.error("invariant broken for %s at %s: %s", state.sku, location_id, p)


def history(
    store: PartitionStore, env: Envelope, sku: str, history_size: int, limit: int
) -> list[dict[str, Any]]:
    """The SKU's recent movements, newest first (from the history slots)."""
    entries: list[dict[str, Any]] = []
    first = max(0, env.history_seq - history_size)
    for seq in range(env.history_seq - 1, first - 1, -1):
        raw = store.get(history_key(sku, seq % history_size))
        if raw is None:
            continue
        _, movements = orjson.loads(raw)
        entries.extend(reversed(movements))
        if len(entries) >= limit:
            break
    return entries[:limit]
