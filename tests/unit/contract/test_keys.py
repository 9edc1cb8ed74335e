"""An input record's Kafka key must be its key field (docs/contract.md#keys)."""

from __future__ import annotations

import pytest

from stocksignal.contract import topics as catalogue
from stocksignal.contract.examples import example
from stocksignal.contract.keys import key_error
from stocksignal.contract.topics import CatalogueError, Role, list_topics

INPUTS = [(t.name, t.key_field, r) for t in list_topics(Role.INPUT) for r in t.records]


@pytest.mark.parametrize(("topic", "field", "name"), INPUTS)
def test_the_key_field_as_utf8_is_accepted(topic, field, name):
    record = example(name)
    assert key_error(topic, name, record, record[field].encode()) is None


@pytest.mark.parametrize(("topic", "field", "name"), INPUTS)
def test_a_missing_key_is_refused_naming_the_field(topic, field, name):
    record = example(name)
    message = key_error(topic, name, record, None)
    assert message == f"key: missing; {topic} is keyed by {field}: expected {record[field]!r}"


@pytest.mark.parametrize(("topic", "field", "name"), INPUTS)
def test_another_key_is_refused_with_both_values(topic, field, name):
    record = example(name)
    message = key_error(topic, name, record, b"SOMETHING-ELSE")
    assert (
        message
        == f"key: 'SOMETHING-ELSE' differs from {field} {record[field]!r}; {topic} is keyed by {field}"
    )


def test_the_keys_of_the_catalogue_are_the_contracts():
    assert {t.name: t.key_field for t in list_topics(Role.INPUT)} == {
        "inventory.orders.v1": "order_id",
        "inventory.picks.v1": "order_id",
        "inventory.shipments.v1": "order_id",
        "inventory.returns.v1": "return_id",
        "inventory.stock.v1": "sku",
        "inventory.channels.v1": "channel_id",
        "inventory.catalog.v1": "bundle_sku",
    }


def test_a_key_of_another_field_of_the_record_is_refused():
    # A ShipmentConfirmed keyed by its shipment_id lands on the wrong partition of the order.
    record = example("ShipmentConfirmed")
    message = key_error(
        catalogue.SHIPMENTS, "ShipmentConfirmed", record, record["shipment_id"].encode()
    )
    assert message is not None and "differs from order_id" in message


def test_an_empty_key_is_not_a_missing_one():
    record = example("StockReceived")
    assert key_error(catalogue.STOCK, "StockReceived", record, b"") == (
        f"key: empty; inventory.stock.v1 is keyed by sku: expected {record['sku']!r}"
    )


def test_keys_compare_as_utf8_bytes():
    record = {**example("StockReceived"), "sku": "TASSE-GRÜN"}
    assert key_error(catalogue.STOCK, "StockReceived", record, "TASSE-GRÜN".encode()) is None
    # The same text in another encoding is another key: another partition.
    assert key_error(catalogue.STOCK, "StockReceived", record, "TASSE-GRÜN".encode("latin-1")) == (
        "key: (not UTF-8) 0x54415353452d4752dc4e differs from sku 'TASSE-GRÜN'; inventory.stock.v1 is keyed by sku"
    )


def test_case_and_whitespace_matter():
    record = example("ChannelConfigured")
    channel = record["channel_id"]
    for key in (channel.upper(), channel + " ", " " + channel):
        assert key != channel
        assert key_error(catalogue.CHANNELS, "ChannelConfigured", record, key.encode()) is not None


def test_a_long_key_is_cut_in_the_message():
    record = example("StockReceived")
    message = key_error(catalogue.STOCK, "StockReceived", record, b"K" * 10_000)
    assert message is not None and len(message) < 300 and "KKK..." in message


def test_a_record_without_its_key_field_says_so():
    record = example("OrderConfirmed")
    del record["order_id"]
    assert key_error(catalogue.ORDERS, "OrderConfirmed", record, b"W-1") == (
        "key: the record has no order_id to compare the key with (inventory.orders.v1 is keyed by order_id)"
    )


def test_a_record_of_another_topic_is_refused():
    record = example("StockReceived")
    assert "does not belong on inventory.orders.v1" in key_error(
        catalogue.ORDERS, "StockReceived", record, b"x"
    )


@pytest.mark.parametrize("topic", [catalogue.AVAILABILITY, catalogue.DLQ, "inventory.nope.v1"])
def test_only_input_topics_are_checked(topic):
    with pytest.raises(CatalogueError):
        key_error(topic, "AvailabilityChanged", example("AvailabilityChanged"), b"x")
