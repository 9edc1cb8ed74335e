"""The single-object codec: round trips, every malformed frame, and encode-side validation."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from stocksignal.contract import (
    CodecError,
    Decoded,
    DecodeError,
    EncodeError,
    UnknownSchemaError,
    make_codec,
)
from stocksignal.contract.examples import example
from stocksignal.contract.single_object import SingleObjectCodec


@pytest.fixture(scope="module")
def codec() -> SingleObjectCodec:
    made = make_codec("")
    assert isinstance(made, SingleObjectCodec)
    return made


def test_every_record_round_trips(codec: SingleObjectCodec, record_name: str) -> None:
    record = example(record_name)
    frame = codec.encode(record_name, record)
    name, decoded = codec.decode(frame)
    assert (name, decoded) == (record_name, record)


def test_timestamps_are_plain_int_milliseconds(codec: SingleObjectCodec) -> None:
    decoded = codec.decode(codec.encode("OrderPlaced", example("OrderPlaced"))).record
    assert type(decoded["occurred_at"]) is int
    assert type(decoded["hold_expires_at"]) is int
    assert decoded["hold_expires_at"] == example("OrderPlaced")["hold_expires_at"]


def test_optional_fields_may_be_omitted_and_decode_as_defaults(codec: SingleObjectCodec) -> None:
    sparse = {"event_id": "e", "occurred_at": 1, "order_id": "o", "channel_id": "web",
              "lines": [{"sku": "a", "qty": 1}]}  # fmt: skip
    decoded = codec.decode(codec.encode("OrderPlaced", sparse))
    assert decoded == Decoded(
        "OrderPlaced", {**sparse, "source": None, "hold_expires_at": None, "fulfilment": "PER_LINE"}
    )
    picks = {"event_id": "e", "occurred_at": 1, "order_id": "o", "location_id": "l",
             "lines": [{"sku": "a", "qty_picked": 1}]}  # fmt: skip
    assert codec.decode(codec.encode("PickConfirmed", picks)).record["lines"][0]["qty_short"] == 0


def test_full_record_names_are_accepted_on_encode(codec: SingleObjectCodec) -> None:
    frame = codec.encode("stocksignal.v1.ChannelRemoved", example("ChannelRemoved"))
    assert codec.decode(frame).record_name == "ChannelRemoved"


# --- malformed frames ------------------------------------------------------------------------


def _decode_error(codec: SingleObjectCodec, data: bytes | None) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        codec.decode(data)  # type: ignore[arg-type]
    assert info.value.dlq_reason == "DECODE_ERROR"
    return info.value


def test_null_value(codec: SingleObjectCodec) -> None:
    assert "null or tombstone" in str(_decode_error(codec, None))


def test_empty_frame(codec: SingleObjectCodec) -> None:
    assert str(_decode_error(codec, b"")) == (
        "frame is empty (0 bytes), a single-object frame needs at least 10"
    )


def test_short_frame(codec: SingleObjectCodec) -> None:
    assert str(_decode_error(codec, b"\xc3\x01\x00\x00\x00")) == (
        "frame is 5 bytes, a single-object frame needs at least 10"
    )


def test_bad_magic(codec: SingleObjectCodec) -> None:
    frame = codec.encode("OrderConfirmed", example("OrderConfirmed"))
    message = str(_decode_error(codec, b"\xc3\x02" + frame[2:]))
    assert message == "bad magic 0xc302: a single-object frame starts with 0xc301"


def test_registry_frame_without_a_registry_says_so(codec: SingleObjectCodec) -> None:
    message = str(_decode_error(codec, b"\x00\x00\x00\x00\x07" + b"\x02x" * 4))
    assert "looks like Schema Registry framing" in message


def test_every_truncation_of_a_frame_is_a_decode_error(codec: SingleObjectCodec) -> None:
    frame = codec.encode("OrderPlaced", example("OrderPlaced"))
    for cut in range(10, len(frame)):
        message = str(_decode_error(codec, frame[:cut]))
        assert "OrderPlaced body does not decode" in message, (cut, message)
    assert "truncated" in str(_decode_error(codec, frame[:-3]))


def test_trailing_bytes(codec: SingleObjectCodec) -> None:
    frame = codec.encode("OrderConfirmed", example("OrderConfirmed"))
    message = str(_decode_error(codec, frame + b"\x00\x01"))
    size = len(frame) + 2
    assert f"2 trailing byte(s) after the OrderConfirmed record (frame is {size} bytes" in message


def test_invalid_utf8_in_a_string(codec: SingleObjectCodec) -> None:
    frame = codec.encode("ChannelRemoved", {**example("ChannelRemoved"), "event_id": "ab"})
    broken = frame[:11] + b"\xff\xfe" + frame[13:]  # the two bytes of "ab"
    assert "not valid UTF-8" in str(_decode_error(codec, broken))


def test_enum_index_out_of_range(codec: SingleObjectCodec) -> None:
    frame = codec.encode("StockStatusChanged", example("StockStatusChanged"))
    # from_status, to_status are the last two fields: zigzag varints 0 (SELLABLE), 2 (QUALITY_HOLD)
    assert frame[-2:] == b"\x00\x04"
    message = str(_decode_error(codec, frame[:-2] + b"\x7e\x04"))  # index 63
    assert message.endswith(
        "body does not decode: garbage (an enum or union index out of range, or a malformed varint)"
    )


def test_random_garbage_only_ever_raises_codec_errors(codec: SingleObjectCodec) -> None:
    rng = random.Random(20260101)
    header = codec.encode("OrderPlaced", example("OrderPlaced"))[:10]
    for _ in range(3000):
        body = rng.randbytes(rng.randint(0, 60))
        try:
            codec.decode(header + body)
        except CodecError as exc:
            assert exc.dlq_reason == "DECODE_ERROR"
        for data in (body, b"\xc3\x01" + body):
            try:
                codec.decode(data)
            except CodecError:
                pass


def test_unknown_fingerprint(codec: SingleObjectCodec) -> None:
    frame = b"\xc3\x01" + bytes.fromhex("1234567890abcdef") + b"\x02x"
    with pytest.raises(UnknownSchemaError) as info:
        codec.decode(frame)
    assert info.value.dlq_reason == "UNKNOWN_SCHEMA"
    assert str(info.value).startswith("fingerprint 0x1234567890abcdef matches no known schema")


# --- encoding invalid records ----------------------------------------------------------------


@pytest.mark.parametrize(
    "record_name, change, message",
    [
        ("OrderConfirmed", {"order_id": ...}, "OrderConfirmed.order_id: missing (the field has no default)"),
        ("StockAdjusted", {"qty_delta": "3"}, "StockAdjusted.qty_delta: expected int, got str '3'"),
        ("StockAdjusted", {"qty_delta": 1.5}, "StockAdjusted.qty_delta: expected int, got float 1.5"),
        ("StockAdjusted", {"qty_delta": True}, "StockAdjusted.qty_delta: expected int, got bool True"),
        ("StockAdjusted", {"qty_delta": 2**31}, "StockAdjusted.qty_delta: 2147483648 does not fit an Avro int"),
        ("StockAdjusted", {"reason": None}, "StockAdjusted.reason: expected string, got NoneType None"),
        ("StockAdjusted", {"sku_id": "x"}, "StockAdjusted: unknown field(s) sku_id (not in stocksignal.v1.StockAdjusted)"),
        ("StockStatusChanged", {"to_status": "LOST"}, "StockStatusChanged.to_status: str 'LOST' is not one of SELLABLE"),
        ("OrderPlaced", {"lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": "2"}]}, "OrderPlaced.lines[1].qty: expected int, got str '2'"),
        ("OrderPlaced", {"lines": [{"sku": "a"}]}, "OrderPlaced.lines[0].qty: missing"),
        ("OrderPlaced", {"lines": None}, "OrderPlaced.lines: expected an array, got NoneType None"),
        ("OrderPlaced", {"hold_expires_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
         "OrderPlaced.hold_expires_at: expected long (timestamps are int epoch milliseconds), got datetime"),
        ("OrderCancelled", {"lines": [{"sku": "a", "qty": 1, "note": "x"}]}, "OrderCancelled.lines[0]: unknown field(s) note"),
        ("ChannelConfigured", {"location_ids": ["a", 7]}, "ChannelConfigured.location_ids[1]: expected string, got int 7"),
        ("AvailabilityChanged", {"version": -(2**63) - 1}, "AvailabilityChanged.version: -9223372036854775809 does not fit an Avro long"),
    ],
)  # fmt: skip
def test_invalid_records_are_refused_naming_the_field(
    codec: SingleObjectCodec, record_name: str, change: dict, message: str
) -> None:
    record = example(record_name)
    for key, value in change.items():
        if value is ...:
            del record[key]
        else:
            record[key] = value
    with pytest.raises(EncodeError) as info:
        codec.encode(record_name, record)
    assert str(info.value).startswith(message)


def test_unknown_record_name_is_refused(codec: SingleObjectCodec) -> None:
    with pytest.raises(EncodeError, match="unknown record 'OrderShipped'; known records: "):
        codec.encode("OrderShipped", {})


def test_nested_records_are_not_top_level_records(codec: SingleObjectCodec) -> None:
    with pytest.raises(EncodeError, match="unknown record 'OrderLine'"):
        codec.encode("OrderLine", {"sku": "a", "qty": 1})


def test_a_string_that_is_not_encodable_as_utf8_is_refused(codec: SingleObjectCodec) -> None:
    with pytest.raises(EncodeError, match="ChannelRemoved"):
        codec.encode("ChannelRemoved", {**example("ChannelRemoved"), "channel_id": "bad\ud800"})


def test_str_subclasses_such_as_str_enums_encode(codec: SingleObjectCodec) -> None:
    from enum import StrEnum

    class Status(StrEnum):
        SELLABLE = "SELLABLE"
        DAMAGED = "DAMAGED"

    record = example("StockStatusChanged")
    record.update(from_status=Status.SELLABLE, to_status=Status.DAMAGED)
    decoded = codec.decode(codec.encode("StockStatusChanged", record)).record
    assert (decoded["from_status"], decoded["to_status"]) == ("SELLABLE", "DAMAGED")
