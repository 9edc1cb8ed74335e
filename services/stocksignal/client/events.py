"""One typed constructor per input event of the contract (docs/contract.md#records).

Each class is named after its Avro record and has the record's fields, in the schema's
order, keyword-only, with the schema's defaults; a unit test compares them with
``schemas/`` so they cannot drift. The common fields ``event_id``, ``occurred_at`` and
``source`` may be left out: :class:`~stocksignal.client.EventProducer` fills them.

>>> from stocksignal.client import OrderPlaced, OrderLine
>>> order = OrderPlaced(order_id="W-1", channel_id="webshop", lines=[OrderLine(sku="MUG", qty=2)])
>>> order.record_name
'OrderPlaced'
>>> order.to_record()  # doctest: +NORMALIZE_WHITESPACE
{'order_id': 'W-1', 'channel_id': 'webshop', 'lines': [{'sku': 'MUG', 'qty': 2}],
 'hold_expires_at': None, 'fulfilment': 'PER_LINE'}

Times (``occurred_at``, ``hold_expires_at``, ``expected_at``) are epoch milliseconds or a
``datetime`` with a time zone; a naive ``datetime`` is refused, it would mean another instant
on every machine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stocksignal.client.errors import InvalidEvent
from stocksignal.domain.symbols import Fulfilment, StockStatus

Timestamp = int | datetime
Line = Mapping[str, Any]

#: Input-record fields that are Avro ``timestamp-millis`` (a test checks them against the schemas).
TIMESTAMP_FIELDS: frozenset[str] = frozenset({"occurred_at", "hold_expires_at", "expected_at"})
COMMON_FIELDS = ("event_id", "occurred_at", "source")


@dataclass(frozen=True, kw_only=True)
class OrderLine:
    sku: str
    qty: int


@dataclass(frozen=True, kw_only=True)
class PickLine:
    sku: str
    qty_picked: int
    qty_short: int = 0


@dataclass(frozen=True, kw_only=True)
class InspectionLine:
    sku: str
    qty_restock: int
    qty_damaged: int


@dataclass(frozen=True, kw_only=True)
class BundleComponent:
    sku: str
    qty: int


@dataclass(frozen=True, kw_only=True)
class InputEvent:
    """What every input event has. ``None``: filled in by the producer when sent."""

    event_id: str | None = None
    occurred_at: Timestamp | None = None
    source: str | None = None

    @property
    def record_name(self) -> str:
        return type(self).__name__

    def to_record(self) -> dict[str, Any]:
        """The Avro record as a dict; common fields left as ``None`` are omitted, to be filled."""
        record: dict[str, Any] = {}
        for name in COMMON_FIELDS:
            value = getattr(self, name)
            if value is not None:
                record[name] = value
        for f in dataclasses.fields(self):
            if f.name not in COMMON_FIELDS:
                record[f.name] = _plain(getattr(self, f.name))
        return record


def _plain(value: Any) -> Any:
    """Nested lines and lists as the plain dicts and lists the codec takes."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def epoch_ms(name: str, value: Any) -> Any:
    """A ``datetime`` with a time zone as epoch ms; anything else unchanged (the rules judge it)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidEvent(
                f"{name}: a datetime without a time zone is ambiguous; give tzinfo "
                "(e.g. datetime.now(timezone.utc)) or epoch milliseconds",
                problems=[f"{name}: datetime without a time zone"],
            )
        return int(value.timestamp() * 1000)
    return value


# --- inventory.orders.v1 (key order_id) ------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OrderPlaced(InputEvent):
    order_id: str
    channel_id: str
    lines: Sequence[OrderLine | Line]
    hold_expires_at: Timestamp | None = None
    fulfilment: Fulfilment | str = "PER_LINE"  # v1.1: or ALL_OR_NOTHING (docs/semantics.md)


@dataclass(frozen=True, kw_only=True)
class OrderConfirmed(InputEvent):
    order_id: str


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(InputEvent):
    order_id: str
    lines: Sequence[OrderLine | Line] | None = None
    reason: str | None = None


# --- inventory.picks.v1 / inventory.shipments.v1 (key order_id) -------------------------------


@dataclass(frozen=True, kw_only=True)
class PickConfirmed(InputEvent):
    order_id: str
    location_id: str
    lines: Sequence[PickLine | Line]


@dataclass(frozen=True, kw_only=True)
class ShipmentConfirmed(InputEvent):
    shipment_id: str
    order_id: str
    location_id: str
    lines: Sequence[OrderLine | Line]


# --- inventory.returns.v1 (key return_id) ----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ReturnReceived(InputEvent):
    return_id: str
    order_id: str | None = None
    location_id: str
    lines: Sequence[OrderLine | Line]


@dataclass(frozen=True, kw_only=True)
class ReturnInspected(InputEvent):
    return_id: str
    location_id: str
    lines: Sequence[InspectionLine | Line]


# --- inventory.stock.v1 (key sku) ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InboundExpected(InputEvent):
    reference: str
    location_id: str
    sku: str
    qty: int
    expected_at: Timestamp | None = None


@dataclass(frozen=True, kw_only=True)
class StockReceived(InputEvent):
    reference: str | None = None
    location_id: str
    sku: str
    qty: int


@dataclass(frozen=True, kw_only=True)
class StockAdjusted(InputEvent):
    location_id: str
    sku: str
    qty_delta: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class StockCounted(InputEvent):
    location_id: str
    sku: str
    counted_qty: int


@dataclass(frozen=True, kw_only=True)
class StockStatusChanged(InputEvent):
    location_id: str
    sku: str
    qty: int
    from_status: StockStatus | str
    to_status: StockStatus | str


@dataclass(frozen=True, kw_only=True)
class TransferDispatched(InputEvent):
    transfer_id: str
    from_location_id: str
    to_location_id: str
    sku: str
    qty: int


@dataclass(frozen=True, kw_only=True)
class TransferReceived(InputEvent):
    transfer_id: str
    to_location_id: str
    sku: str
    qty_received: int


# --- inventory.channels.v1 (key channel_id, compacted) ---------------------------------------


@dataclass(frozen=True, kw_only=True)
class ChannelConfigured(InputEvent):
    channel_id: str
    location_ids: Sequence[str]
    safety_stock: int = 0
    buffer_percent: int = 0
    max_available: int | None = None
    low_stock_threshold: int = 0


@dataclass(frozen=True, kw_only=True)
class ChannelRemoved(InputEvent):
    channel_id: str


# --- inventory.catalog.v1 (key bundle_sku, v1.1) ---------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BundleDefined(InputEvent):
    bundle_sku: str
    components: Sequence[BundleComponent | Line]


@dataclass(frozen=True, kw_only=True)
class BundleRemoved(InputEvent):
    bundle_sku: str


#: record name -> constructor, for every input event.
EVENTS: dict[str, type[InputEvent]] = {
    cls.__name__: cls
    for cls in (
        OrderPlaced,
        OrderConfirmed,
        OrderCancelled,
        PickConfirmed,
        ShipmentConfirmed,
        ReturnReceived,
        ReturnInspected,
        InboundExpected,
        StockReceived,
        StockAdjusted,
        StockCounted,
        StockStatusChanged,
        TransferDispatched,
        TransferReceived,
        ChannelConfigured,
        ChannelRemoved,
        BundleDefined,
        BundleRemoved,
    )
}
