"""Output records (docs/contract.md#records) and the outcome of one command.

Field names are exactly the contract's, so ``to_record()`` is what the codec encodes.

Outputs are values: nothing changes one after it is made. They are not ``frozen`` dataclasses
only because a frozen dataclass's ``__init__`` costs about six times as much (it sets every
field through ``object.__setattr__``), and the core makes several per command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .channels import ChannelBook
from .commands import Command
from .positions import Position
from .state import SkuState


@dataclass(slots=True, unsafe_hash=True)
class Allocation:
    location_id: str
    qty: int

    def to_record(self) -> dict[str, Any]:
        return {"location_id": self.location_id, "qty": self.qty}


@dataclass(slots=True, unsafe_hash=True)
class ReservationDecided:
    decision_id: str
    order_id: str
    sku: str
    channel_id: str
    status: str
    qty_requested: int
    qty_reserved: int  # the line's open reservation after this decision
    allocations: list[Allocation]  # the line's allocation after this decision, by location
    reason: str | None
    cause_event_id: str
    decided_at: int

    def to_record(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "order_id": self.order_id,
            "sku": self.sku,
            "channel_id": self.channel_id,
            "status": str(self.status),
            "qty_requested": self.qty_requested,
            "qty_reserved": self.qty_reserved,
            "allocations": [a.to_record() for a in self.allocations],
            "reason": None if self.reason is None else str(self.reason),
            "cause_event_id": self.cause_event_id,
            "decided_at": self.decided_at,
        }


@dataclass(slots=True, unsafe_hash=True)
class StockMoved:
    movement_id: str
    sku: str
    location_id: str
    bucket: str
    delta: int
    balance_after: int
    reason: str
    reason_detail: str | None
    cause_event_id: str
    cause_event_type: str
    reference: str | None
    occurred_at: int

    def to_record(self) -> dict[str, Any]:
        return {
            "movement_id": self.movement_id,
            "sku": self.sku,
            "location_id": self.location_id,
            "bucket": str(self.bucket),
            "delta": self.delta,
            "balance_after": self.balance_after,
            "reason": str(self.reason),
            "reason_detail": self.reason_detail,
            "cause_event_id": self.cause_event_id,
            "cause_event_type": self.cause_event_type,
            "reference": self.reference,
            "occurred_at": self.occurred_at,
        }


@dataclass(slots=True, unsafe_hash=True)
class ChannelAvailability:
    channel_id: str
    available: int

    def to_record(self) -> dict[str, Any]:
        return {"channel_id": self.channel_id, "available": self.available}


@dataclass(slots=True, unsafe_hash=True)
class LocationStock:
    location_id: str
    on_hand: int
    reserved: int
    picked: int
    damaged: int
    quality_hold: int
    pending_inspection: int
    inbound: int
    sellable: int

    def to_record(self) -> dict[str, Any]:
        return {
            "location_id": self.location_id,
            "on_hand": self.on_hand,
            "reserved": self.reserved,
            "picked": self.picked,
            "damaged": self.damaged,
            "quality_hold": self.quality_hold,
            "pending_inspection": self.pending_inspection,
            "inbound": self.inbound,
            "sellable": self.sellable,
        }


@dataclass(slots=True, unsafe_hash=True)
class AvailabilityChanged:
    sku: str
    version: int
    channels: list[ChannelAvailability]  # default + every configured channel, by channel_id
    locations: list[LocationStock]  # every position of the SKU, by location_id
    cause_event_id: str
    cause_event_type: str
    occurred_at: int
    published_at: int = 0  # set by the processor when it publishes

    def available(self, channel_id: str) -> int | None:
        for ch in self.channels:
            if ch.channel_id == channel_id:
                return ch.available
        return None

    def to_record(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "version": self.version,
            "channels": [c.to_record() for c in self.channels],
            "locations": [loc.to_record() for loc in self.locations],
            "cause_event_id": self.cause_event_id,
            "cause_event_type": self.cause_event_type,
            "occurred_at": self.occurred_at,
            "published_at": self.published_at,
        }


@dataclass(slots=True, unsafe_hash=True)
class StockLevelChanged:
    """A channel's stock level changed with a published availability (docs/semantics.md#stock-level-signals)."""

    sku: str
    channel_id: str
    level: str
    previous_level: str | None  # None: the channel is seen for the first time for this SKU
    available: int
    version: int  # that AvailabilityChanged's
    cause_event_id: str
    occurred_at: int

    def to_record(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "channel_id": self.channel_id,
            "level": str(self.level),
            "previous_level": None if self.previous_level is None else str(self.previous_level),
            "available": self.available,
            "version": self.version,
            "cause_event_id": self.cause_event_id,
            "occurred_at": self.occurred_at,
        }


@dataclass(slots=True, unsafe_hash=True)
class OrderLineOutcome:
    sku: str
    qty_requested: int
    qty_reserved: int

    def to_record(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "qty_requested": self.qty_requested,
            "qty_reserved": self.qty_reserved,
        }


