"""The contract's enum symbols (docs/contract.md#records) and the metric notes an outcome can carry.

``StrEnum`` members *are* strings, so records built from them encode as the plain symbols.
"""

from __future__ import annotations

from enum import StrEnum


class Bucket(StrEnum):
    ON_HAND = "ON_HAND"
    RESERVED = "RESERVED"
    PICKED = "PICKED"
    DAMAGED = "DAMAGED"
    QUALITY_HOLD = "QUALITY_HOLD"
    PENDING_INSPECTION = "PENDING_INSPECTION"
    INBOUND = "INBOUND"


class ReservationStatus(StrEnum):
    RESERVED = "RESERVED"
    REJECTED = "REJECTED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"
    FULFILLED = "FULFILLED"
    REALLOCATED = "REALLOCATED"
    SHORTED = "SHORTED"


class StockLevel(StrEnum):
    """A channel's stock level (docs/semantics.md#stock-level-signals): OUT_OF_STOCK at 0, LOW_STOCK up to the
    channel's ``low_stock_threshold``, else IN_STOCK."""

    IN_STOCK = "IN_STOCK"
    LOW_STOCK = "LOW_STOCK"
    OUT_OF_STOCK = "OUT_OF_STOCK"


class MovementReason(StrEnum):
    RECEIPT = "RECEIPT"
    INBOUND_EXPECTED = "INBOUND_EXPECTED"
    RESERVATION = "RESERVATION"
    RELEASE = "RELEASE"
    EXPIRY = "EXPIRY"
    PICK = "PICK"
    SHORT_PICK = "SHORT_PICK"
    SHIPMENT = "SHIPMENT"
    RETURN_RECEIVED = "RETURN_RECEIVED"
    RETURN_RESTOCKED = "RETURN_RESTOCKED"
    RETURN_DAMAGED = "RETURN_DAMAGED"
    ADJUSTMENT = "ADJUSTMENT"
    CYCLE_COUNT = "CYCLE_COUNT"
    STATUS_CHANGE = "STATUS_CHANGE"
    TRANSFER_OUT = "TRANSFER_OUT"
    TRANSFER_IN = "TRANSFER_IN"
    TRANSFER_VARIANCE = "TRANSFER_VARIANCE"
    REALLOCATION = "REALLOCATION"
    CORRECTION = "CORRECTION"


class StockStatus(StrEnum):
    SELLABLE = "SELLABLE"
    DAMAGED = "DAMAGED"
    QUALITY_HOLD = "QUALITY_HOLD"
    WRITTEN_OFF = "WRITTEN_OFF"


class DecisionReason(StrEnum):
    """Values of ``ReservationDecided.reason`` the core writes itself.

    ``RELEASED`` decisions carry the cancelling event's own ``reason`` instead.
    """

    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    HOLD_EXPIRED = "HOLD_EXPIRED"
    UNRESERVED_SHIPMENT = "UNRESERVED_SHIPMENT"
    SHORT_PICK = "SHORT_PICK"
    PICKED_AT_OTHER_LOCATION = "PICKED_AT_OTHER_LOCATION"
    STOCK_SHORTFALL = "STOCK_SHORTFALL"
    SHIPPED_FROM_OTHER_LOCATION = "SHIPPED_FROM_OTHER_LOCATION"
    # An ALL_OR_NOTHING order's reserved line released because another line was rejected.
    ORDER_INCOMPLETE = "ORDER_INCOMPLETE"


class Fulfilment(StrEnum):
    """How an order's lines are decided (contract 11.3)."""

    PER_LINE = "PER_LINE"
    ALL_OR_NOTHING = "ALL_OR_NOTHING"


class OrderStatus(StrEnum):
    """``OrderDecided.status``: every line reserved in full, none, or some (PER_LINE only)."""

    ACCEPTED = "ACCEPTED"
    PARTIAL = "PARTIAL"
    REJECTED = "REJECTED"


class Note(StrEnum):
    """Facts about an outcome worth a metric; they never change what is published."""

    DEFAULT_CHANNEL_USED = "default_channel_used"
    CLAMPED = "clamped"
    SHORTFALL = "shortfall"
    UNRESERVED_SHIPMENT = "unreserved_shipment"
    UNRESERVED_PICK = "unreserved_pick"
    DUPLICATE_LINE = "duplicate_line"
    DUPLICATE_SHIPMENT = "duplicate_shipment"
    DUPLICATE_TRANSFER = "duplicate_transfer"
    LINE_NOT_OPEN = "line_not_open"
    HOLD_CONFIRMED = "hold_confirmed"
    INSPECTED_WITHOUT_RECEIPT = "inspected_without_receipt"
    RECEIPT_WITHOUT_INBOUND = "receipt_without_inbound"
    TRANSFER_NOT_DISPATCHED = "transfer_not_dispatched"
    TRANSFER_RECEIVED_BEFORE_DISPATCH = "transfer_received_before_dispatch"
    TRANSFER_RECEIVED_ELSEWHERE = "transfer_received_elsewhere"
