"""The .avsc files say exactly what docs/contract.md#records says, and document themselves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stocksignal.contract.schemas import PRIMITIVES, load_named, schema_dir, top_level_records

# The contract (docs/contract.md#records), transcribed by hand. "?T" is ["null", T], "=v" a default, "ts" a long with
# logicalType timestamp-millis, "[T]" an array, other names are stocksignal.v1 named types.
COMMON = "event_id:string occurred_at:ts source:?string=null"
SPEC_RECORDS = {
    "OrderLine": "sku:string qty:int",
    "PickLine": "sku:string qty_picked:int qty_short:int=0",
    "InspectionLine": "sku:string qty_restock:int qty_damaged:int",
    "OrderPlaced": f"{COMMON} order_id:string channel_id:string lines:[OrderLine] hold_expires_at:?ts=null"
    ' fulfilment:Fulfilment="PER_LINE"',  # v1.1, section 11.3
    "OrderConfirmed": f"{COMMON} order_id:string",
    "OrderCancelled": f"{COMMON} order_id:string lines:?[OrderLine]=null reason:?string=null",
    "PickConfirmed": f"{COMMON} order_id:string location_id:string lines:[PickLine]",
    "ShipmentConfirmed": f"{COMMON} shipment_id:string order_id:string location_id:string lines:[OrderLine]",
    "ReturnReceived": f"{COMMON} return_id:string order_id:?string=null location_id:string lines:[OrderLine]",
    "ReturnInspected": f"{COMMON} return_id:string location_id:string lines:[InspectionLine]",
    "InboundExpected": f"{COMMON} reference:string location_id:string sku:string qty:int expected_at:?ts=null",
    "StockReceived": f"{COMMON} reference:?string=null location_id:string sku:string qty:int",
    "StockAdjusted": f"{COMMON} location_id:string sku:string qty_delta:int reason:string",
    "StockCounted": f"{COMMON} location_id:string sku:string counted_qty:int",
    "StockStatusChanged": f"{COMMON} location_id:string sku:string qty:int from_status:StockStatus to_status:StockStatus",
    "TransferDispatched": f"{COMMON} transfer_id:string from_location_id:string to_location_id:string sku:string qty:int",
    "TransferReceived": f"{COMMON} transfer_id:string to_location_id:string sku:string qty_received:int",
    "ChannelConfigured": f"{COMMON} channel_id:string location_ids:[string] safety_stock:int=0"
    " buffer_percent:int=0 max_available:?int=null low_stock_threshold:int=0",  # v1.1: channel rules
    "ChannelRemoved": f"{COMMON} channel_id:string",
    "ChannelAvailability": "channel_id:string available:int",
    "LocationStock": "location_id:string on_hand:int reserved:int picked:int damaged:int quality_hold:int pending_inspection:int inbound:int sellable:int",
    "AvailabilityChanged": "sku:string version:long channels:[ChannelAvailability] locations:[LocationStock] cause_event_id:string cause_event_type:string occurred_at:ts published_at:ts",
    "Allocation": "location_id:string qty:int",
    "ReservationDecided": "decision_id:string order_id:string sku:string channel_id:string status:ReservationStatus qty_requested:int qty_reserved:int allocations:[Allocation] reason:?string cause_event_id:string decided_at:ts",
    "StockMoved": "movement_id:string sku:string location_id:string bucket:Bucket delta:int balance_after:int reason:MovementReason reason_detail:?string cause_event_id:string cause_event_type:string reference:?string occurred_at:ts",
    # v1.1: stock levels
    "StockLevelChanged": "sku:string channel_id:string level:StockLevel previous_level:?StockLevel=null available:int version:long cause_event_id:string occurred_at:ts",
    # v1.1, section 11
    "BundleComponent": "sku:string qty:int",
    "BundleDefined": f"{COMMON} bundle_sku:string components:[BundleComponent]",
    "BundleRemoved": f"{COMMON} bundle_sku:string",
    "OrderLineOutcome": "sku:string qty_requested:int qty_reserved:int",
    "OrderDecided": "decision_id:string order_id:string channel_id:string status:OrderStatus fulfilment:Fulfilment lines:[OrderLineOutcome] reason:?string=null cause_event_id:string decided_at:ts",
}  # fmt: skip
SPEC_ENUMS = {
    "StockLevel": "IN_STOCK LOW_STOCK OUT_OF_STOCK",  # v1.1: stock levels
    "Fulfilment": "PER_LINE ALL_OR_NOTHING",  # v1.1: bundles, docs/contract.md
    "OrderStatus": "ACCEPTED PARTIAL REJECTED",  # v1.1: bundles, docs/contract.md
    "StockStatus": "SELLABLE DAMAGED QUALITY_HOLD WRITTEN_OFF",
    "ReservationStatus": "RESERVED REJECTED RELEASED EXPIRED FULFILLED REALLOCATED SHORTED",
    "Bucket": "ON_HAND RESERVED PICKED DAMAGED QUALITY_HOLD PENDING_INSPECTION INBOUND",
    "MovementReason": (
        "RECEIPT INBOUND_EXPECTED RESERVATION RELEASE EXPIRY PICK SHORT_PICK SHIPMENT "
        "RETURN_RECEIVED RETURN_RESTOCKED RETURN_DAMAGED ADJUSTMENT CYCLE_COUNT STATUS_CHANGE "
        "TRANSFER_OUT TRANSFER_IN TRANSFER_VARIANCE REALLOCATION CORRECTION"
    ),
}


def _files() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(schema_dir().glob("*.avsc"))}


def _type(t: Any) -> str:
    if isinstance(t, list):
        assert len(t) == 2 and t[0] == "null", f"only [null, T] unions in v1, got {t}"
        return "?" + _type(t[1])
    if isinstance(t, str):
        return t if t in PRIMITIVES else t.removeprefix("stocksignal.v1.")
    if t["type"] == "array":
        return f"[{_type(t['items'])}]"
    if t.get("logicalType") == "timestamp-millis" and t["type"] == "long":
        return "ts"
    raise AssertionError(f"unexpected type {t}")


def _signature(schema: dict) -> str:
    parts = []
    for f in schema["fields"]:
        default = f"={json.dumps(f['default'])}" if "default" in f else ""
        parts.append(f"{f['name']}:{_type(f['type'])}{default}")
    return " ".join(parts)


def test_one_file_per_record_and_enum_of_the_spec() -> None:
    assert set(_files()) == set(SPEC_RECORDS) | set(SPEC_ENUMS)


@pytest.mark.parametrize("name", sorted(SPEC_RECORDS))
def test_record_fields_match_the_spec(name: str) -> None:
    schema = _files()[name]
    assert (schema["type"], schema["name"], schema["namespace"]) == (
        "record",
        name,
        "stocksignal.v1",
    )
    assert _signature(schema) == SPEC_RECORDS[name]


@pytest.mark.parametrize("name", sorted(SPEC_ENUMS))
def test_enum_symbols_match_the_spec_in_order(name: str) -> None:
    schema = _files()[name]
    assert (schema["type"], schema["name"], schema["namespace"]) == ("enum", name, "stocksignal.v1")
    assert schema["symbols"] == SPEC_ENUMS[name].split()


def _documented(node: Any, where: str) -> Iterator[str]:
    """Paths of every record, enum and field lacking a non-empty doc."""
    if isinstance(node, list):
        for branch in node:
            yield from _documented(branch, where)
    elif isinstance(node, dict) and node.get("type") in ("record", "enum"):
        if not str(node.get("doc", "")).strip():
            yield where
        for f in node.get("fields", []):
            if not str(f.get("doc", "")).strip():
                yield f"{where}.{f['name']}"
            yield from _documented(f["type"], f"{where}.{f['name']}")
    elif isinstance(node, dict) and node.get("type") == "array":
        yield from _documented(node["items"], where)


def test_every_record_enum_and_field_has_a_doc() -> None:
    missing = [path for name, s in _files().items() for path in _documented(s, name)]
    assert missing == []


def test_the_doc_check_notices_a_missing_doc() -> None:
    schema = _files()["OrderLine"]
    del schema["fields"][1]["doc"]
    assert list(_documented(schema, "OrderLine")) == ["OrderLine.qty"]


def _named_references(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        if node not in PRIMITIVES:
            yield node
    elif isinstance(node, list):
        for branch in node:
            yield from _named_references(branch)
    elif node.get("type") == "record":
        for f in node["fields"]:
            yield from _named_references(f["type"])
    elif node.get("type") == "array":
        yield from _named_references(node["items"])


def test_named_types_are_referenced_by_full_name() -> None:
    refs = {r for s in _files().values() for r in _named_references(s)}
    assert refs and all(r.startswith("stocksignal.v1.") for r in refs), refs


def test_top_level_records_are_exactly_the_events_and_outputs(spec_records: dict) -> None:
    expected = spec_records["input"] + spec_records["output"]
    assert top_level_records(load_named(schema_dir())) == sorted(
        f"stocksignal.v1.{n}" for n in expected
    )


def test_history_directory_exists_for_archived_writer_schemas() -> None:
    assert (schema_dir() / "history").is_dir()


def test_schema_dir_is_the_repository_schemas_directory() -> None:
    assert schema_dir() == Path(__file__).resolve().parents[3] / "schemas"
