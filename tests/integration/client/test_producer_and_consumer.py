"""stocksignal.client against a real broker: what is sent where, and every failure it names."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest
from confluent_kafka.admin import NewTopic

from stocksignal import bootstrap
from stocksignal.cli.common import wait_for_leaders
from stocksignal.cli.kafka_read import read_all
from stocksignal.client import (
    DeliveryFailed,
    EventProducer,
    InvalidEvent,
    KafkaUnavailable,
    OrderLine,
    OrderPlaced,
    OutputConsumer,
    StockReceived,
    TopicMissing,
    UndecodableOutput,
)
from stocksignal.contract import partition_for
from stocksignal.contract import topics as catalogue
from stocksignal.settings import Settings

pytestmark = pytest.mark.integration


def test_events_land_on_the_contracts_partition_with_key_headers_and_filled_fields(with_topics):
    s = with_topics
    skus = [f"SKU-{n}" for n in range(12)]
    with EventProducer.from_settings(s, source="wms") as producer:
        deliveries = [
            producer.send(StockReceived(location_id="WH", sku=sku, qty=1), headers={"trace": sku})
            for sku in skus
        ]
    topic = s.topic_prefix + catalogue.STOCK
    done = [d.result(timeout=0) for d in deliveries]
    assert len({d.partition for d in done}) > 1  # the keys spread: the partition is not constant
    codec = bootstrap.make_codec(s)
    by_key = {r.key.decode(): r for r in read_all(s, topic)}
    for d in done:
        raw = by_key[d.key]
        assert d.topic == topic and raw.partition == d.partition == partition_for(d.key, 3)
        assert raw.offset == d.offset and raw.headers == (("trace", d.key.encode()),)
        name, record = codec.decode(raw.value)
        assert (
            name == "StockReceived"
            and record["event_id"] == d.event_id
            and record["source"] == "wms"
        )
        assert abs(record["occurred_at"] - time.time() * 1000) < 60_000


def test_an_invalid_event_sends_nothing(with_topics):
    s = with_topics
    producer = EventProducer.from_settings(s)
    with pytest.raises(InvalidEvent) as caught:
        producer.send(OrderPlaced(order_id="W-1", channel_id="web", lines=[]))
    assert caught.value.problems == ["lines: must not be empty"]
    assert producer.flush(5) == 0
    assert read_all(s, s.topic_prefix + catalogue.ORDERS) == []


def test_a_missing_topic_is_named(cli_settings):
    producer = EventProducer.from_settings(cli_settings)  # no `topics create` in this world
    with pytest.raises(
        TopicMissing, match=r"inventory\.stock\.v1 does not exist .*stocksignal topics create"
    ):
        producer.send(StockReceived(location_id="WH", sku="A", qty=1))


def test_a_kafka_that_does_not_answer_is_named():
    producer = EventProducer.from_settings(Settings(kafka_bootstrap_servers="127.0.0.1:9"))
    producer.metadata_timeout = 2.0
    with pytest.raises(KafkaUnavailable, match="KAFKA_BOOTSTRAP_SERVERS"):
        producer.send(StockReceived(location_id="WH", sku="A", qty=1))


def test_a_refused_delivery_fails_its_future_and_calls_back(cli_settings):
    # An orders topic that takes at most 200-byte records: the broker refuses a big order.
    s = cli_settings
    admin = bootstrap.make_admin(s)
    topic = s.topic_prefix + catalogue.ORDERS
    for future in admin.create_topics(
        [NewTopic(topic, 1, 1, config={"max.message.bytes": "200"})]
    ).values():
        future.result(30)
    wait_for_leaders(s, [topic])
    called = []
    producer = EventProducer.from_settings(s, **{"message.timeout.ms": 10000})
    lines = [OrderLine(sku=f"SKU-{n}", qty=1) for n in range(40)]
    delivery = producer.send(
        OrderPlaced(order_id="W-big", channel_id="web", lines=lines), on_delivery=called.append
    )
    with pytest.raises(DeliveryFailed) as caught:
        delivery.result(timeout=20)
    assert caught.value.event_id == delivery.event_id and "not delivered" in str(caught.value)
    assert called == [delivery] and isinstance(delivery.exception(), DeliveryFailed)
    assert caught.value.reason


def test_the_output_reader_names_a_record_it_cannot_decode_and_goes_on(cli_settings):
    s = cli_settings
    topic = f"{s.topic_prefix}scratch-{uuid.uuid4().hex[:6]}"
    admin = bootstrap.make_admin(s)
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(30)
    wait_for_leaders(s, [topic])
    producer = bootstrap.make_producer(s)
    producer.produce(topic, b"not avro", b"K")
    producer.flush(10)
    reader = OutputConsumer(
        bootstrap.make_consumer(s, f"g-{uuid.uuid4().hex[:6]}"), bootstrap.make_codec(s), [topic]
    )
    try:
        deadline = time.monotonic() + 30
        with pytest.raises(UndecodableOutput, match=rf"{topic}\[0\]@0 does not decode"):
            while time.monotonic() < deadline:
                reader.poll(1.0)
        assert reader.poll(2.0) is None  # moved past it
    finally:
        reader.close()


def test_only_output_topics_can_be_read(cli_settings):
    with pytest.raises(ValueError, match="not output topics"):
        OutputConsumer.from_settings(replace(cli_settings), group_id="g", topics=[catalogue.ORDERS])
