"""One realistic example of every top-level record, as plain dicts (timestamps in ms).

They seed the golden samples (:mod:`.golden`) and are handy fixtures for other tests. Optional
fields are set where it exercises the non-null branch of a union.
"""

from __future__ import annotations

import copy
from typing import Any

T0 = 1_767_261_600_000  # 2026-01-01T10:00:00Z
MINUTE = 60_000

_EXAMPLES: dict[str, dict[str, Any]] = {
    "OrderPlaced": {
        "event_id": "evt-ord-000123-placed",
        "occurred_at": T0,
        "source": "webshop-checkout",
        "order_id": "ORD-2026-000123",
        "channel_id": "web-de",
        "lines": [
            {"sku": "TSHIRT-BLK-M", "qty": 2},
            {"sku": "MUG-WHT-350", "qty": 1},
        ],
        "hold_expires_at": T0 + 30 * MINUTE,
        "fulfilment": "ALL_OR_NOTHING",
    },
    "OrderConfirmed": {
        "event_id": "evt-ord-000123-confirmed",
        "occurred_at": T0 + 4 * MINUTE,
        "source": "payments",
        "order_id": "ORD-2026-000123",
    },
    "OrderCancelled": {
        "event_id": "evt-ord-000124-cancelled",
        "occurred_at": T0 + 9 * MINUTE,
        "source": None,
        "order_id": "ORD-2026-000124",
        "lines": [{"sku": "MUG-WHT-350", "qty": 1}],
        "reason": "customer changed their mind",
    },
    "PickConfirmed": {
        "event_id": "evt-wms-pick-88812",
        "occurred_at": T0 + 45 * MINUTE,
        "source": "wms-berlin",
        "order_id": "ORD-2026-000123",
        "location_id": "WH-BER-1",
        "lines": [
            {"sku": "TSHIRT-BLK-M", "qty_picked": 1, "qty_short": 1},
            {"sku": "MUG-WHT-350", "qty_picked": 1, "qty_short": 0},
        ],
    },
    "ShipmentConfirmed": {
        "event_id": "evt-wms-ship-55120",
        "occurred_at": T0 + 120 * MINUTE,
        "source": "wms-berlin",
        "shipment_id": "SHP-DE-55120",
        "order_id": "ORD-2026-000123",
        "location_id": "WH-BER-1",
        "lines": [{"sku": "TSHIRT-BLK-M", "qty": 2}, {"sku": "MUG-WHT-350", "qty": 1}],
    },
    "ReturnReceived": {
        "event_id": "evt-rma-7781-received",
        "occurred_at": T0 + 3 * 24 * 60 * MINUTE,
        "source": "returns-portal",
        "return_id": "RMA-7781",
        "order_id": "ORD-2026-000123",
        "location_id": "WH-BER-1",
        "lines": [{"sku": "TSHIRT-BLK-M", "qty": 2}],
    },
    "ReturnInspected": {
        "event_id": "evt-rma-7781-inspected",
        "occurred_at": T0 + 4 * 24 * 60 * MINUTE,
        "source": "wms-berlin",
        "return_id": "RMA-7781",
        "location_id": "WH-BER-1",
        "lines": [{"sku": "TSHIRT-BLK-M", "qty_restock": 1, "qty_damaged": 1}],
    },
    "InboundExpected": {
        "event_id": "evt-asn-4410-line-1",
        "occurred_at": T0,
        "source": "erp",
        "reference": "PO-2026-4410",
        "location_id": "WH-BER-1",
        "sku": "TSHIRT-BLK-M",
        "qty": 500,
        "expected_at": T0 + 7 * 24 * 60 * MINUTE,
    },
    "StockReceived": {
        "event_id": "evt-grn-99001",
        "occurred_at": T0 + 7 * 24 * 60 * MINUTE,
        "source": "wms-berlin",
        "reference": "PO-2026-4410",
        "location_id": "WH-BER-1",
        "sku": "TSHIRT-BLK-M",
        "qty": 480,
    },
    "StockAdjusted": {
        "event_id": "evt-adj-3051",
        "occurred_at": T0 + 5 * MINUTE,
        "source": "store-ops",
        "location_id": "STORE-MUC-2",
        "sku": "MUG-WHT-350",
        "qty_delta": -3,
        "reason": "broken in the back room",
    },
    "StockCounted": {
        "event_id": "evt-count-2026-01-01-a17",
        "occurred_at": T0 + 6 * MINUTE,
        "source": "wms-berlin",
        "location_id": "WH-BER-1",
        "sku": "MUG-WHT-350",
        "counted_qty": 212,
    },
    "StockStatusChanged": {
        "event_id": "evt-qa-hold-0042",
        "occurred_at": T0 + 7 * MINUTE,
        "source": "quality",
        "location_id": "WH-BER-1",
        "sku": "TSHIRT-BLK-M",
        "qty": 20,
        "from_status": "SELLABLE",
        "to_status": "QUALITY_HOLD",
    },
    "TransferDispatched": {
        "event_id": "evt-trf-311-dispatched",
        "occurred_at": T0 + 8 * MINUTE,
        "source": "wms-berlin",
        "transfer_id": "TRF-311",
        "from_location_id": "WH-BER-1",
        "to_location_id": "STORE-MUC-2",
        "sku": "MUG-WHT-350",
        "qty": 24,
    },
    "TransferReceived": {
        "event_id": "evt-trf-311-received",
        "occurred_at": T0 + 2 * 24 * 60 * MINUTE,
        "source": "store-ops",
        "transfer_id": "TRF-311",
        "to_location_id": "STORE-MUC-2",
        "sku": "MUG-WHT-350",
        "qty_received": 23,
    },
    "ChannelConfigured": {
        "event_id": "evt-chan-web-de-v7",
        "occurred_at": T0 - 24 * 60 * MINUTE,
        "source": "channel-admin",
        "channel_id": "web-de",
        "location_ids": ["WH-BER-1", "STORE-MUC-2"],
        "safety_stock": 2,
        "buffer_percent": 10,
        "max_available": 500,
        "low_stock_threshold": 5,
    },
    "ChannelRemoved": {
        "event_id": "evt-chan-popup-xmas-removed",
        "occurred_at": T0 - 12 * 60 * MINUTE,
        "source": "channel-admin",
        "channel_id": "popup-xmas",
    },
    "BundleDefined": {
        "event_id": "evt-cat-gift-set-defined",
        "occurred_at": T0 - 24 * 60 * MINUTE,
        "source": "pim",
        "bundle_sku": "GIFT-SET-MUG-LAMP",
        "components": [
            {"sku": "MUG-WHT-350", "qty": 1},
            {"sku": "LAMP-DESK-GRN", "qty": 1},
        ],
    },
    "BundleRemoved": {
        "event_id": "evt-cat-six-pack-removed",
        "occurred_at": T0 - 23 * 60 * MINUTE,
        "source": "pim",
        "bundle_sku": "MUG-WHT-350-6PACK",
    },
    "OrderDecided": {
        "decision_id": "ord-dec-3f0a9c1b7e52d604",
        "order_id": "ORD-2026-000124",
        "channel_id": "web-de",
        "status": "REJECTED",
        "fulfilment": "ALL_OR_NOTHING",
        "lines": [
            {"sku": "MUG-WHT-350", "qty_requested": 1, "qty_reserved": 0},
            {"sku": "LAMP-DESK-GRN", "qty_requested": 1, "qty_reserved": 0},
            {"sku": "GIFT-SET-MUG-LAMP", "qty_requested": 1, "qty_reserved": 0},
        ],
        "reason": "ORDER_INCOMPLETE: INSUFFICIENT_STOCK for LAMP-DESK-GRN",
        "cause_event_id": "evt-ord-000124-placed",
        "decided_at": T0 + 5 * MINUTE,
    },
    "AvailabilityChanged": {
        "sku": "TSHIRT-BLK-M",
        "version": 1042,
        "channels": [
            {"channel_id": "default", "available": 118},
            {"channel_id": "web-de", "available": 116},
        ],
        "locations": [
            {
                "location_id": "WH-BER-1",
                "on_hand": 120,
                "reserved": 7,
                "picked": 1,
                "damaged": 1,
                "quality_hold": 20,
                "pending_inspection": 0,
                "inbound": 500,
                "sellable": 113,
            },
            {
                "location_id": "STORE-MUC-2",
                "on_hand": 5,
                "reserved": 0,
                "picked": 0,
                "damaged": 0,
                "quality_hold": 0,
                "pending_inspection": 0,
                "inbound": 0,
                "sellable": 5,
            },
        ],
        "cause_event_id": "evt-ord-000123-placed",
        "cause_event_type": "OrderPlaced",
        "occurred_at": T0,
        "published_at": T0 + 35,
    },
    "StockLevelChanged": {
        "sku": "TSHIRT-BLK-M",
        "channel_id": "web-de",
        "level": "IN_STOCK",
        "previous_level": "OUT_OF_STOCK",
        "available": 116,
        "version": 1042,
        "cause_event_id": "evt-ord-000123-placed",
        "occurred_at": T0,
    },
    "ReservationDecided": {
        "decision_id": "dec-7c1e0b2f9a44d3e1",
        "order_id": "ORD-2026-000123",
        "sku": "TSHIRT-BLK-M",
        "channel_id": "web-de",
        "status": "RESERVED",
        "qty_requested": 2,
        "qty_reserved": 2,
        "allocations": [{"location_id": "WH-BER-1", "qty": 2}],
        "reason": None,
        "cause_event_id": "evt-ord-000123-placed",
        "decided_at": T0 + 35,
    },
    "StockMoved": {
        "movement_id": "mov-5b9d2c7e01fa8c33",
        "sku": "TSHIRT-BLK-M",
        "location_id": "WH-BER-1",
        "bucket": "ON_HAND",
        "delta": -1,
        "balance_after": 119,
        "reason": "SHORT_PICK",
        "reason_detail": "1 unit not found while picking",
        "cause_event_id": "evt-wms-pick-88812",
        "cause_event_type": "PickConfirmed",
        "reference": "ORD-2026-000123",
        "occurred_at": T0 + 45 * MINUTE,
    },
}


def example(record_name: str) -> dict[str, Any]:
    """A fresh copy of the example of ``record_name`` (KeyError if there is none)."""
    return copy.deepcopy(_EXAMPLES[record_name])


def example_names() -> tuple[str, ...]:
    return tuple(_EXAMPLES)
