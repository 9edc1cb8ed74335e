"""A small shop built on the in-memory reference model, so tests read like the scenarios."""

from __future__ import annotations

from typing import Any

import pytest

from stocksignal.domain import (
    InMemoryInventory,
    Line,
    Outcome,
    Position,
    ReservationDecided,
    StockMoved,
)


class Shop:
    def __init__(self, partitions: int = 1) -> None:
        self.inv = InMemoryInventory(partitions=partitions)

    def send(self, record_name: str, **fields: Any) -> list[Outcome]:
        return self.inv.post(record_name, **fields)

    # --- events -------------------------------------------------------------------------

    def receive(self, sku: str, location_id: str, qty: int, reference: str | None = None):
        return self.send(
            "StockReceived", sku=sku, location_id=location_id, qty=qty, reference=reference
        )

    def channel(self, channel_id: str, *location_ids: str, safety: int = 0):
        return self.send(
            "ChannelConfigured",
            channel_id=channel_id,
            location_ids=list(location_ids),
            safety_stock=safety,
        )

    def place(
        self, order_id: str, sku: str, qty: int, channel: str = "web", hold: int | None = None
    ) -> ReservationDecided:
        outs = self.send(
            "OrderPlaced",
            order_id=order_id,
            channel_id=channel,
            lines=[{"sku": sku, "qty": qty}],
            hold_expires_at=hold,
        )
        (decision,) = self.decisions(outs)
        return decision

    def pick(self, order_id: str, location_id: str, sku: str, picked: int, short: int = 0):
        return self.send(
            "PickConfirmed",
            order_id=order_id,
            location_id=location_id,
            lines=[{"sku": sku, "qty_picked": picked, "qty_short": short}],
        )

    def ship(self, shipment_id: str, order_id: str, location_id: str, sku: str, qty: int):
        return self.send(
            "ShipmentConfirmed",
            shipment_id=shipment_id,
            order_id=order_id,
            location_id=location_id,
            lines=[{"sku": sku, "qty": qty}],
        )

    def cancel(
        self, order_id: str, lines: list[dict[str, Any]] | None = None, reason: str | None = None
    ):
        return self.send("OrderCancelled", order_id=order_id, lines=lines, reason=reason)

    def adjust(self, sku: str, location_id: str, delta: int, reason: str = "audit"):
        return self.send(
            "StockAdjusted", sku=sku, location_id=location_id, qty_delta=delta, reason=reason
        )

    def count(self, sku: str, location_id: str, counted: int):
        return self.send("StockCounted", sku=sku, location_id=location_id, counted_qty=counted)

    def status(self, sku: str, location_id: str, qty: int, from_status: str, to_status: str):
        return self.send(
            "StockStatusChanged",
            sku=sku,
            location_id=location_id,
            qty=qty,
            from_status=from_status,
            to_status=to_status,
        )

    def expire(self, now: int) -> list[Outcome]:
        return self.inv.expire(now)

    # --- looking ------------------------------------------------------------------------

    def pos(self, sku: str, location_id: str) -> Position:
        return self.inv.state(sku).positions.get(location_id, Position())

    def line(self, sku: str, order_id: str) -> Line | None:
        return self.inv.state(sku).lines.get(order_id)

    def ats(self, sku: str) -> dict[str, int]:
        return self.inv.ats(sku)

    def alloc(self, sku: str, order_id: str) -> dict[str, int]:
        line = self.line(sku, order_id)
        return dict(line.alloc) if line is not None else {}

    # --- reading outcomes ------------------------------------------------------------------

    @staticmethod
    def decisions(outcomes: list[Outcome]) -> list[ReservationDecided]:
        return [d for o in outcomes for d in o.decisions]

    @staticmethod
    def movements(outcomes: list[Outcome]) -> list[StockMoved]:
        return [m for o in outcomes for m in o.movements]

    @staticmethod
    def moves(outcomes: list[Outcome]) -> list[tuple[str, str, int, str]]:
        """(location, bucket, delta, reason) of every movement, in ledger order."""
        return [
            (m.location_id, str(m.bucket), m.delta, str(m.reason))
            for o in outcomes
            for m in o.movements
        ]

    @staticmethod
    def notes(outcomes: list[Outcome]) -> set[str]:
        return {str(n) for o in outcomes for n in o.notes}

    @staticmethod
    def summary(decision: ReservationDecided) -> tuple[str, str, int, dict[str, int]]:
        """(order, status, qty_reserved, allocations) of a decision."""
        return (
            decision.order_id,
            str(decision.status),
            decision.qty_reserved,
            {a.location_id: a.qty for a in decision.allocations},
        )


@pytest.fixture
def shop() -> Shop:
    return Shop()
