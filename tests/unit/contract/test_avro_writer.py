"""The compiled Avro writer (stocksignal.contract.avro_writer) writes exactly fastavro's bytes,
for every record of the contract, on generated records and on the golden samples."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fastavro import schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stocksignal.contract import default_schema_set
from stocksignal.contract.avro_writer import compile_writer, write_long

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
SCHEMAS = default_schema_set()
NAMES = sorted(SCHEMAS.record_names)


def fastavro_bytes(parsed, record) -> bytes:
    buf = io.BytesIO()
    schemaless_writer(buf, parsed, record)
    return buf.getvalue()


def values(schema, named):
    """A strategy of valid values for an Avro schema (as the contract uses them)."""
    if isinstance(schema, str):
        if schema in named:
            return values(named[schema], named)
        return {
            "string": st.text(max_size=60),
            "int": st.integers(-(1 << 31), (1 << 31) - 1),
            "long": st.integers(-(1 << 63), (1 << 63) - 1),
            "boolean": st.booleans(),
            "null": st.none(),
            "bytes": st.binary(max_size=30),
            "double": st.floats(allow_nan=False),
        }[schema]
    if isinstance(schema, list):
        return st.one_of(*[values(s, named) for s in schema])
    kind = schema["type"]
    if kind == "record":
        return st.fixed_dictionaries(
            {f["name"]: values(f["type"], named) for f in schema["fields"]}
        )
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(values(schema["items"], named), max_size=4)
    if kind == "map":
        return st.dictionaries(st.text(max_size=10), values(schema["values"], named), max_size=3)
    return values(kind, named)  # a logical type over a primitive


@pytest.mark.parametrize("name", NAMES)
def test_every_contract_record_is_compiled(name):
    assert compile_writer(SCHEMAS.current(name).parsed) is not None


@pytest.mark.parametrize("name", NAMES)
def test_compiled_bytes_equal_fastavros_on_generated_records(name):
    parsed = SCHEMAS.current(name).parsed
    write = compile_writer(parsed)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(values(parsed, parsed.get("__named_schemas", {})))
    def check(record):
        assert write(record) == fastavro_bytes(parsed, record)

    check()


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_compiled_bytes_equal_the_golden_samples(path):
    name = path.name.split(".")[0]
    record = json.loads(path.read_text())
    parsed = SCHEMAS.current(name).parsed
    assert compile_writer(parsed)(record) == fastavro_bytes(parsed, record)


def test_long_edges():
    for n in (0, -1, 1, 63, -64, 64, 65535, 65536, -1025, (1 << 63) - 1, -(1 << 63)):
        assert write_long(n) == fastavro_bytes("long", n), n
    with pytest.raises(OverflowError):
        write_long(1 << 63)


def test_a_record_it_cannot_write_raises_so_the_codec_falls_back():
    parsed = SCHEMAS.current("StockMoved").parsed
    with pytest.raises((KeyError, TypeError, AttributeError)):
        compile_writer(parsed)({"sku": "x"})
