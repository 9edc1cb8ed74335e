"""The working copy of one SKU while a command is applied, and the ledger it writes.

Every bucket change goes through :meth:`Changeset.change`, which records the StockMoved, so
the ledger cannot drift from the balances. Positions and lines are copied the first time a
command writes them (copy-on-write): the input state is never mutated and a command costs
what it touches, not the size of the SKU's state.
"""

from __future__ import annotations

from .channels import ChannelBook
from .commands import Command, SkuCommand
from .ids import decision_id, movement_id
from .lines import Line
from .outputs import (
    Allocation,
    AvailabilityChanged,
    ChannelAvailability,
    LocationStock,
    Outcome,
    ReservationDecided,
    StockMoved,
)
from .positions import BUCKET_FIELDS, Position
from .state import RECENT_KEYS, SkuState, Transfer
from .symbols import Bucket, MovementReason, Note

_ZERO = Position()  # stands in for a position that does not exist yet; never written


class Changeset:
    """One command's working copy of a SKU: what it reads, writes, decides and records."""

    __slots__ = (
        "_dirty",
        "_own_inbound",
        "_own_lines",
        "_pre",
        "base",
        "book",
        "cmd",
        "decisions",
        "inbound",
        "lines",
        "movements",
        "next_seq",
        "notes",
        "positions",
        "recent",
        "transfers",
    )

    def __init__(self, base: SkuState, cmd: SkuCommand, book: ChannelBook) -> None:
        self.base = base
        self.cmd = cmd
        self.book = book
        self.positions = dict(base.positions)
        self.lines = dict(base.lines)
        self.inbound = base.inbound
        self.transfers = base.transfers
        self.recent = base.recent
        self.next_seq = base.next_seq
        self.decisions: list[ReservationDecided] = []
        self.movements: list[StockMoved] = []
        self.notes: list[str] = []
        self._pre: dict[str, Position | None] = {}  # location -> position before this command
        self._own_lines: set[str] = set()
        self._own_inbound = False
        self._dirty = False  # lines, inbound, transfers or counters changed

    # --- reading ------------------------------------------------------------------------

    def position(self, location_id: str) -> Position:
        return self.positions.get(location_id, _ZERO)

    def sellable(self, location_id: str) -> int:
        return self.positions.get(location_id, _ZERO).sellable

    def line(self, order_id: str) -> Line | None:
        return self.lines.get(order_id)

    # --- buckets and the ledger -------------------------------------------------------

    def _writable(self, location_id: str) -> Position:
        if location_id not in self._pre:
            old = self.positions.get(location_id)
            self._pre[location_id] = old
            self.positions[location_id] = old.copy() if old is not None else Position()
        return self.positions[location_id]

    def change(
        self,
        location_id: str,
        bucket: Bucket,
        delta: int,
        reason: MovementReason,
        detail: str | None = None,
        reference: str | None = None,
    ) -> None:
        """Apply ``delta`` to one bucket and record it. Callers never take a bucket below 0."""
        if delta == 0:
            return
        pos = self._writable(location_id)
        attr = BUCKET_FIELDS[bucket]
        balance = getattr(pos, attr) + delta
        if balance < 0:  # a bug in a rule, never an input problem: fail loudly
            raise AssertionError(f"{attr} at {location_id} would become {balance}")
        setattr(pos, attr, balance)
        cmd = self.cmd
        self.movements.append(
            StockMoved(
                movement_id(cmd.command_id, len(self.movements)),
                cmd.sku,
                location_id,
                bucket,
                delta,
                balance,
                reason,
                detail,
                cmd.event_id,
                cmd.event_type,
                reference,
                cmd.occurred_at,
            )
        )

    def take(
        self,
        location_id: str,
        bucket: Bucket,
        qty: int,
        reason: MovementReason,
        *,
        what: str,
        detail: str | None = None,
        reference: str | None = None,
    ) -> None:
        """Remove ``qty`` from a physical bucket; physical truth wins over the books.

        If the bucket holds less, the missing units are first booked as a CORRECTION (so every
        ``balance_after`` stays >= 0 and the ledger still sums to the balance), then the event's
        own movement takes the full quantity and leaves the bucket at 0.
        """
        have = getattr(self.position(location_id), BUCKET_FIELDS[bucket])
        if qty > have:
            attr = BUCKET_FIELDS[bucket]
            self.note(Note.CLAMPED)
            self.change(
                location_id,
                bucket,
                qty - have,
                MovementReason.CORRECTION,
                f"clamped: {what} of -{qty} exceeded {attr} {have}",
                reference,
            )
        self.change(location_id, bucket, -qty, reason, detail, reference)

    # --- lines --------------------------------------------------------------------------

    def writable_line(self, order_id: str) -> Line:
        if order_id not in self._own_lines:
            self.lines[order_id] = self.lines[order_id].copy()
            self._own_lines.add(order_id)
            self._dirty = True
        return self.lines[order_id]

    def open_line(self, line: Line) -> None:
        self.lines[line.order_id] = line
        self._own_lines.add(line.order_id)
        self._dirty = True

    def close_line(self, order_id: str) -> None:
        del self.lines[order_id]
        self._own_lines.discard(order_id)
        self._dirty = True

    def take_seq(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        self._dirty = True
        return seq

    def line_reserve(
        self, line: Line, location_id: str, delta: int, reason: MovementReason, detail: str | None
    ) -> None:
        """Change a line's allocation and the position's ``reserved`` together."""
        _bump(line.alloc, location_id, delta)
        self.change(location_id, Bucket.RESERVED, delta, reason, detail, line.order_id)

    def line_pick(
        self, line: Line, location_id: str, delta: int, reason: MovementReason, detail: str | None
    ) -> None:
        _bump(line.picked, location_id, delta)
        self.change(location_id, Bucket.PICKED, delta, reason, detail, line.order_id)

    # --- inbound, transfers, remembered keys -----------------------------------------------

    def _inbound_writable(self, location_id: str) -> dict[str, int]:
        if not self._own_inbound:
            self.inbound = dict(self.inbound)
            self._own_inbound = True
            self._dirty = True
        refs = dict(self.inbound.get(location_id, {}))
        self.inbound[location_id] = refs
        return refs

    def outstanding(self, location_id: str, reference: str) -> int:
        return self.inbound.get(location_id, {}).get(reference, 0)

    def expect(self, location_id: str, reference: str, qty: int) -> None:
        refs = self._inbound_writable(location_id)
        refs[reference] = refs.get(reference, 0) + qty

    def fulfil_expected(self, location_id: str, reference: str, qty: int) -> None:
        refs = self._inbound_writable(location_id)
        left = refs[reference] - qty
        if left:
            refs[reference] = left
        else:
            del refs[reference]
            if not refs:
                del self.inbound[location_id]

    def set_transfer(self, transfer_id: str, transfer: Transfer | None) -> None:
        self.transfers = dict(self.transfers)
        if transfer is None:
            del self.transfers[transfer_id]
        else:
            self.transfers[transfer_id] = transfer
        self._dirty = True

    def remember(self, key: str) -> None:
        self.recent = ((*self.recent, key))[-RECENT_KEYS:]
        self._dirty = True

    def forget(self, key: str) -> None:
        self.recent = tuple(k for k in self.recent if k != key)
        self._dirty = True

    # --- decisions and notes ----------------------------------------------------------

    def decide(self, line: Line, status: str, reason: str | None) -> None:
        """Record a decision about ``line`` as it stands now (its allocation after the change)."""
        cmd = self.cmd
        self.decisions.append(
            ReservationDecided(
                decision_id(cmd.command_id, len(self.decisions)),
                line.order_id,
                cmd.sku,
                line.channel_id,
                status,
                line.qty,
                line.reserved,
                [Allocation(loc, n) for loc, n in sorted(line.alloc.items())],
                reason,
                cmd.event_id,
                cmd.logged_at,  # log time: a replay decides at the same instant
            )
        )

    def note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    # --- result -------------------------------------------------------------------------

    def finish(self) -> Outcome:
        base = self.base
        buckets_changed = any(
            (pre if pre is not None else _ZERO) != self.positions[loc]
            for loc, pre in self._pre.items()
        )
        if not (self._dirty or self._pre or self.decisions):
            return Outcome(base, [], [], None, tuple(self.notes))
        state = SkuState(
            base.sku,
            base.version + 1 if buckets_changed else base.version,
            self.next_seq,
            self.positions,
            self.lines,
            self.inbound,
            self.transfers,
            self.recent,
            base.levels,  # changed only when a snapshot is published (levels.py)
        )
        source = (self.book, self.cmd) if buckets_changed else None
        return Outcome(
            state, self.decisions, self.movements, None, tuple(self.notes), source=source
        )


def _bump(counts: dict[str, int], key: str, delta: int) -> None:
    """Add ``delta`` to a location count, keeping only non-zero entries (canonical form)."""
    value = counts.get(key, 0) + delta
    if value < 0:
        raise AssertionError(f"line count at {key} would become {value}")
    if value:
        counts[key] = value
    else:
        counts.pop(key, None)


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


def snapshot_record(state: SkuState, book: ChannelBook, cause: Command) -> dict:
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
