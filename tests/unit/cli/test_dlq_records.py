"""What `stocksignal dlq` selects and replays, without Kafka."""

from __future__ import annotations

import pytest

from stocksignal.cli.dlq_records import (
    DlqEntry,
    Selection,
    parse_range,
    parse_ref,
    plan_replay,
    recheck,
    replay_target,
)
from stocksignal.cli.kafka_read import Raw
from stocksignal.contract import dlq_headers, make_codec
from stocksignal.contract.examples import example

CODEC = make_codec("")


def entry(
    name="StockReceived",
    record=None,
    *,
    key=None,
    topic="p.inventory.stock.v1",
    reason="VALIDATION_ERROR",
    dlq_partition=0,
    dlq_offset=5,
    timestamp=1000,
    value=None,
    extra=(("trace", b"t-1"),),
) -> DlqEntry:
    record = dict(example(name)) if record is None else record
    if value is None:
        value = CODEC.encode(name, record)
    if key is None:
        key = record.get("sku", record.get("order_id", "")).encode()
    headers = dlq_headers(reason, "why", topic=topic, partition=2, offset=15, original=list(extra))
    return DlqEntry.of(
        Raw("p.inventory.dlq.v1", dlq_partition, dlq_offset, timestamp, key, value, tuple(headers)),
        CODEC,
    )


def test_an_entry_reads_its_headers_and_body():
    e = entry()
    assert (e.ref, e.reason, e.error, e.source) == (
        "0@5",
        "VALIDATION_ERROR",
        "why",
        "p.inventory.stock.v1[2]@15",
    )
    assert e.record_name == "StockReceived" and e.event_id == example("StockReceived")["event_id"]
    assert e.original_headers == [("trace", b"t-1")]


def test_an_undecodable_entry_keeps_the_codecs_reason():
    e = entry(value=b"\xc3\x01" + b"\x00" * 8 + b"body")
    assert (
        e.record_name is None
        and e.decode_reason == "UNKNOWN_SCHEMA"
        and "fingerprint" in e.decode_error
    )
    assert recheck(e, "inventory.stock.v1")[0] == "UNKNOWN_SCHEMA"


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("2@15", (2, 15, 15)),
        ("2@15-20", (2, 15, 20)),
        ("2@15-", (2, 15, None)),
        (" 0 @ 3 - 4 ", (0, 3, 4)),
    ],
)
def test_offset_ranges(text, parsed):
    assert parse_range(text) == parsed


@pytest.mark.parametrize("text", ["15", "2@", "a@1", "2@20-15"])
def test_bad_offset_ranges_say_the_form(text):
    with pytest.raises(ValueError):
        parse_range(text)


def test_refs():
    assert parse_ref("3@7") == (3, 7)
    with pytest.raises(ValueError, match="PARTITION@OFFSET"):
        parse_ref("3-7")


def test_selection_every_criterion_must_hold():
    e = entry(dlq_partition=1, dlq_offset=8, timestamp=5000)
    assert Selection(prefix="p.").matches(e)
    assert Selection(
        reasons=frozenset({"VALIDATION_ERROR"}),
        topics=frozenset({"inventory.stock.v1"}),
        prefix="p.",
    ).matches(e)
    assert Selection(topics=frozenset({"p.inventory.stock.v1"}), prefix="p.").matches(e)
    assert not Selection(topics=frozenset({"inventory.orders.v1"}), prefix="p.").matches(e)
    assert not Selection(reasons=frozenset({"DECODE_ERROR"})).matches(e)
    assert Selection(ranges=((1, 8, 8),)).matches(e) and Selection(ranges=((1, 0, None),)).matches(
        e
    )
    assert not Selection(ranges=((0, 0, None), (1, 9, 20))).matches(e)
    assert Selection(event_ids=frozenset({e.event_id})).matches(e) and not Selection(
        event_ids=frozenset({"x"})
    ).matches(e)
    assert Selection(since=5000, until=5000).matches(e)
    assert not Selection(since=5001).matches(e) and not Selection(until=4999).matches(e)
    assert not Selection().narrowed and Selection(since=0).narrowed


def test_only_input_topics_are_replay_targets():
    assert replay_target(entry(), "p.") == ("p.inventory.stock.v1", "inventory.stock.v1")
    topic, why = replay_target(entry(topic="p.inventory.availability.v1"), "p.")
    assert topic is None and "never to the processor's outputs" in why
    topic, why = replay_target(entry(), "")  # another prefix: not this deployment's input topic
    assert topic is None and "not an input topic" in why


def test_recheck_uses_the_routers_rules():
    assert recheck(entry(), "inventory.stock.v1") is None
    bad = dict(example("StockReceived"), qty=0)
    assert recheck(entry(record=bad), "inventory.stock.v1") == (
        "VALIDATION_ERROR",
        "qty: 0 is not in 1..1000000",
    )
    reason, why = recheck(entry(key=b"OTHER"), "inventory.stock.v1")
    assert reason == "VALIDATION_ERROR" and "differs from sku" in why
    reason, why = recheck(entry(), "inventory.orders.v1")
    assert "does not belong on inventory.orders.v1" in why


def test_a_plan_keeps_the_original_order_and_leaves_out_what_would_fail_again():
    late = entry(dlq_offset=9, record=dict(example("StockReceived"), event_id="late"))
    early = entry(dlq_offset=3, record=dict(example("StockReceived"), event_id="early"))
    failing = entry(dlq_offset=4, record=dict(example("StockReceived"), qty=0))
    output = entry(dlq_offset=6, topic="p.inventory.movements.v1")
    plan = plan_replay([late, failing, output, early], "p.")
    # All four have the same source position; the DLQ offset breaks the tie.
    assert [e.event_id for e, _ in plan.send] == ["early", "late"]
    assert [e.ref for e, _ in plan.failing] == ["0@4"] and [e.ref for e, _ in plan.refused] == [
        "0@6"
    ]
    forced = plan_replay([failing, output], "p.", force=True)
    assert [e.ref for e, _ in forced.send] == ["0@4"] and [e.ref for e, _ in forced.refused] == [
        "0@6"
    ]
