"""The topic catalogue: every topic of the contract, its key, its records, its role
(docs/contract.md#topics-and-keys).

The one place that binds a record to a topic and a key. Producers call
:func:`topic_for_record` and :func:`key_for`; consumers check a decoded record against
:attr:`Topic.records`. Partitioning of the key is :mod:`.partitioning`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from stocksignal.contract.dlq import (  # noqa: F401  (re-exported: part of the catalogue)
    DLQ_ERROR,
    DLQ_HEADERS,
    DLQ_OFFSET,
    DLQ_PARTITION,
    DLQ_REASON,
    DLQ_TOPIC,
    DlqReason,
    dlq_headers,
)

ORDERS = "inventory.orders.v1"
PICKS = "inventory.picks.v1"
SHIPMENTS = "inventory.shipments.v1"
RETURNS = "inventory.returns.v1"
STOCK = "inventory.stock.v1"
CHANNELS = "inventory.channels.v1"
CATALOG = "inventory.catalog.v1"
AVAILABILITY = "inventory.availability.v1"
RESERVATIONS = "inventory.reservations.v1"
MOVEMENTS = "inventory.movements.v1"
STOCK_LEVELS = "inventory.stock-levels.v1"
ORDER_DECISIONS = "inventory.order-decisions.v1"
DLQ = "inventory.dlq.v1"


class Role(StrEnum):
    INPUT = "input"
    OUTPUT = "output"
    DLQ = "dlq"


class CatalogueError(ValueError):
    """A record was paired with a topic that does not carry it, or lacks its key."""


@dataclass(frozen=True)
class Topic:
    name: str
    role: Role
    key_field: str | None  # None: the DLQ keeps each record's original key
    records: tuple[str, ...]
    compacted: bool = False


TOPICS: tuple[Topic, ...] = (
    Topic(ORDERS, Role.INPUT, "order_id", ("OrderPlaced", "OrderConfirmed", "OrderCancelled")),
    Topic(PICKS, Role.INPUT, "order_id", ("PickConfirmed",)),
    Topic(SHIPMENTS, Role.INPUT, "order_id", ("ShipmentConfirmed",)),
    Topic(RETURNS, Role.INPUT, "return_id", ("ReturnReceived", "ReturnInspected")),
    Topic(
        STOCK,
        Role.INPUT,
        "sku",
        (
            "InboundExpected",
            "StockReceived",
            "StockAdjusted",
            "StockCounted",
            "StockStatusChanged",
            "TransferDispatched",
            "TransferReceived",
        ),
    ),
    # Compacted: the newest ChannelConfigured/ChannelRemoved per channel is the configuration.
    Topic(CHANNELS, Role.INPUT, "channel_id", ("ChannelConfigured", "ChannelRemoved"), True),
    # v1.1, compacted: the newest BundleDefined/BundleRemoved per bundle is the catalogue.
    Topic(CATALOG, Role.INPUT, "bundle_sku", ("BundleDefined", "BundleRemoved"), True),
    # Compacted: the newest snapshot per SKU is all a new consumer needs.
    Topic(AVAILABILITY, Role.OUTPUT, "sku", ("AvailabilityChanged",), True),
    Topic(RESERVATIONS, Role.OUTPUT, "order_id", ("ReservationDecided",)),
    Topic(MOVEMENTS, Role.OUTPUT, "sku", ("StockMoved",)),
    # Not compacted: a feed of changes (back in stock, running low), every one of them counts.
    Topic(STOCK_LEVELS, Role.OUTPUT, "sku", ("StockLevelChanged",)),
    # v1.1: one OrderDecided per OrderPlaced, once all its lines are decided.
    Topic(ORDER_DECISIONS, Role.OUTPUT, "order_id", ("OrderDecided",)),
    Topic(DLQ, Role.DLQ, None, ()),
)

_BY_NAME = {t.name: t for t in TOPICS}
_BY_RECORD = {record: t for t in TOPICS for record in t.records}


def topic(name: str) -> Topic:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise CatalogueError(f"unknown topic {name!r}") from None


def list_topics(role: Role | None = None) -> tuple[Topic, ...]:
    return tuple(t for t in TOPICS if role is None or t.role == role)


def topic_for_record(record_name: str) -> str:
    """The one topic that carries ``record_name``."""
    try:
        return _BY_RECORD[record_name].name
    except KeyError:
        raise CatalogueError(f"no topic carries {record_name!r}") from None


def key_for(topic_name: str, record_name: str, record: Mapping[str, Any]) -> str:
    """The Kafka key of ``record`` on ``topic_name`` (the value of the topic's key field)."""
    t = topic(topic_name)
    if t.key_field is None:
        raise CatalogueError(f"{t.name} keeps each record's original key; there is no key field")
    if record_name not in t.records:
        raise CatalogueError(f"{t.name} does not carry {record_name} (it carries {t.records})")
    key = record.get(t.key_field)
    if not isinstance(key, str) or not key:
        raise CatalogueError(f"{record_name} has no usable {t.key_field} for the key: {key!r}")
    return key
