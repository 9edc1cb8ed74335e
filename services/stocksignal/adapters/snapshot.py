"""AvailabilityChanged records to Redis hash fields and back. Pure: no I/O.

The hash is the whole read model of one SKU: ``version``, one ``ch:<channel_id>`` field per
channel, the per-location buckets as one JSON field, and the record's provenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import orjson

from stocksignal.adapters.keys import CHANNEL_FIELD_PREFIX, LOCATIONS, VERSION, channel_field

PROVENANCE = ("cause_event_id", "cause_event_type", "occurred_at", "published_at")
INT_PROVENANCE = ("occurred_at", "published_at")


@dataclass(frozen=True)
class Snapshot:
    """What the projector writes for one record: the guard's version and the other fields."""

    sku: str
    version: int
    fields: dict[str, str]  # every field but ``version``


def snapshot_of(record: Mapping[str, Any]) -> Snapshot:
    """The hash fields of an AvailabilityChanged record (as the codec decodes it)."""
    fields = {channel_field(c["channel_id"]): str(c["available"]) for c in record["channels"]}
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


def availability_from_hash(sku: str, raw: Mapping[bytes | str, bytes | str]) -> Availability | None:
    """The hash as HGETALL returns it; None when the SKU has no hash (unknown SKU)."""
    if not raw:
        return None
    data = {_text(k): _text(v) for k, v in raw.items()}
    channels = {
        name[len(CHANNEL_FIELD_PREFIX):]: int(value)
        for name, value in data.items()
        if name.startswith(CHANNEL_FIELD_PREFIX)
    }
    provenance: dict[str, Any] = {name: data.get(name) for name in PROVENANCE}
    for name in INT_PROVENANCE:
        if provenance[name] is not None:
            provenance[name] = int(provenance[name])
    locations = orjson.loads(data[LOCATIONS]) if LOCATIONS in data else []
    return Availability(sku, int(data[VERSION]), channels, locations, provenance)
