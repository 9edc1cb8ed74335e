"""EventEncoder: the processor's rules before anything is sent; topic, key and frame from the contract."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stocksignal.client import (
    EVENTS,
    ChannelConfigured,
    EventEncoder,
    InvalidEvent,
    OrderLine,
    OrderPlaced,
    PickConfirmed,
    PickLine,
    ReturnReceived,
    StockStatus,
    StockStatusChanged,
)
from stocksignal.contract import make_codec
from stocksignal.contract.examples import example, example_names


@pytest.fixture
def encoder():
    return EventEncoder(
        make_codec(""),
        topic_prefix="t.",
        source="oms",
        clock=lambda: 1000.0,
        new_event_id=lambda: "fixed",
    )


@pytest.mark.parametrize("record_name", sorted(r for r in example_names() if r in EVENTS))
def test_every_contract_example_goes_to_its_topic_with_its_key_and_decodes_back(
    encoder, record_name
):
    from stocksignal.contract import key_for, topic_for_record

    record = dict(example(record_name))
    ready = encoder.prepare(record_name, record)
    assert ready.base_topic == topic_for_record(record_name)
    assert ready.topic == "t." + ready.base_topic
    assert ready.key == key_for(ready.base_topic, record_name, record)
    assert make_codec("").decode(ready.value) == (record_name, ready.record)
    assert ready.filled == ()


def test_typed_events_are_filled_encoded_and_keyed(encoder):
    ready = encoder.prepare(
        OrderPlaced(
            order_id="W-1",
            channel_id="web",
            lines=[OrderLine(sku="MUG", qty=2)],
            hold_expires_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )
    assert (ready.topic, ready.key, ready.event_id) == ("t.inventory.orders.v1", "W-1", "fixed")
    assert ready.record["occurred_at"] == 1_000_000 and ready.record["source"] == "oms"
    assert ready.record["hold_expires_at"] == 1767225600000
    assert make_codec("").decode(ready.value).record == ready.record


def test_given_common_fields_are_kept(encoder):
    ready = encoder.prepare(
        ReturnReceived(
            return_id="R-1",
            location_id="L",
            lines=[OrderLine(sku="A", qty=1)],
            event_id="mine",
            occurred_at=5,
            source="returns-desk",
        )
    )
    assert (
        ready.filled == ()
        and ready.record["event_id"] == "mine"
        and ready.record["source"] == "returns-desk"
    )
    assert ready.key == "R-1" and ready.base_topic == "inventory.returns.v1"


def test_every_broken_rule_is_named_and_nothing_is_encoded(encoder):
    with pytest.raises(InvalidEvent) as caught:
        encoder.prepare(
            PickConfirmed(order_id="", location_id="L", lines=[PickLine(sku="A", qty_picked=0)])
        )
    assert caught.value.record_name == "PickConfirmed"
    assert caught.value.problems == [
        "order_id: length 0 is not in 1..128",
        "lines[0]: moves no unit (qty_picked and qty_short are both 0)",
    ]
    assert str(caught.value).startswith("PickConfirmed: order_id: length 0")


def test_the_same_rules_as_the_processor(encoder):
    with pytest.raises(InvalidEvent, match="WRITTEN_OFF is not a valid from_status"):
        encoder.prepare(
            StockStatusChanged(
                location_id="L",
                sku="A",
                qty=1,
                from_status=StockStatus.WRITTEN_OFF,
                to_status="SELLABLE",
            )
        )
    with pytest.raises(InvalidEvent, match=r"location_ids\[1\]: 'A' is listed twice"):
        encoder.prepare(ChannelConfigured(channel_id="c", location_ids=["A", "A"]))


def test_the_codec_refuses_what_the_rules_do_not_look_at(encoder):
    with pytest.raises(InvalidEvent, match="colour") as caught:
        encoder.prepare(
            "StockReceived", {"sku": "A", "location_id": "B", "qty": 1, "colour": "red"}
        )
    assert caught.value.record_name == "StockReceived"


@pytest.mark.parametrize(
    "name, message",
    [
        ("AvailabilityChanged", "an output of the processor"),
        ("OrderShipped", "unknown input event 'OrderShipped'"),
    ],
)
def test_outputs_and_unknown_records_are_refused(encoder, name, message):
    with pytest.raises(InvalidEvent, match=message):
        encoder.prepare(name, {})


def test_a_record_that_is_not_a_mapping_is_refused(encoder):
    with pytest.raises(InvalidEvent, match="expected the record's fields as a mapping"):
        encoder.prepare("StockReceived", ["sku"])  # type: ignore[arg-type]


@pytest.mark.parametrize("record_name", sorted(r for r in example_names() if r in EVENTS))
def test_the_typed_constructor_of_every_example_gives_the_same_bytes_as_its_dict(record_name):
    # No default source: a typed event's source=None means "the producer's source", which
    # would otherwise replace an example's explicit null.
    encoder = EventEncoder(make_codec(""))
    record = dict(example(record_name))
    typed = EVENTS[record_name](**record)
    assert encoder.prepare(typed).value == encoder.prepare(record_name, record).value
