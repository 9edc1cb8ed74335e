"""The typed constructors are the contract's input records: same fields, order, defaults."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from stocksignal.client import (
    EVENTS,
    INPUT_RECORDS,
    InvalidEvent,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    PickLine,
)
from stocksignal.client.events import COMMON_FIELDS, TIMESTAMP_FIELDS, InspectionLine, epoch_ms
from stocksignal.contract import topics as catalogue
from stocksignal.contract.schemas import default_schema_set

NO_DEFAULT = object()


def _schema_fields(record_name: str) -> list[tuple[str, object]]:
    schema = default_schema_set().current(record_name).schema
    return [(f["name"], f.get("default", NO_DEFAULT)) for f in schema["fields"]]


def _class_fields(cls) -> list[tuple[str, object]]:
    out = []
    for f in dataclasses.fields(cls):
        default = NO_DEFAULT if f.default is dataclasses.MISSING else f.default
        out.append((f.name, default))
    return out


def test_there_is_one_constructor_for_every_input_record_of_the_catalogue():
    inputs = {r for t in catalogue.list_topics(catalogue.Role.INPUT) for r in t.records}
    assert set(EVENTS) == inputs == set(INPUT_RECORDS)


@pytest.mark.parametrize("record_name", sorted(EVENTS))
def test_fields_order_and_defaults_match_the_schema(record_name):
    schema = _schema_fields(record_name)
    fields = _class_fields(EVENTS[record_name])
    # The common fields come first in the schema and are optional here: the producer fills them.
    assert [n for n, _ in schema[:3]] == list(COMMON_FIELDS)
    assert [n for n, _ in fields[:3]] == list(COMMON_FIELDS)
    assert fields[3:] == schema[3:]


@pytest.mark.parametrize(
    "cls, record",
    [(OrderLine, "OrderLine"), (PickLine, "PickLine"), (InspectionLine, "InspectionLine")],
)
def test_line_types_match_their_schemas(cls, record):
    named = {n["name"]: n for n in _named()}
    schema = [(f["name"], f.get("default", NO_DEFAULT)) for f in named[record]["fields"]]
    assert _class_fields(cls) == schema


def _named():
    import json

    from stocksignal.contract.schemas import schema_dir

    return [json.loads(p.read_text()) for p in schema_dir().glob("*.avsc")]


def test_timestamp_fields_are_the_schemas_timestamp_millis_fields():
    found = set()
    for name in EVENTS:
        for f in default_schema_set().current(name).schema["fields"]:
            types = f["type"] if isinstance(f["type"], list) else [f["type"]]
            if any(
                isinstance(t, dict) and t.get("logicalType") == "timestamp-millis" for t in types
            ):
                found.add(f["name"])
    assert found == TIMESTAMP_FIELDS


def test_constructors_are_keyword_only_and_to_record_gives_plain_values():
    with pytest.raises(TypeError):
        OrderPlaced("W-1", "web", [])  # type: ignore[misc]
    record = OrderCancelled(
        order_id="W-1", lines=(OrderLine(sku="A", qty=1), {"sku": "B", "qty": 2}), event_id="e"
    ).to_record()
    assert record == {
        "event_id": "e",
        "order_id": "W-1",
        "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}],
        "reason": None,
    }


def test_aware_datetimes_become_epoch_ms_and_naive_ones_are_refused():
    at = datetime(2026, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    assert epoch_ms("hold_expires_at", at) == 1767258000000
    with pytest.raises(InvalidEvent, match="hold_expires_at: a datetime without a time zone"):
        epoch_ms("hold_expires_at", datetime(2026, 1, 1, 10, 0))
