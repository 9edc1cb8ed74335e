"""AvailabilityChanged records to Redis hash fields and back. Pure: no I/O.

The hash is the whole read model of one SKU: ``version``, one ``ch:<channel_id>`` field per
channel and its stock level as ``lv:<channel_id>`` (v1.1), the per-location buckets as one JSON
field, and the record's provenance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from stocksignal.adapters.keys import (
    CHANNEL_FIELD_PREFIX,
    LEVEL_FIELD_PREFIX,
    LOCATIONS,
    VERSION,
    channel_field,
    level_field,
)
from stocksignal.domain import level_of

PROVENANCE = ("cause_event_id", "cause_event_type", "occurred_at", "published_at")
INT_PROVENANCE = ("occurred_at", "published_at")


@dataclass(frozen=True)
class Snapshot:
    """What the projector writes for one record: the guard's version and the other fields."""

    sku: str
    version: int
    fields: dict[str, str]  # every field but ``version``


def _no_threshold(_channel_id: str) -> int:
    return 0


def snapshot_of(
    record: Mapping[str, Any], threshold: Callable[[str], int] = _no_threshold
) -> Snapshot:
    """The hash fields of an AvailabilityChanged record (as the codec decodes it);
    ``threshold``: a channel's low_stock_threshold (channel_levels.Thresholds.of)."""
    fields = {channel_field(c["channel_id"]): str(c["available"]) for c in record["channels"]}
    for c in record["channels"]:
        fields[level_field(c["channel_id"])] = str(
            level_of(c["available"], threshold(c["channel_id"]))
        )
    fields[LOCATIONS] = orjson.dumps(record["locations"]).decode()
    for name in PROVENANCE:
        fields[name] = str(record[name])
    return Snapshot(record["sku"], record["version"], fields)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class Availability:
    """One SKU as the API serves it, read back from its hash."""

    sku: str
    version: int
    channels: dict[str, int]
    locations: list[dict[str, Any]]
    provenance: dict[str, Any]
    levels: dict[str, str] | None = None  # None: written before v1.1 (no levels stored)


def availability_from_hash(sku: str, raw: Mapping[bytes | str, bytes | str]) -> Availability | None:
    """The hash as HGETALL returns it; None when the SKU has no hash (unknown SKU)."""
    if not raw:
        return None
    data = {_text(k): _text(v) for k, v in raw.items()}
    channels = {
        name[len(CHANNEL_FIELD_PREFIX) :]: int(value)
        for name, value in data.items()
        if name.startswith(CHANNEL_FIELD_PREFIX)
    }
    provenance: dict[str, Any] = {name: data.get(name) for name in PROVENANCE}
    for name in INT_PROVENANCE:
        if provenance[name] is not None:
            provenance[name] = int(provenance[name])
    locations = orjson.loads(data[LOCATIONS]) if LOCATIONS in data else []
    levels = {
        name[len(LEVEL_FIELD_PREFIX) :]: value
        for name, value in data.items()
        if name.startswith(LEVEL_FIELD_PREFIX)
    }
    return Availability(sku, int(data[VERSION]), channels, locations, provenance, levels or None)
