"""Codec.encoder (the processor's hot path) gives exactly encode(..., check=False)'s bytes and errors."""

from __future__ import annotations

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from stocksignal.contract.examples import example
from stocksignal.contract.registry import RegistryCodec
from stocksignal.contract.schemas import SchemaSet
from stocksignal.contract.single_object import SingleObjectCodec


@pytest.fixture(params=["single-object", "registry"])
def codec(request, schemas: SchemaSet):
    if request.param == "single-object":
        return SingleObjectCodec(schemas)
    client = SchemaRegistryClient.new_client({"url": "mock://bound-encoders"})
    return RegistryCodec(client, schemas)


def test_the_bytes_are_encodes(codec, record_name: str) -> None:
    record = example(record_name)
    assert codec.encoder(record_name)(record) == codec.encode(record_name, record, check=False)


def test_a_record_the_compiled_writer_cannot_write_fails_as_encode_does(codec) -> None:
    record = {**example("StockMoved"), "delta": "three"}  # not a long: fastavro refuses it
    with pytest.raises(Exception) as by_encode:
        codec.encode("StockMoved", record, check=False)
    with pytest.raises(type(by_encode.value)) as by_encoder:
        codec.encoder("StockMoved")(record)
    assert str(by_encoder.value) == str(by_encode.value)


def test_an_unknown_record_name_is_refused_when_bound(codec) -> None:
    with pytest.raises(Exception, match="unknown record 'NoSuchRecord'"):
        codec.encoder("NoSuchRecord")
