"""The one JSON payload the worker sends, and its idempotency key.

    {"channel_id": "marketplace-x", "batch_id": "<32 hex>", "sent_at": 1767225600000,
     "updates": [{"sku": "TSHIRT-BLK-M", "available": 116, "version": 1042}, ...]}

``batch_id`` (also sent as the ``Idempotency-Key`` header) is derived from the channel and the
updates alone, so a retry of the same content carries the same key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class Update:
    sku: str
    available: int
    version: int


def batch_id(channel_id: str, updates: Sequence[Update]) -> str:
    digest = hashlib.sha256(channel_id.encode())
    for u in sorted(updates, key=lambda u: u.sku):
        digest.update(orjson.dumps([u.sku, u.available, u.version]))
    return digest.hexdigest()[:32]


def build_payload(channel_id: str, updates: Sequence[Update], sent_at_ms: int) -> dict[str, Any]:
    return {
        "channel_id": channel_id,
        "batch_id": batch_id(channel_id, updates),
        "sent_at": sent_at_ms,
        "updates": [
            {"sku": u.sku, "available": u.available, "version": u.version} for u in updates
        ],
    }


def encode(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload)
