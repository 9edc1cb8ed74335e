"""In-memory reference model: one command-topic partition, and the whole pipeline.

The property tests drive it, docs/semantics.md's examples run on it, and the processor's
tests use it as the independent model of what the processor must publish.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from . import commands as c
from . import order_saga as saga_steps
from .bundles import BundleView, Cause, observe, redefine
from .catalog import Bundle, Catalogue, apply_catalog_command, refusal, stock_refusal
from .channels import ChannelBook
from .dedupe import DEFAULT_DEDUPE_WINDOW_MS, dedupe_key, within_window
from .engine import apply, apply_channel_command, reconcile
from .errors import ValidationError
from .levels import publish_levels
from .outputs import OrderDecided, Outcome
from .split import OrderRef, needs_order, remember_fan_out, remember_order, split
from .state import SkuState
from .symbols import DecisionReason, Fulfilment, ReservationStatus
from .validation import validate

# Commands of order events: everything else names physical stock, which a bundle never holds.
_ORDER_COMMANDS = (c.PlaceLine, c.ConfirmLine, c.CancelLine, c.ExpireHolds)


class PartitionModel:
    """The states, channel book and dedupe markers of ONE command-topic partition."""

    def __init__(self, dedupe_window_ms: int = DEFAULT_DEDUPE_WINDOW_MS) -> None:
        self.dedupe_window_ms = dedupe_window_ms
        self.states: dict[str, SkuState] = {}
        self.book = ChannelBook()
        self.markers: dict[str, int] = {}  # dedupe key -> log time first applied
        self.catalogue = Catalogue()  # every partition holds every bundle (broadcast)
        self.bundle_views: dict[str, BundleView] = {}  # bundles whose SKU is in this partition
        self.sagas: dict[str, saga_steps.OrderSaga] = {}  # sagas of the orders this partition owns

    def handle(self, command: c.Command) -> list[Outcome]:
        """Apply one command unless it repeats one applied within the dedupe window.

        A SKU command gives one outcome; a channel command gives one per SKU whose
        availability changed (in SKU order).
        """
        if isinstance(command, c.ObserveComponent):  # not an input event: never a repeat
            return self._observe(command)
        if isinstance(command, c.OrderCommand):
            return []  # a saga's step: its effects are the commands it appended (in the log)
        if self._seen(command):
            return []
        if isinstance(command, (c.ConfigureChannel, c.RemoveChannel)):
            return self._handle_channel(command)
        if isinstance(command, c.CatalogCommand):
            return self._handle_catalog(command)
        assert isinstance(command, c.SkuCommand)
        if self.catalogue.is_bundle(command.sku):
            if not isinstance(command, _ORDER_COMMANDS):
                return []  # refused: a bundle holds no stock (the processor dead-letters it)
            if type(command) is c.PlaceLine:
                return []  # sent on to a saga of its own (processor/sagas.py, redirect)
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

    def _handle_catalog(self, command: c.CatalogCommand) -> list[Outcome]:
        """As the processor's partitions do (docs/processor.md#bundles-and-all-or-nothing-orders):
        the bundle's own partition gets the change first (``accepted`` False) and decides it;
        every other partition gets the accepted copy."""
        sku = command.bundle_sku
        bundle = Bundle.of(sku, command.components) if isinstance(command, c.DefineBundle) else None
        if not command.accepted and bundle is not None:
            state = self.states.get(sku)
            if refusal(self.catalogue, bundle, stocked=bool(state and state.positions)):
                return []
        self.catalogue = apply_catalog_command(self.catalogue, command)
        if command.accepted:
            return []
        cause = Cause(command.event_id, command.event_type, command.occurred_at)
        view, snapshot = redefine(
            self.bundle_views.get(sku) or BundleView(sku),
            bundle,
            cause,
            tuple(sorted(self.book.configured)),
        )
        self.bundle_views[sku] = view
        return [] if snapshot is None else [Outcome(SkuState.empty(sku), [], [], snapshot)]

    def _observe(self, command: c.ObserveComponent) -> list[Outcome]:
        view = self.bundle_views.get(command.sku)
        if view is None:
            return []
        cause = Cause(command.event_id, command.event_type, command.occurred_at)
        view, snapshot = observe(view, command.component, dict(command.values), cause)
        self.bundle_views[command.sku] = view
        return [] if snapshot is None else [Outcome(SkuState.empty(command.sku), [], [], snapshot)]

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
        self.order_decisions: list[OrderDecided] = []  # every OrderDecided, in order
        self._placements: dict[str, int] = {}  # OrderPlaced event id -> log time first decided
        self.dedupe_window_ms = dedupe_window_ms
        self._counter = 0
        self.clock = 0  # log time used by post(); advanced by 1000 ms per event

    def handle_event(
        self, record_name: str, record: Mapping[str, Any], logged_at: int
    ) -> list[Outcome]:
        """Validate, split and apply one input event. Raises ValidationError (the DLQ case).

        Orders are decided as the processor's order saga decides them (order_saga.py), one
        step after another: here every step is delivered at once. Bundle availability
        follows each component snapshot (bundles.py); ``order_decisions`` collects every
        OrderDecided.
        """
        validate(record_name, record)
        if record_name in ("BundleDefined", "BundleRemoved"):
            return self._catalog_event(record_name, record, logged_at)
        if record_name == "OrderPlaced":
            return self._with_bundles(self._order_placed(record, logged_at))
        if record_name == "OrderCancelled" and record.get("lines") is not None:
            saga = self.partition_for(record["order_id"]).sagas.get(record["order_id"])
            lines = saga_steps.cancel_lines(saga, record["lines"])
            record = {**record, "lines": [{"sku": s, "qty": q} for s, q in lines]}
        order = self.orders.get(record["order_id"]) if needs_order(record_name, record) else None
        commands = split(record_name, record, logged_at=logged_at, order=order)
        for command in commands:
            if isinstance(command, c.SkuCommand) and not isinstance(command, _ORDER_COMMANDS):
                why = stock_refusal(self.partition_for(command.sku).catalogue, command.sku)
                if why:
                    raise ValidationError([why])
        if order is not None:  # a replay of this event must reach the same SKUs
            self.orders[order.order_id] = remember_fan_out(order, record["event_id"])
        outcomes: list[Outcome] = []
        for command in commands:
            outcomes.extend(self.handle_command(command))
        return self._with_bundles(outcomes)

    # --- orders: the saga's steps, delivered at once --------------------------------------

    def _order_placed(self, record: Mapping[str, Any], logged_at: int) -> list[Outcome]:
        event_id, order_id = record["event_id"], record["order_id"]
        first = self._placements.get(event_id)
        if first is not None and within_window(first, logged_at, self.dedupe_window_ms):
            return []  # a repeat of the event: no new decision
        self._placements[event_id] = logged_at
        home = self.partition_for(order_id)
        expanded = saga_steps.expand(
            record["lines"], home.catalogue, record.get("fulfilment", Fulfilment.PER_LINE)
        )
        # Null-line cancels and confirmations reach the SKUs the order really holds.
        placed = {**record, "lines": [{"sku": s, "qty": q} for s, q in expanded.lines]}
        self.orders[order_id] = remember_order(placed, self.orders.get(order_id))
        common = {
            "event_id": event_id,
            "occurred_at": record["occurred_at"],
            "logged_at": logged_at,
            "source": record.get("source"),
        }
        saga, steps = saga_steps.start(
            order_id,
            record["channel_id"],
            expanded,
            command_id=f"{event_id}@{logged_at}",
            cause_event_id=event_id,
            decided_at=logged_at,
        )
        outcomes: list[Outcome] = []
        while steps:
            step = steps.pop(0)
            if isinstance(step, saga_steps.Place):
                cmd = c.PlaceLine(
                    command_id=f"{event_id}:{step.sku}@{logged_at}",
                    event_type="OrderPlaced",
                    sku=step.sku,
                    order_id=order_id,
                    channel_id=record["channel_id"],
                    qty=step.qty,
                    hold_expires_at=record.get("hold_expires_at"),
                    **common,
                )
                got = self.handle_command(cmd)
                outcomes.extend(got)
                saga, more = saga_steps.line_decided(
                    saga, step.sku, self._reserved(got, step.sku, order_id), logged_at
                )
            elif isinstance(step, saga_steps.Release):
                release_id = f"{event_id}/incomplete"
                release = c.CancelLine(
                    command_id=f"{release_id}:{step.sku}@{logged_at}",
                    event_id=release_id,
                    event_type="OrderPlaced",
                    occurred_at=record["occurred_at"],
                    logged_at=logged_at,
                    source=record.get("source"),
                    sku=step.sku,
                    order_id=order_id,
                    qty=None,
                    reason=DecisionReason.ORDER_INCOMPLETE,
                )
                outcomes.extend(self.handle_command(release))
                saga, more = saga_steps.line_released(saga, step.sku, logged_at)
            else:
                self.order_decisions.append(step.decision)
                more = []
            steps.extend(more)
        home.sagas[order_id] = saga
        return outcomes

    def _reserved(self, outcomes: list[Outcome], sku: str, order_id: str) -> int:
        """What the SKU reserved for the order's line, as its partition reports it."""
        for o in outcomes:
            for d in o.decisions:
                if d.order_id == order_id and d.status in (
                    ReservationStatus.RESERVED,
                    ReservationStatus.REJECTED,
                ):
                    return d.qty_reserved
        line = self.state(sku).lines.get(order_id)  # the line was open already (a repeat)
        return line.reserved if line is not None else 0

    # --- the catalogue and bundle availability --------------------------------------------

    def _catalog_event(
        self, record_name: str, record: Mapping[str, Any], logged_at: int
    ) -> list[Outcome]:
        (cmd,) = split(record_name, record, logged_at=logged_at)
        assert isinstance(cmd, c.CatalogCommand)
        sku = cmd.bundle_sku
        home = self.partition_for(sku)
        bundle = Bundle.of(sku, cmd.components) if isinstance(cmd, c.DefineBundle) else None
        if bundle is not None:
            state = home.states.get(sku)
            why = refusal(home.catalogue, bundle, stocked=bool(state and state.positions))
            if why:
                raise ValidationError([why])
        if home._seen(cmd):
            return []
        for partition in self.partitions:
            partition.catalogue = apply_catalog_command(partition.catalogue, cmd)
        known = {}
        for comp in bundle.components if bundle is not None else ():
            owner = self.partition_for(comp.sku)
            if comp.sku in owner.states:
                known[comp.sku] = owner.book.ats(owner.states[comp.sku])
        # As the processor learns them: the change first, then each stocked component's value
        # (its partition tells the bundle's, in component order here).
        cause = Cause(cmd.event_id, cmd.event_type, cmd.occurred_at)
        channels = tuple(sorted(home.book.configured))
        view, snapshot = redefine(
            home.bundle_views.get(sku) or BundleView(sku), bundle, cause, channels
        )
        snapshots = [snapshot]
        for component, values in known.items():
            view, snapshot = observe(view, component, values, cause)
            snapshots.append(snapshot)
        home.bundle_views[sku] = view
        return [Outcome(SkuState.empty(sku), [], [], s) for s in snapshots if s is not None]

    def _with_bundles(self, outcomes: list[Outcome]) -> list[Outcome]:
        """``outcomes`` and, after each component snapshot that moves a bundle, the bundle's."""
        out: list[Outcome] = []
        for o in outcomes:
            out.append(o)
            if not o.changed:
                continue
            sku = o.state.sku
            snap = o.availability
            assert snap is not None
            values = {ch.channel_id: ch.available for ch in snap.channels}
            cause = Cause(snap.cause_event_id, snap.cause_event_type, snap.occurred_at)
            for bundle in self.partition_for(sku).catalogue.containing(sku):
                home = self.partition_for(bundle.bundle_sku)
                view = home.bundle_views.get(bundle.bundle_sku) or BundleView(
                    bundle.bundle_sku, bundle
                )
                view, bundle_snap = observe(view, sku, values, cause)
                home.bundle_views[bundle.bundle_sku] = view
                if bundle_snap is not None:
                    out.append(Outcome(SkuState.empty(bundle.bundle_sku), [], [], bundle_snap))
        return out

    def bundle_view(self, bundle_sku: str) -> BundleView | None:
        return self.partition_for(bundle_sku).bundle_views.get(bundle_sku)

    def order_decision(self, order_id: str) -> OrderDecided | None:
        """The newest OrderDecided of an order."""
        for d in reversed(self.order_decisions):
            if d.order_id == order_id:
                return d
        return None

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
        return self._with_bundles(outcomes)

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
