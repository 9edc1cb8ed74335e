"""The topic catalogue is complete, and keys, roles and DLQ headers are those of docs/contract.md."""

from __future__ import annotations

import pytest

from stocksignal.contract import topics as catalogue
from stocksignal.contract.dlq import MAX_ERROR_BYTES, DlqReason, dlq_headers
from stocksignal.contract.errors import DecodeError, EncodeError, UnknownSchemaError
from stocksignal.contract.examples import example
from stocksignal.contract.schemas import SchemaSet
from stocksignal.contract.topics import (
    TOPICS,
    CatalogueError,
    Role,
    key_for,
    list_topics,
    topic,
    topic_for_record,
)

# docs/contract.md#topics-and-keys: topic -> (role, key field, compacted).
SPEC_TOPICS = {
    "inventory.orders.v1": (Role.INPUT, "order_id", False),
    "inventory.picks.v1": (Role.INPUT, "order_id", False),
    "inventory.shipments.v1": (Role.INPUT, "order_id", False),
    "inventory.returns.v1": (Role.INPUT, "return_id", False),
    "inventory.stock.v1": (Role.INPUT, "sku", False),
    "inventory.channels.v1": (Role.INPUT, "channel_id", True),
    "inventory.catalog.v1": (Role.INPUT, "bundle_sku", True),  # v1.1, section 11.1
    "inventory.availability.v1": (Role.OUTPUT, "sku", True),
    "inventory.reservations.v1": (Role.OUTPUT, "order_id", False),
    "inventory.movements.v1": (Role.OUTPUT, "sku", False),
    "inventory.stock-levels.v1": (Role.OUTPUT, "sku", False),  # v1.1, docs/contract.md
    "inventory.order-decisions.v1": (Role.OUTPUT, "order_id", False),  # v1.1, docs/contract.md
    "inventory.dlq.v1": (Role.DLQ, None, False),
}
SPEC_RECORD_TOPIC = {
    **dict.fromkeys(("OrderPlaced", "OrderConfirmed", "OrderCancelled"), "inventory.orders.v1"),
    "PickConfirmed": "inventory.picks.v1",
    "ShipmentConfirmed": "inventory.shipments.v1",
    **dict.fromkeys(("ReturnReceived", "ReturnInspected"), "inventory.returns.v1"),
    **dict.fromkeys(
        (
            "InboundExpected",
            "StockReceived",
            "StockAdjusted",
            "StockCounted",
            "StockStatusChanged",
            "TransferDispatched",
            "TransferReceived",
        ),
        "inventory.stock.v1",
    ),  # fmt: skip
    **dict.fromkeys(("ChannelConfigured", "ChannelRemoved"), "inventory.channels.v1"),
    "AvailabilityChanged": "inventory.availability.v1",
    "ReservationDecided": "inventory.reservations.v1",
    "StockMoved": "inventory.movements.v1",
    "StockLevelChanged": "inventory.stock-levels.v1",
    **dict.fromkeys(("BundleDefined", "BundleRemoved"), "inventory.catalog.v1"),
    "OrderDecided": "inventory.order-decisions.v1",
}


def test_every_topic_of_the_spec_and_nothing_else() -> None:
    assert {t.name: (t.role, t.key_field, t.compacted) for t in TOPICS} == SPEC_TOPICS


def test_every_record_is_carried_by_exactly_one_topic(
    spec_records: dict, schemas: SchemaSet
) -> None:
    carried = [record for t in TOPICS for record in t.records]
    assert sorted(carried) == sorted(spec_records["input"] + spec_records["output"])
    assert len(carried) == len(set(carried))
    assert set(carried) == set(schemas.record_names)


def test_records_sit_on_the_spec_topics_with_the_right_role(spec_records: dict) -> None:
    assert {r: topic_for_record(r) for r in SPEC_RECORD_TOPIC} == SPEC_RECORD_TOPIC
    for record in spec_records["input"]:
        assert topic(topic_for_record(record)).role == Role.INPUT
    for record in spec_records["output"]:
        assert topic(topic_for_record(record)).role == Role.OUTPUT


