"""Confluent Schema Registry framing, against confluent-kafka's in-memory ``mock://`` registry."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from stocksignal.contract import DecodeError, EncodeError, UnknownSchemaError, make_codec
from stocksignal.contract.examples import example
from stocksignal.contract.registry import RegistryCodec
from stocksignal.contract.schemas import SchemaSet, writer_schema
from stocksignal.contract.single_object import SingleObjectCodec


@pytest.fixture()
def client() -> SchemaRegistryClient:
    return SchemaRegistryClient.new_client({"url": "mock://contract-tests"})


@pytest.fixture()
def codec(client: SchemaRegistryClient, schemas: SchemaSet) -> RegistryCodec:
    return RegistryCodec(client, schemas)


def test_make_codec_with_a_registry_url_gives_registry_framing() -> None:
    codec = make_codec("mock://factory")
    assert isinstance(codec, RegistryCodec)
    frame = codec.encode("ChannelRemoved", example("ChannelRemoved"))
    assert frame[0] == 0
    assert codec.decode(frame).record == example("ChannelRemoved")


def test_every_record_round_trips(codec: RegistryCodec, record_name: str) -> None:
    record = example(record_name)
    assert codec.decode(codec.encode(record_name, record)) == (record_name, record)


def test_frame_is_magic_zero_and_big_endian_schema_id(
    codec: RegistryCodec, client: SchemaRegistryClient, schemas: SchemaSet
) -> None:
    frame = codec.encode("OrderPlaced", example("OrderPlaced"))
    schema_id = int.from_bytes(frame[1:5], "big")
    assert frame[0] == 0 and schema_id == codec.schema_id("OrderPlaced")
    registered = client.get_schema(schema_id)
    # Subject = full record name; the registered schema is ours, self-contained.
    assert client.get_latest_version("stocksignal.v1.OrderPlaced").schema_id == schema_id
    fingerprint = writer_schema(json.loads(registered.schema_str)).fingerprint
    assert fingerprint == schemas.current("OrderPlaced").fingerprint


def test_single_object_frames_are_accepted_too(codec: RegistryCodec, schemas: SchemaSet) -> None:
    frame = SingleObjectCodec(schemas).encode("StockCounted", example("StockCounted"))
    assert codec.decode(frame) == ("StockCounted", example("StockCounted"))


def test_unknown_schema_id(codec: RegistryCodec) -> None:
    with pytest.raises(UnknownSchemaError) as info:
        codec.decode(b"\x00\x00\x00\x30\x39" + b"\x02x")
    assert info.value.dlq_reason == "UNKNOWN_SCHEMA"
    assert str(info.value) == "schema id 12345 is not in the registry"


def test_a_registered_schema_of_some_other_record_is_unknown(
    codec: RegistryCodec, client: SchemaRegistryClient
) -> None:
    foreign = {"type": "record", "name": "Invoice", "namespace": "billing", "fields": []}
    schema_id = client.register_schema("billing.Invoice", Schema(json.dumps(foreign), "AVRO"))
    with pytest.raises(UnknownSchemaError, match="is billing.Invoice, not a record of this"):
        codec.decode(b"\x00" + schema_id.to_bytes(4, "big"))


def test_an_older_registered_writer_schema_is_resolved_to_the_current_one(
    codec: RegistryCodec, client: SchemaRegistryClient, schemas: SchemaSet
) -> None:
    older = json.loads(json.dumps(schemas.current("OrderConfirmed").schema))
    older["fields"] = [f for f in older["fields"] if f["name"] != "source"]
    subject = "stocksignal.v1.OrderConfirmed"
    schema_id = client.register_schema(subject, Schema(json.dumps(older), "AVRO"))
    # Avro binary of {event_id: "e", occurred_at: 1, order_id: "o"}
    body = b"\x02e" + b"\x02" + b"\x02o"
    decoded = codec.decode(b"\x00" + schema_id.to_bytes(4, "big") + body)
    expected = {"event_id": "e", "occurred_at": 1, "source": None, "order_id": "o"}
    assert decoded == ("OrderConfirmed", expected)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "frame is empty (0 bytes), a Schema Registry frame needs at least 5"),
        (b"\x00\x00\x01", "frame is 3 bytes, a Schema Registry frame needs at least 5"),
        (b"\x07\x00\x00\x00\x01\x02", "bad magic byte 0x07: expected 0x00 (Schema Registry)"),
    ],
)
def test_malformed_registry_frames(codec: RegistryCodec, data: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as info:
        codec.decode(data)
    assert str(info.value).startswith(message)
    assert info.value.dlq_reason == "DECODE_ERROR"


def test_truncated_and_trailing_bodies(codec: RegistryCodec) -> None:
    frame = codec.encode("StockAdjusted", example("StockAdjusted"))
    with pytest.raises(DecodeError, match="truncated"):
        codec.decode(frame[:-4])
    with pytest.raises(DecodeError, match="1 trailing byte"):
        codec.decode(frame + b"\x00")


def test_invalid_records_are_refused_before_any_registry_call(codec: RegistryCodec) -> None:
    with pytest.raises(EncodeError, match="StockCounted.counted_qty: expected int"):
        codec.encode("StockCounted", {**example("StockCounted"), "counted_qty": "12"})


def test_registry_outage_is_not_a_dlq_matter(schemas: SchemaSet) -> None:
    class Down:
        def get_schema(self, schema_id: int) -> Schema:
            raise SchemaRegistryError(503, 50301, "unavailable")

    codec = RegistryCodec(Down(), schemas)  # type: ignore[arg-type]
    with pytest.raises(SchemaRegistryError):
        codec.decode(b"\x00\x00\x00\x00\x01\x02x")


def test_without_auto_register_an_unregistered_schema_is_a_deployment_error(
    client: SchemaRegistryClient, schemas: SchemaSet
) -> None:
    from stocksignal.contract import SchemaError

    codec = RegistryCodec(client, schemas, auto_register=False)
    with pytest.raises(SchemaError, match="stocksignal.v1.OrderConfirmed: cannot get a schema id"):
        codec.encode("OrderConfirmed", example("OrderConfirmed"))
    RegistryCodec(client, schemas).encode("OrderConfirmed", example("OrderConfirmed"))
    assert codec.encode("OrderConfirmed", example("OrderConfirmed"))[0] == 0


def test_interoperates_with_confluents_avro_serde(
    codec: RegistryCodec, client: SchemaRegistryClient, schemas: SchemaSet
) -> None:
    conf = {"subject.name.strategy": record_subject_name_strategy}
    schema_str = json.dumps(schemas.current("StockMoved").schema)
    context = SerializationContext("inventory.movements.v1", MessageField.VALUE)
    record = example("StockMoved")

    theirs = AvroSerializer(client, schema_str, conf=conf)(record, context)
    assert codec.decode(theirs) == ("StockMoved", record)

    decoded = AvroDeserializer(client)(codec.encode("StockMoved", record), context)
    # Their deserializer hands out datetimes for timestamp-millis; everything else is equal.
    assert int(decoded.pop("occurred_at").timestamp() * 1000) == record.pop("occurred_at")
    assert decoded == record