@dataclass(slots=True, unsafe_hash=True)
class OrderDecided:
    """How a whole order ended (contract 11.3), once every line is decided."""

    decision_id: str
    order_id: str
    channel_id: str
    status: str
    fulfilment: str
    lines: list[OrderLineOutcome]  # the expanded lines, then each bundle line in whole bundles
    reason: str | None
    cause_event_id: str
    decided_at: int

    def line(self, sku: str) -> OrderLineOutcome | None:
        for line in self.lines:
            if line.sku == sku:
                return line
        return None

    def to_record(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "order_id": self.order_id,
            "channel_id": self.channel_id,
            "status": str(self.status),
            "fulfilment": str(self.fulfilment),
            "lines": [line.to_record() for line in self.lines],
            "reason": self.reason,
            "cause_event_id": self.cause_event_id,
            "decided_at": self.decided_at,
        }


class Outcome:
    """What one command did to one SKU. ``state`` is the state to keep (maybe the same object).

    The availability snapshot is built only when asked for: a processor publishes only the
    newest per SKU of each commit, so most of a hot SKU's snapshots are never needed.
    ``changed`` says whether there is one (a bucket or a channel's value changed).
    """

    __slots__ = ("state", "decisions", "movements", "notes", "levels", "_availability", "_source")

    def __init__(
        self,
        state: SkuState,
        decisions: list[ReservationDecided],
        movements: list[StockMoved],
        availability: AvailabilityChanged | None = None,
        notes: tuple[str, ...] = (),
        *,
        source: tuple[Any, Any] | None = None,
    ) -> None:
        self.state = state
        self.decisions = decisions
        self.movements = movements
        self.notes = notes
        # Stock-level changes: set where a snapshot is published (levels.py), not by apply.
        self.levels: list[StockLevelChanged] = []
        self._availability = availability
        self._source = source  # (book, cause): what a snapshot of ``state`` is built from

    @property
    def changed(self) -> bool:
        return self._availability is not None or self._source is not None

    @property
    def availability(self) -> AvailabilityChanged | None:
        if self._availability is None and self._source is not None:
            book, cause = self._source
            self._availability = snapshot(self.state, book, cause)
        return self._availability

    def availability_record(self) -> dict[str, Any] | None:
        """The snapshot as the contract's record, without building the value objects."""
        if self._availability is not None:
            return self._availability.to_record()
        if self._source is None:
            return None
        book, cause = self._source
        return snapshot_record(self.state, book, cause)

    @property
    def book(self) -> Any:
        """The channel book the snapshot is computed with (None: no snapshot)."""
        return self._source[0] if self._source is not None else None

    @property
    def occurred_at(self) -> int:
        """When the snapshot's cause happened (its ``occurred_at``)."""
        if self._availability is not None:
            return self._availability.occurred_at
        return self._source[1].occurred_at if self._source is not None else 0

    @property
    def logged_at(self) -> int:
        """When the snapshot's cause entered the log (its input record's Kafka timestamp; the
        timer's time for an expiry): what output latency is measured from, so a backfill of
        old events (old ``occurred_at``) is not counted as slow processing. 0: no snapshot."""
        return self._source[1].logged_at if self._source is not None else 0

    @property
    def has_outputs(self) -> bool:
        return bool(self.decisions or self.movements or self.changed)

    def _fields(self) -> tuple[Any, ...]:
        return (self.state, self.decisions, self.movements, self.availability, self.notes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Outcome) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # holds lists, like a dataclass would

    def __repr__(self) -> str:
        state, decisions, movements, availability, notes = self._fields()
        return (
            f"Outcome(state={state!r}, decisions={decisions!r}, movements={movements!r}, "
            f"availability={availability!r}, notes={notes!r})"
        )


def snapshot(state: SkuState, book: ChannelBook, cause: Command) -> AvailabilityChanged:
    """The SKU's availability as of ``state.version``, caused by ``cause`` (a command)."""
    ats = book.ats(state)
    return AvailabilityChanged(
        state.sku,
        state.version,
        [ChannelAvailability(c, ats[c]) for c in sorted(ats)],
        [_location_stock(loc, pos) for loc, pos in sorted(state.positions.items())],
        cause.event_id,
        cause.event_type,
        cause.occurred_at,
    )


def snapshot_record(state: SkuState, book: ChannelBook, cause: Command) -> dict[str, Any]:
    """:func:`snapshot`'s record (``published_at`` 0), built without the value objects: what
    the processor encodes, once per SKU and commit."""
    ats = book.ats(state)
    return {
        "sku": state.sku,
        "version": state.version,
        "channels": [{"channel_id": c, "available": ats[c]} for c in sorted(ats)],
        "locations": [
            {
                "location_id": loc,
                "on_hand": p.on_hand,
                "reserved": p.reserved,
                "picked": p.picked,
                "damaged": p.damaged,
                "quality_hold": p.quality_hold,
                "pending_inspection": p.pending_inspection,
                "inbound": p.inbound,
                "sellable": p.sellable,
            }
            for loc, p in sorted(state.positions.items())
        ],
        "cause_event_id": cause.event_id,
        "cause_event_type": cause.event_type,
        "occurred_at": cause.occurred_at,
        "published_at": 0,
    }


def _location_stock(location_id: str, pos: Position) -> LocationStock:
    return LocationStock(
        location_id,
        pos.on_hand,
        pos.reserved,
        pos.picked,
        pos.damaged,
        pos.quality_hold,
        pos.pending_inspection,
        pos.inbound,
        pos.sellable,
    )