def test_the_key_field_is_a_string_field_of_every_record_it_keys(schemas: SchemaSet) -> None:
    for t in list_topics():
        for record in t.records:
            fields = {f["name"]: f["type"] for f in schemas.current(record).schema["fields"]}
            assert fields.get(t.key_field) == "string", (t.name, record)


def test_key_for_every_record(record_name: str) -> None:
    record = example(record_name)
    name = topic_for_record(record_name)
    assert key_for(name, record_name, record) == record[SPEC_TOPICS[name][1]]


def test_key_for_refuses_a_record_on_the_wrong_topic() -> None:
    with pytest.raises(CatalogueError, match="inventory.stock.v1 does not carry OrderPlaced"):
        key_for("inventory.stock.v1", "OrderPlaced", example("OrderPlaced"))


def test_key_for_refuses_the_dlq_and_unknown_topics() -> None:
    with pytest.raises(CatalogueError, match="original key"):
        key_for("inventory.dlq.v1", "OrderPlaced", example("OrderPlaced"))
    with pytest.raises(CatalogueError, match="unknown topic 'inventory.order.v1'"):
        key_for("inventory.order.v1", "OrderPlaced", example("OrderPlaced"))


def test_key_for_refuses_a_missing_or_empty_key() -> None:
    with pytest.raises(CatalogueError, match="StockCounted has no usable sku"):
        key_for("inventory.stock.v1", "StockCounted", {**example("StockCounted"), "sku": ""})


def test_topic_for_an_unknown_record() -> None:
    with pytest.raises(CatalogueError, match="no topic carries 'OrderLine'"):
        topic_for_record("OrderLine")


def test_topics_by_role() -> None:
    assert [t.name for t in list_topics(Role.OUTPUT)] == [
        "inventory.availability.v1", "inventory.reservations.v1", "inventory.movements.v1",
        "inventory.stock-levels.v1", "inventory.order-decisions.v1",
    ]  # fmt: skip
    assert [t.name for t in list_topics(Role.DLQ)] == ["inventory.dlq.v1"]


# --- DLQ -------------------------------------------------------------------------------------


def test_dlq_header_names_and_reasons_are_the_spec_ones() -> None:
    assert catalogue.DLQ_HEADERS == (
        "dlq.reason",
        "dlq.error",
        "dlq.topic",
        "dlq.partition",
        "dlq.offset",
    )
    assert [r.value for r in DlqReason] == ["DECODE_ERROR", "UNKNOWN_SCHEMA", "VALIDATION_ERROR"]
    assert DecodeError.dlq_reason == "DECODE_ERROR"
    assert UnknownSchemaError.dlq_reason == "UNKNOWN_SCHEMA"
    assert EncodeError.dlq_reason == "VALIDATION_ERROR"


def test_dlq_headers_keep_the_originals_and_replace_earlier_dlq_ones() -> None:
    original = [("trace-id", b"abc"), ("dlq.reason", b"DECODE_ERROR"), ("empty", None)]
    headers = dlq_headers(
        DlqReason.UNKNOWN_SCHEMA, "fingerprint 0x00 matches no known schema",
        topic="inventory.orders.v1", partition=3, offset=42, original=original,
    )  # fmt: skip
    assert headers == [
        ("trace-id", b"abc"),
        ("empty", None),
        ("dlq.reason", b"UNKNOWN_SCHEMA"),
        ("dlq.error", b"fingerprint 0x00 matches no known schema"),
        ("dlq.topic", b"inventory.orders.v1"),
        ("dlq.partition", b"3"),
        ("dlq.offset", b"42"),
    ]


def test_dlq_error_is_capped_on_a_character_boundary() -> None:
    headers = dict(dlq_headers("VALIDATION_ERROR", "é" * 5000, topic="t", partition=0, offset=0))
    error = headers["dlq.error"]
    assert len(error) <= MAX_ERROR_BYTES and error.endswith(b"...")
    error.decode("utf-8")  # still valid UTF-8


def test_dlq_reason_must_be_one_of_the_spec() -> None:
    with pytest.raises(ValueError):
        dlq_headers("OOPS", "x", topic="t", partition=0, offset=0)
