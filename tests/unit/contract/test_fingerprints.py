"""Fingerprints are the Avro spec's CRC-64-AVRO of the parsing canonical form, computed here
independently of fastavro and checked against the Avro project's own test vectors."""

from __future__ import annotations

import pytest

from stocksignal.contract.schemas import SchemaSet
from stocksignal.contract.single_object import SingleObjectCodec

EMPTY = 0xC15D213AA4D7A795  # the Avro spec's CRC-64-AVRO seed


def _table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY if fp & 1 else 0)
        table.append(fp)
    return table


TABLE = _table()


def crc64_avro(text: str) -> int:
    """Avro's ``fingerprint64`` (CRC-64-AVRO), as an unsigned 64-bit int."""
    fp = EMPTY
    for byte in text.encode("utf-8"):
        fp = (fp >> 8) ^ TABLE[(fp ^ byte) & 0xFF]
    return fp


def as_frame_bytes(java_long: int) -> bytes:
    """Single-object frames carry the fingerprint little-endian."""
    return (java_long & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")


# From apache/avro share/test/data/schema-tests.txt: canonical form -> Java's signed fingerprint.
AVRO_VECTORS = [
    ('"null"', 7195948357588979594),
    ('"int"', 8247732601305521295),
    ('"string"', -8142146995180207161),
    ('{"name":"foo","type":"record","fields":[]}', -4824392279771201922),
    ('{"name":"x.y.foo","type":"record","fields":[]}', 5916914534497305771),
    (
        '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}',
        7843277075252814651,
    ),
    ('{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}', -4448647247586288245),
    ('{"type":"array","items":"null"}', -589620603366471059),
]


@pytest.mark.parametrize("canonical, java_fingerprint", AVRO_VECTORS)
def test_own_crc64_matches_the_avro_projects_vectors(canonical: str, java_fingerprint: int) -> None:
    assert crc64_avro(canonical) == java_fingerprint & 0xFFFFFFFFFFFFFFFF


# Written out by hand from the Avro rules: named types inline at first use, full names, no docs,
# defaults or logical types.
ORDER_PLACED_CANONICAL = (
    '{"name":"stocksignal.v1.OrderPlaced","type":"record","fields":['
    '{"name":"event_id","type":"string"},'
    '{"name":"occurred_at","type":"long"},'
    '{"name":"source","type":["null","string"]},'
    '{"name":"order_id","type":"string"},'
    '{"name":"channel_id","type":"string"},'
    '{"name":"lines","type":{"type":"array","items":{"name":"stocksignal.v1.OrderLine",'
    '"type":"record","fields":[{"name":"sku","type":"string"},{"name":"qty","type":"int"}]}}},'
    '{"name":"hold_expires_at","type":["null","long"]},'
    # v1.1 (contract 11.3): a new enum, defined inline at its first use
    '{"name":"fulfilment","type":{"name":"stocksignal.v1.Fulfilment","type":"enum",'
    '"symbols":["PER_LINE","ALL_OR_NOTHING"]}}]}'
)
STOCK_STATUS_CHANGED_CANONICAL = (
    '{"name":"stocksignal.v1.StockStatusChanged","type":"record","fields":['
    '{"name":"event_id","type":"string"},'
    '{"name":"occurred_at","type":"long"},'
    '{"name":"source","type":["null","string"]},'
    '{"name":"location_id","type":"string"},'
    '{"name":"sku","type":"string"},'
    '{"name":"qty","type":"int"},'
    '{"name":"from_status","type":{"name":"stocksignal.v1.StockStatus","type":"enum",'
    '"symbols":["SELLABLE","DAMAGED","QUALITY_HOLD","WRITTEN_OFF"]}},'
    # the second use of a named type is a reference
    '{"name":"to_status","type":"stocksignal.v1.StockStatus"}]}'
)


@pytest.mark.parametrize(
    "name, canonical",
    [
        ("OrderPlaced", ORDER_PLACED_CANONICAL),
        ("StockStatusChanged", STOCK_STATUS_CHANGED_CANONICAL),
    ],
)
def test_known_answer_canonical_form_and_fingerprint(
    schemas: SchemaSet, name: str, canonical: str
) -> None:
    ws = schemas.current(name)
    assert ws.canonical_form == canonical
    expected = crc64_avro(canonical).to_bytes(8, "little")
    assert ws.fingerprint == expected
    frame = SingleObjectCodec(schemas).encode(name, _minimal(name))
    assert frame[:10] == b"\xc3\x01" + expected


def _minimal(name: str) -> dict:
    common = {"event_id": "e1", "occurred_at": 0}
    if name == "OrderPlaced":
        return {**common, "order_id": "o", "channel_id": "c", "lines": [{"sku": "s", "qty": 1}]}
    return {**common, "location_id": "l", "sku": "s", "qty": 1,
            "from_status": "SELLABLE", "to_status": "DAMAGED"}  # fmt: skip


def test_fingerprints_are_distinct_per_record(schemas: SchemaSet) -> None:
    fingerprints = {schemas.current(n).fingerprint for n in schemas.record_names}
    assert len(fingerprints) == len(schemas.record_names) == 23


def test_docs_and_defaults_do_not_change_the_fingerprint(schemas: SchemaSet) -> None:
    from stocksignal.contract.schemas import writer_schema

    ws = schemas.current("OrderCancelled")
    bare = {**ws.schema, "doc": "something else entirely"}
    bare["fields"] = [
        {k: v for k, v in f.items() if k not in ("doc", "default")} for f in ws.schema["fields"]
    ]
    assert writer_schema(bare).fingerprint == ws.fingerprint
