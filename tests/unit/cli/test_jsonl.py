"""``stocksignal produce``'s line format: parsing, filling, validating, with line numbers."""

from __future__ import annotations

import itertools

import pytest

from stocksignal.cli.jsonl import (
    INPUT_RECORDS,
    TIMESTAMP_FIELDS,
    BadLine,
    Defaults,
    Event,
    encode,
    parse_line,
    parse_lines,
    parse_timestamp,
)
from stocksignal.contract import default_schema_set, make_codec

NOW = 1_767_261_600_000  # 2026-01-01T10:00:00Z


def defaults() -> Defaults:
    counter = itertools.count(1)
    return Defaults(now_ms=NOW, source="test", new_event_id=lambda: f"gen-{next(counter)}")


def test_a_good_line_gets_its_missing_common_fields_and_says_which():
    e = parse_line(
        '{"type": "StockReceived", "sku": "MUG", "location_id": "BER", "qty": 3}', 7, defaults()
    )
    assert isinstance(e, Event)
    assert e.line == 7 and e.record_name == "StockReceived"
    assert e.record == {
        "sku": "MUG",
        "location_id": "BER",
        "qty": 3,
        "event_id": "gen-1",
        "occurred_at": NOW,
        "source": "test",
    }
    assert e.filled == ("event_id", "occurred_at", "source")
    assert e.topic == "inventory.stock.v1" and e.key == "MUG"


def test_given_common_fields_are_kept():
    e = parse_line(
        '{"type": "OrderConfirmed", "order_id": "O-1", "event_id": "mine", "occurred_at": 5,'
        ' "source": null}',
        1,
        defaults(),
    )
    assert (
        e.record["event_id"] == "mine"
        and e.record["occurred_at"] == 5
        and e.record["source"] is None
    )
    assert e.filled == ()
    assert e.topic == "inventory.orders.v1" and e.key == "O-1"


def test_line_numbers_count_blank_and_comment_lines():
    text = [
        "# a comment\n",
        "\n",
        '{"type": "ChannelRemoved", "channel_id": "web"}\n',
        "   \n",
        "not json\n",
        '{"type": "StockAdjusted", "sku": "A", "location_id": "B", "qty_delta": 0, "reason": "x"}\n',
    ]
    parsed = list(parse_lines(text, defaults()))
    assert [p.line for p in parsed] == [3, 5, 6]
    assert isinstance(parsed[0], Event) and parsed[0].key == "web"
    assert isinstance(parsed[1], BadLine) and parsed[1].reason.startswith("not JSON")
    assert isinstance(parsed[2], BadLine) and "qty_delta" in parsed[2].reason
    assert str(parsed[1]).startswith("line 5: ")


@pytest.mark.parametrize(
    "line, reason",
    [
        ("[1, 2]", "expected a JSON object"),
        ('{"sku": "A"}', 'no "type"'),
        ('{"type": "Nope"}', "unknown type 'Nope'"),
        ('{"type": "StockMoved"}', "is an output of the processor"),
        (
            '{"type": "OrderPlaced", "order_id": "O", "channel_id": "c", "lines": []}',
            "lines: must not be empty",
        ),
        (
            '{"type": "OrderPlaced", "order_id": "O", "channel_id": "c", "lines": [{"sku": "A", "qty": 0}]}',
            "lines[0].qty: 0 is not in 1..1000000",
        ),
        (
            '{"type": "StockStatusChanged", "sku": "A", "location_id": "B", "qty": 1, "from_status": "WRITTEN_OFF",'
            ' "to_status": "DAMAGED"}',
            "from_status",
        ),
        (
            '{"type": "StockReceived", "sku": "A", "location_id": "B", "qty": 1, "occurred_at": "tomorrow"}',
            "occurred_at: 'tomorrow' is not a time",
        ),
    ],
)
def test_bad_lines_say_why(line, reason):
    bad = parse_line(line, 12, defaults())
    assert isinstance(bad, BadLine) and bad.line == 12
    assert reason in bad.reason, bad.reason


def test_every_problem_of_a_line_is_listed():
    bad = parse_line(
        '{"type": "StockReceived", "sku": "", "location_id": 5, "qty": -1}', 1, defaults()
    )
    assert "sku" in bad.reason and "location_id" in bad.reason and "qty" in bad.reason


def test_the_codec_refuses_what_the_rules_do_not_look_at():
    codec = make_codec("")
    e = parse_line(
        '{"type": "StockReceived", "sku": "A", "location_id": "B", "qty": 1, "colour": "red"}',
        4,
        defaults(),
    )
    assert isinstance(e, Event)
    bad = encode(e, codec)
    assert isinstance(bad, BadLine) and bad.line == 4 and "colour" in bad.reason
    good = parse_line(
        '{"type": "StockReceived", "sku": "A", "location_id": "B", "qty": 1}', 5, defaults()
    )
    value = encode(good, codec)
    assert codec.decode(value).record["qty"] == 1


@pytest.mark.parametrize(
    "value, expected",
    [
        (123, 123),
        ("now", NOW),
        ("+15m", NOW + 15 * 60_000),
        ("-2h", NOW - 2 * 3_600_000),
        ("+1d", NOW + 86_400_000),
        ("+30s", NOW + 30_000),
        ("2026-01-01T10:00:00Z", NOW),
        ("2026-01-01T11:00:00+01:00", NOW),
    ],
)
def test_times(value, expected):
    assert parse_timestamp(value, NOW) == expected


@pytest.mark.parametrize("value", ["2026-01-01T10:00:00", "soon", True, 1.5])
def test_ambiguous_or_wrong_times_are_refused(value):
    with pytest.raises(ValueError):
        parse_timestamp(value, NOW)


def test_a_relative_hold_expiry():
    e = parse_line(
        '{"type": "OrderPlaced", "order_id": "O", "channel_id": "c", "lines": [{"sku": "A", "qty": 1}],'
        ' "hold_expires_at": "+15m"}',
        1,
        defaults(),
    )
    assert e.record["hold_expires_at"] == NOW + 15 * 60_000


def test_timestamp_fields_are_exactly_the_input_records_timestamp_millis_fields():
    schemas = default_schema_set()
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "record":
                for f in node["fields"]:
                    t = f["type"]
                    branches = t if isinstance(t, list) else [t]
                    if any(
                        isinstance(b, dict) and b.get("logicalType") == "timestamp-millis"
                        for b in branches
                    ):
                        found.add(f["name"])
                    walk(t)
            for v in node.values():
                if isinstance(v, (dict, list)):
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for name in INPUT_RECORDS:
        walk(schemas.current(name).schema)
    assert found == TIMESTAMP_FIELDS
