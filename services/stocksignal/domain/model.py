"""In-memory reference model: one command-topic partition, and the whole pipeline.

The property tests drive it, docs/semantics.md's examples run on it, and the processor's
tests use it as the independent model of what the processor must publish.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from . import commands as c
from .channels import ChannelBook
from .dedupe import DEFAULT_DEDUPE_WINDOW_MS, dedupe_key, within_window
from .engine import apply, apply_channel_command, reconcile
from .levels import publish_levels
from .outputs import Outcome
from .split import OrderRef, needs_order, remember_fan_out, remember_order, split
from .state import SkuState
from .validation import validate


class PartitionModel:
    """The states, channel book and dedupe markers of ONE command-topic partition."""

    def __init__(self, dedupe_window_ms: int = DEFAULT_DEDUPE_WINDOW_MS) -> None:
        self.dedupe_window_ms = dedupe_window_ms
        self.states: dict[str, SkuState] = {}
        self.book = ChannelBook()
        self.markers: dict[str, int] = {}  # dedupe key -> log time first applied

    def handle(self, command: c.Command) -> list[Outcome]:
        """Apply one command unless it repeats one applied within the dedupe window.

        A SKU command gives one outcome; a channel command gives one per SKU whose
        availability changed (in SKU order).
        """
        if self._seen(command):
            return []
        if isinstance(command, (c.ConfigureChannel, c.RemoveChannel)):
            return self._handle_channel(command)
        assert isinstance(command, c.SkuCommand)
        outcome = _published(apply(self.states.get(command.sku), command, self.book))
        self.states[command.sku] = outcome.state
        return [outcome]

    def _seen(self, command: c.Command) -> bool:
        key = dedupe_key(command)
        first = self.markers.get(key)
        if first is not None and within_window(first, command.logged_at, self.dedupe_window_ms):
            return True
        self.markers.pop(key, None)  # re-insert at the end: the dict stays in log-time order
        self.markers[key] = command.logged_at
        self._expire_markers(command.logged_at)
        return False

    def _expire_markers(self, now: int) -> None:
        while self.markers:
            key, first = next(iter(self.markers.items()))
            if within_window(first, now, self.dedupe_window_ms):
                break
            del self.markers[key]

    def _handle_channel(self, command: c.ConfigureChannel | c.RemoveChannel) -> list[Outcome]:
        old_book, self.book = self.book, apply_channel_command(self.book, command)
        outcomes = []
        for sku in sorted(self.states):
            outcome = _published(reconcile(self.states[sku], old_book, self.book, command))
            if outcome.changed:
                self.states[sku] = outcome.state
                outcomes.append(outcome)
        return outcomes

    def due_holds(self, now: int) -> list[str]:
        """SKUs with a hold due at ``now`` (the processor keeps an index; this model scans)."""
        return [
            sku
            for sku, state in sorted(self.states.items())
            if (due := state.next_hold_expiry()) is not None and due <= now
        ]


def _published(outcome: Outcome) -> Outcome:
    """The model publishes every snapshot: each one settles the SKU's stock levels, and the
    outcome carries the level records and the state that remembers them (levels.py)."""
    record = outcome.availability_record()  # None exactly when nothing changed
    if record is not None:
        outcome.state, outcome.levels = publish_levels(outcome.state, outcome.book, record)
    return outcome


def partition_of(sku: str, partitions: int) -> int:
    """The model's partitioner (the processor uses Kafka's; only stability matters here)."""
    return zlib.crc32(sku.encode()) % partitions


class InMemoryInventory:
    """The whole pipeline in memory: validate -> split (remembering orders) -> partitions."""

    def __init__(
        self, partitions: int = 1, dedupe_window_ms: int = DEFAULT_DEDUPE_WINDOW_MS
    ) -> None:
        self.partitions = [PartitionModel(dedupe_window_ms) for _ in range(partitions)]
        self.orders: dict[str, OrderRef] = {}
        self._counter = 0
        self.clock = 0  # log time used by post(); advanced by 1000 ms per event

    def handle_event(
        self, record_name: str, record: Mapping[str, Any], logged_at: int
    ) -> list[Outcome]:
        """Validate, split and apply one input event. Raises ValidationError (the DLQ case)."""
        validate(record_name, record)
        order = self.orders.get(record["order_id"]) if needs_order(record_name, record) else None
        commands = split(record_name, record, logged_at=logged_at, order=order)
        if order is not None:  # a replay of this event must reach the same SKUs
            self.orders[order.order_id] = remember_fan_out(order, record["event_id"])
        if record_name == "OrderPlaced":
            self.orders[record["order_id"]] = remember_order(
                record, self.orders.get(record["order_id"])
            )
        outcomes: list[Outcome] = []
        for command in commands:
            outcomes.extend(self.handle_command(command))
        return outcomes

    def handle_command(self, command: c.Command) -> list[Outcome]:
        if isinstance(command, c.SkuCommand):
            return self.partition_for(command.sku).handle(command)
        outcomes: list[Outcome] = []
        for partition in self.partitions:  # channel commands are broadcast
            outcomes.extend(partition.handle(command))
        return outcomes

    def expire(self, now: int, *, logged_at: int | None = None) -> list[Outcome]:
        """What the processor's timer does: append ExpireHolds for every SKU with a due hold."""
        logged_at = now if logged_at is None else logged_at
        outcomes: list[Outcome] = []
        for partition in self.partitions:
            for sku in partition.due_holds(now):
                outcomes.extend(partition.handle(c.expire_holds(sku, now, logged_at=logged_at)))
        return outcomes

    def post(self, record_name: str, **fields: Any) -> list[Outcome]:
        """Convenience for examples and tests: fills ``event_id``, ``occurred_at`` and log time."""
        self._counter += 1
        self.clock += 1000
        fields.setdefault("event_id", f"e{self._counter}")
        fields.setdefault("occurred_at", self.clock)
        return self.handle_event(record_name, fields, self.clock)

    # --- inspection -----------------------------------------------------------------------

    def partition_for(self, sku: str) -> PartitionModel:
        return self.partitions[partition_of(sku, len(self.partitions))]

    def state(self, sku: str) -> SkuState:
        return self.partition_for(sku).states.get(sku) or SkuState.empty(sku)

    def book(self, sku: str | None = None) -> ChannelBook:
        """The channel book (every partition holds the same one once channel commands ran)."""
        return (self.partition_for(sku) if sku else self.partitions[0]).book

    def ats(self, sku: str) -> dict[str, int]:
        return self.book(sku).ats(self.state(sku))
