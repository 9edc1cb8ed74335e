"""The group membership a transaction's offsets carry, read from librdkafka's own metadata."""

from __future__ import annotations

import struct

import pytest
from confluent_kafka import Consumer

from stocksignal.processor.ports import parse_membership


def test_a_consumer_that_has_not_joined_carries_generation_minus_one_and_no_member():
    # librdkafka's real serialization (no broker needed): what a zombie's commit would carry
    # between losing its membership and joining again, which Kafka accepts unchecked.
    consumer = Consumer({"bootstrap.servers": "127.0.0.1:1", "group.id": "probe-group"})
    try:
        assert parse_membership(consumer.consumer_group_metadata()) == (-1, "")
    finally:
        consumer.close()


def test_a_member_carries_its_generation_and_member_id():
    data = b"CGMDv2:" + struct.pack("=i", 7) + b"app\x00rdkafka-1f2e\x00\x01"
    assert parse_membership(data) == (7, "rdkafka-1f2e")


def test_metadata_in_an_unknown_format_is_refused_with_what_it_was():
    with pytest.raises(ValueError, match="unknown format"):
        parse_membership(b"CGMDv9:\x00\x00\x00\x00g\x00m\x00\x01")
